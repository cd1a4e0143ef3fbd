import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { ApiClient, Doc } from '../lib/api-client.js';
import type { EventFeed } from '../lib/event-feed.js';
import { clockTime } from '../lib/format.js';
import { HOLDING_PHASES, styleOf } from '../lib/phases.js';
import { siteBars, type SiteBars } from '../lib/site-bars.js';
import { axisTicks, timeScale } from '../lib/timeline-layout.js';
import { markOnce, useDebounced, useNow, useWidth } from './hooks.js';
import { Problem } from './problem.js';
import { SiteTimeline } from './site-timeline.js';

const HOUR = 3600_000;
const SPANS = [{ label: '3 hours', ms: 3 * HOUR }, { label: '6 hours', ms: 6 * HOUR }, { label: '12 hours', ms: 12 * HOUR }, { label: '24 hours', ms: 24 * HOUR }, { label: '3 days', ms: 72 * HOUR }];

/** The window shown: a tenth of the span before now, the rest after; it moves with the minute. */
function windowOf(now: number, span: number): { from: number; to: number } {
  const from = Math.floor((now - span / 10) / 60_000) * 60_000;
  return { from, to: from + span };
}

/**
 * Every site's timeline over the next hours, kept live: a notice of a change on a site reads that
 * site's timeline again (a burst of notices, once), a (re)connection or `resync` reads them all,
 * and the window moves on every minute (which also reads them all: the page stays right without
 * the event stream).
 */
export function TimelinePanel({ api, feed, sites, offers }: { api: ApiClient; feed: EventFeed; sites: Doc[]; offers: Doc[] }) {
  const [span, setSpan] = useState(6 * HOUR);
  const now = useNow(30_000);
  const { from, to } = windowOf(now, span);
  const [data, setData] = useState<Record<string, SiteBars>>({});
  const [error, setError] = useState<unknown>(undefined);
  const [ref, width] = useWidth<HTMLDivElement>(900);
  const names = useMemo(() => sites.map((site) => site.name as string), [sites]);
  const asked = useRef(new Map<string, number>());
  const pending = useRef(new Set<string>());
  const windowRef = useRef({ from, to });
  windowRef.current = { from, to };

  const load = (which: readonly string[]): void => {
    const { from: start, to: end } = windowRef.current;
    for (const name of which) {
      const ticket = (asked.current.get(name) ?? 0) + 1;
      asked.current.set(name, ticket);
      api.timeline(name, start, end).then((timeline) => {
        if (asked.current.get(name) !== ticket) return; // a later read is on its way
        setError(undefined);
        setData((previous) => ({ ...previous, [name]: siteBars(timeline) }));
      }, setError);
    }
  };
  const flush = useDebounced(() => {
    const which = [...pending.current];
    pending.current.clear();
    load(which);
  }, 150);

  useEffect(() => { load(names); }, [names, from, to, api]);
  useEffect(() => feed.on((event) => {
    if (event.type === 'resync') { load(names); return; }
    if (names.includes(event.notice.site)) { pending.current.add(event.notice.site); flush(); }
  }), [feed, names]);

  const ready = names.every((name) => data[name]);
  useEffect(() => { if (ready) markOnce('eb:timeline-ready'); }, [ready]);
  const offerNumbers = useMemo(() => new Map(offers.map((offer, index) => [offer.meta.uuid as string, index + 1])), [offers]);
  const ticks = axisTicks(from, to, Math.max(2, Math.floor(width / 90)));
  const x = timeScale(from, to, width);

  return (
    <section class="panel timelines" aria-labelledby="timelines-title" data-ready={ready ? 'true' : 'false'}>
      <div class="panel-head">
        <h2 id="timelines-title">Sites</h2>
        <div class="spans" role="group" aria-label="Time span shown">
          {SPANS.map((choice) => (
            <button type="button" key={choice.ms} aria-pressed={span === choice.ms} onClick={() => setSpan(choice.ms)}>{choice.label}</button>
          ))}
        </div>
      </div>
      <ul class="legend" aria-label="Phases">
        {HOLDING_PHASES.map((phase) => <li key={phase}><span class="swatch" style={{ background: styleOf(phase).fill }} aria-hidden="true" />{phase}</li>)}
        <li><span class="swatch ghost" aria-hidden="true" />your current offers (outlined)</li>
        <li>darker: the run; lighter: preparing and releasing; grey band: cores held</li>
      </ul>
      <Problem error={error} what="The timelines could not be read" />
      <div class="timeline-width" ref={ref}>
        <svg class="axis" width={width} height={20} aria-hidden="true">
          {ticks.map((tick) => (
            <g key={tick}>
              <line x1={x(tick)} x2={x(tick)} y1={14} y2={20} />
              <text x={x(tick) + 2} y={11}>{clockTime(tick)}</text>
            </g>
          ))}
        </svg>
        {sites.map((site) => {
          const bars = data[site.name as string];
          return (
            <div class="site" key={site.name}>
              <h3>
                {site.name}{' '}
                <small>
                  {site.cores} cores · {site.memoryGiB} GiB{Object.entries(site.gpus as Record<string, number>).map(([model, count]) => ` · ${count} ${model}`).join('')}
                  {site.online ? '' : ' · no worker running'}
                  {bars ? ` · ${bars.bars.length} reservations${bars.truncated ? ' (more than shown)' : ''}` : ''}
                </small>
              </h3>
              {bars ? <SiteTimeline data={bars} from={from} to={to} width={width} now={now} offers={offerNumbers} /> : <p class="loading">Reading…</p>}
            </div>
          );
        })}
      </div>
    </section>
  );
}
