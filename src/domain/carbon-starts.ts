import { BUCKET_MS } from './capacity-calendar.js';
import { breakpoints, varies } from './carbon-intensity.js';
import { offerFromHold, type OfferAsk } from './plan-offers.js';
import { COST_TYPES, quoteOffer, quoted } from './quote-offer.js';
import type { SiteEconomics } from './site-economics.js';

/** The most the offer held at this start bucket can emit, gCO2. */
export const carbonAt = (ask: OfferAsk, bucket: number, economics: SiteEconomics): number =>
  quoted(quoteOffer(offerFromHold(ask, bucket), economics), COST_TYPES.carbon);

/**
 * The start buckets where the carbon of a start may change slope: the window's ends, and the
 * buckets around each instant where the held span's start or end crosses a change of intensity.
 * Between two neighbours the carbon is linear in the start, so these decide both the lowest start
 * and where a limit holds.
 */
function points(ask: OfferAsk, economics: SiteEconomics): number[] {
  const first = offerFromHold(ask, ask.earliest);
  const longest = first.releasingStart + first.releasingMs - first.preparingStart;
  const from = first.preparingStart;
  const to = Math.max(ask.latest * BUCKET_MS, from) + longest + BUCKET_MS;
  const set = new Set<number>([ask.earliest, ask.latest]);
  for (const t of breakpoints(economics.carbon, from - BUCKET_MS, to)) {
    for (const at of [t, t - longest]) {
      const b = Math.floor(at / BUCKET_MS);
      for (const c of [b, b + 1]) if (c > ask.earliest && c < ask.latest) set.add(c);
    }
  }
  return [...set].sort((a, b) => a - b);
}

/**
 * The stretches of the ask's start window (bucket ranges, earliest first) where the offer's carbon
 * stays within `limit` grams. A constant intensity gives the whole window or nothing.
 */
export function carbonWindows(ask: OfferAsk, economics: SiteEconomics, limit: number): Array<[number, number]> {
  if (!varies(economics.carbon)) return carbonAt(ask, ask.earliest, economics) <= limit ? [[ask.earliest, ask.latest]] : [];
  const at = points(ask, economics).map((bucket) => ({ bucket, grams: carbonAt(ask, bucket, economics) }));
  const out: Array<[number, number]> = [];
  const add = (from: number, to: number): void => joinOrAppend(out, from, to);
  at.forEach((p, index) => {
    if (p.grams <= limit) add(p.bucket, p.bucket);
    const q = at[index + 1];
    if (!q || q.bucket - p.bucket < 2) return;
    // Linear between the two: the part of (p, q) within the limit.
    const slope = (q.grams - p.grams) / (q.bucket - p.bucket);
    if (p.grams <= limit && q.grams <= limit) add(p.bucket + 1, q.bucket - 1);
    else if (p.grams <= limit) add(p.bucket + 1, p.bucket + Math.floor((limit - p.grams) / slope));
    else if (q.grams <= limit) add(q.bucket - Math.floor((limit - q.grams) / -slope), q.bucket - 1);
  });
  // Each stretch's ends checked as they are. The line runs through the quotes at the points, which
  // are rounded (6 decimals), so an end it gives may be a bucket or a few off the quote's own, either
  // way (seed -1730716002: two buckets at the limit, the line put one of them over): move each end
  // in while it is over, then out while the next bucket is within. (Between two points the carbon
  // is linear to about a millionth of a gram, not exactly: a bucket inside a stretch may be that
  // much over the limit, or one outside that much under it.)
  // Once moved in, a stretch is gone (its one bucket left is over) or both its ends are within.
  const over = (bucket: number): boolean => carbonAt(ask, bucket, economics) > limit;
  const fitted = out.flatMap(([from, to]): Array<[number, number]> => {
    let end = to;
    while (end > from && over(end)) end -= 1;
    let start = from;
    while (start < end && over(start)) start += 1;
    if (over(start)) return [];
    while (start > ask.earliest && !over(start - 1)) start -= 1;
    while (end < ask.latest && !over(end + 1)) end += 1;
    return [[start, end]];
  });
  // Moved out, two stretches may now meet.
  const joined: Array<[number, number]> = [];
  for (const [from, to] of fitted) joinOrAppend(joined, from, to);
  return joined;
}

/** Adds [from, to] (none when from > to) to stretches in order, joined to the last when they meet. */
function joinOrAppend(stretches: Array<[number, number]>, from: number, to: number): void {
  if (from > to) return;
  const last = stretches[stretches.length - 1];
  if (last && from <= last[1] + 1) last[1] = Math.max(last[1], to);
  else stretches.push([from, to]);
}

/**
 * The window's lowest-carbon starts (buckets), lowest first, each lower than starting at once and
 * at least an hour from the others; none when the intensity does not vary or the window has no room.
 */
export function greenestStarts(whole: OfferAsk, economics: SiteEconomics, count = 3): number[] {
  if (!varies(economics.carbon) || whole.latest <= whole.earliest) return [];
  // Past the forecast's end the intensity repeats every day (the hourly profile, or the constant),
  // and so does the carbon of a start: a day of starts from there holds the lowest of all later.
  const forecast = economics.carbon.forecast ?? [];
  const forecastEnd = forecast.length ? Math.ceil((forecast[forecast.length - 1]!.start + 3_600_000) / BUCKET_MS) : 0;
  const ask = { ...whole, latest: Math.min(whole.latest, Math.max(whole.earliest, forecastEnd) + 1440) };
  const atOnce = carbonAt(ask, ask.earliest, economics);
  const weighed = points(ask, economics).map((bucket) => ({ bucket, grams: carbonAt(ask, bucket, economics) }))
    .filter((s) => s.grams < atOnce * 0.99)
    .sort((a, b) => a.grams - b.grams || a.bucket - b.bucket);
  const chosen: number[] = [];
  const apart = 3_600_000 / BUCKET_MS;
  for (const s of weighed) {
    if (chosen.every((b) => Math.abs(b - s.bucket) >= apart)) chosen.push(s.bucket);
    if (chosen.length === count) break;
  }
  return chosen;
}
