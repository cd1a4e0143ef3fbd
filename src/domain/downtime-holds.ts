import { bucketsOf, type ResourceAmounts } from './capacity-calendar.js';
import { siteCapacity } from './plan-offers.js';
import type { CatalogueSite } from './site-catalogue.js';
import type { SiteProfile } from './site-profile.js';

/** A declared downtime as a hold of all of a site's capacity over its buckets. */
export interface DowntimeHold { id: string; from: number; to: number; amounts: ResourceAmounts }

/** Past the reach of any offer made now, a downtime need not be held yet (beyond provisions' slack: a day). */
const MARGIN_MS = 24 * 3600_000;

/** A colon-free id (BullMQ and hold keys), the same for the same declaration whenever it is read. */
function holdId(site: string, of: string, start: number, end: number): string {
  let hash = 2166136261;
  for (const char of `${of}|${start}|${end}`) hash = Math.imul(hash ^ char.charCodeAt(0), 16777619) >>> 0;
  return `downtime-${site}-${start}-${end}-${hash.toString(36)}`;
}

/**
 * The holds that keep offers out of a site's declared downtimes (its SCAPI site's, compute's and
 * queue's): the whole capacity of every resource, over every bucket the downtime touches, from now
 * (a past part needs no hold) to as far as an offer made now could reach (the booking horizon,
 * the longest session and its releasing, and a day's margin); a refresh moves that end on. Pure:
 * the same catalogue, profile and instant always give the same holds.
 */
export function downtimeHolds(entry: CatalogueSite | undefined, site: SiteProfile, now: number): DowntimeHold[] {
  if (!entry) return [];
  const reach = now + site.horizonMs + site.maxDurationMs + site.releasingMs + MARGIN_MS;
  const amounts = Object.fromEntries(Object.entries(siteCapacity(site)).filter(([, amount]) => amount > 0));
  return entry.downtimes
    .filter((downtime) => downtime.end > now && downtime.start < reach)
    .map((downtime) => {
      const { from, to } = bucketsOf(Math.max(downtime.start, now), Math.min(downtime.end, reach));
      return { id: holdId(site.name, downtime.of, downtime.start, downtime.end), from, to, amounts };
    });
}
