import { useState } from 'preact/hooks';
import type { ApiClient, Doc } from '../lib/api-client.js';
import type { EventFeed } from '../lib/event-feed.js';
import { ComposePanel } from './compose-panel.js';
import { SessionList } from './session-list.js';
import { SiteCatalogue } from './site-catalogue.js';
import { TimelinePanel } from './timeline-panel.js';

/** The overview: the sites' timelines, the catalogue, the request form (its offers drawn on the timelines) and the viewer's sessions. */
export function Overview({ api, feed, sites }: { api: ApiClient; feed: EventFeed; sites: Doc[] }) {
  const [offers, setOffers] = useState<Doc[]>([]);
  return (
    <div class="overview">
      <TimelinePanel api={api} feed={feed} sites={sites} offers={offers} />
      <SiteCatalogue api={api} feed={feed} sites={sites} />
      <div class="columns">
        <ComposePanel api={api} sites={sites} offers={offers} onOffers={setOffers} />
        <SessionList api={api} feed={feed} sites={sites} />
      </div>
    </div>
  );
}
