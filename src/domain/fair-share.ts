import { BUCKET_MS } from './capacity-calendar.js';
import { makeMessage, type Message } from './messages.js';
import type { SiteProfile } from './site-profile.js';

/** What one user may hold on a site at once: core-buckets, GPU-buckets and offer sets with open offers. */
export interface ShareCaps { coreBuckets: number; gpuBuckets: number; offerSets: number }

/** Which cap a hold would pass, what the user holds already and the cap itself (in buckets or offer sets). */
export interface ShareExceeded { cap: 'cores' | 'gpus' | 'sets'; used: number; limit: number }

const HOUR_MS = 3_600_000;

/**
 * The fair share of one user on a site when the sites file says nothing: twice the largest session
 * the site takes (its most cores and GPUs for its longest run), and 16 offer sets with open offers.
 */
export function defaultFairShare(site: Pick<SiteProfile, 'maxCoresPerSession' | 'gpus' | 'maxDurationMs'>): NonNullable<SiteProfile['fairShare']> {
  const hours = Math.ceil(site.maxDurationMs / HOUR_MS);
  return { coreHours: 2 * site.maxCoresPerSession * hours, gpuHours: 2 * Math.max(0, ...Object.values(site.gpus)) * hours, offerSets: 16 };
}

/** A site's caps in the calendar's units, or undefined where it sets none. */
export function shareCaps(site: SiteProfile): ShareCaps | undefined {
  const share = site.fairShare;
  if (!share) return undefined;
  const perHour = HOUR_MS / BUCKET_MS;
  return { coreBuckets: share.coreHours * perHour, gpuBuckets: share.gpuHours * perHour, offerSets: share.offerSets };
}

/** The NO of a site whose fair share the user has used up, naming the cap. */
export function shareMessage(site: SiteProfile, exceeded: ShareExceeded, asked: { cores: number; gpus: number; buckets: number }): Message {
  const hours = (buckets: number): number => Math.round((buckets * BUCKET_MS / HOUR_MS) * 100) / 100;
  const at = { site: site.name };
  if (exceeded.cap === 'sets') {
    return makeMessage('urn:resource-limit', 'ERROR', 'Site {site}: you have offers open in {used} offer sets, the most one user may have there at once ({limit}); accept or reject some, or let them expire',
      { ...at, used: exceeded.used, limit: exceeded.limit });
  }
  const what = exceeded.cap === 'cores' ? 'core-hours' : 'GPU-hours';
  const need = exceeded.cap === 'cores' ? asked.cores * asked.buckets : asked.gpus * asked.buckets;
  return makeMessage('urn:resource-limit', 'ERROR', 'Site {site}: one user may hold at most {limit} {what} at once (offered or accepted sessions); you hold {used} and this asks {asked}',
    { ...at, what, limit: hours(exceeded.limit), used: hours(exceeded.used), asked: hours(need) });
}
