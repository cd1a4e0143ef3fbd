import type { Ranking } from './execution-needs.js';
import type { OfferPlan } from './plan-offers.js';
import { COST_TYPES, quoted, type Quote } from './quote-offer.js';

/** What the order of offers reads of an offer. */
export interface RankedOffer {
  site: string;
  plan: OfferPlan;
  /** The share of the request's data the site holds itself (0..1). */
  locality: number;
  quote?: Quote;
}

/**
 * The order of the offers: by default the earliest first; `cheapest` the lowest price first and
 * `greenest` the lowest carbon first (each the most the quote says it can come to), then earliest.
 */
export function rankBy(rank: Ranking | undefined): (a: RankedOffer, b: RankedOffer) => number {
  if (rank === 'cheapest') return (a, b) => quoted(a.quote, COST_TYPES.monetary) - quoted(b.quote, COST_TYPES.monetary) || byEarliestThenLargest(a, b);
  if (rank === 'greenest') return (a, b) => quoted(a.quote, COST_TYPES.carbon) - quoted(b.quote, COST_TYPES.carbon) || byEarliestThenLargest(a, b);
  return byEarliestThenLargest;
}

/**
 * Whether an offer's place in the order is bounded below by the one it would have at the earliest
 * start it could be held at: true of the default order, whose first key, the start, only grows
 * as a hold is found later and whose other keys do not depend on it (not of price or carbon,
 * which a later start can lower).
 */
export const ranksByStartFirst = (rank: Ranking | undefined): boolean => rank === undefined || rank === 'earliest';

/** Earliest usable start, then data locality, then the larger allocation, then the site's name. */
function byEarliestThenLargest(a: RankedOffer, b: RankedOffer): number {
  return a.plan.availableStart - b.plan.availableStart
    || b.locality - a.locality
    || b.plan.cores - a.plan.cores
    || b.plan.memoryGiB - a.plan.memoryGiB
    || a.site.localeCompare(b.site);
}
