import { rankBy, ranksByStartFirst, type RankedOffer } from '../domain/rank-offers.js';
import type { NegotiationRequest } from './ports.js';

/** An admitted hold's end: the offer it made, or nothing (no room, a cap, an error). */
export type SettleHold = (made: RankedOffer | undefined) => void;

/**
 * The holds of one offer set within one negotiation job, let through in the order of the offers
 * they could make at best, so that none is made that the offer set would drop anyway.
 *
 * The API keeps the `keep` best offers of all its sites (request-offers.ts) and releases the rest.
 * A worker that answers several of the sites in one job (queue/negotiation-worker.ts) sees their
 * holds before they are made: a candidate whose best possible offer (held at its earliest start;
 * see domain/rank-offers.ts ranksByStartFirst) is outranked by `keep` offers this job has already
 * made can never be kept, and is not held (a hold and its release are most of what an offer costs
 * Redis). Candidates asked together are taken best first; one waits while holds in flight
 * might outrank it, and goes ahead as soon as they cannot.
 *
 * Offers from other jobs (sites on other workers) only push a candidate further down, so skipping
 * on this job's offers alone never skips an offer the API would keep.
 */
export class OutrankedHolds {
  private readonly made: RankedOffer[] = [];
  private inFlight = 0;
  private pending: Array<{ best: RankedOffer; decide: (settle: SettleHold | undefined) => void }> = [];
  private scheduled = false;

  constructor(private readonly keep: number, private readonly order: (a: RankedOffer, b: RankedOffer) => number) {}

  /**
   * Whether to hold a candidate that can make at best `best`: a settle function to call once the
   * hold is made or not (exactly once), or undefined when the candidate is outranked.
   */
  admit(best: RankedOffer): Promise<SettleHold | undefined> {
    return new Promise((decide) => {
      this.pending.push({ best, decide });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Once the code running now is done: a job starts all its sites' evaluations in one go, so
    // their first candidates are all here by then and are weighed together. (Not a later turn of
    // the event loop: a busy process would make every hold wait behind its other work. A candidate
    // asked a little later is only weighed later; what is skipped is still never needed.)
    queueMicrotask(() => {
      this.scheduled = false;
      this.decide();
    });
  }

  private decide(): void {
    this.pending.sort((a, b) => this.order(a.best, b.best));
    const waiting: typeof this.pending = [];
    for (const candidate of this.pending) {
      const better = this.made.filter((offer) => this.order(offer, candidate.best) < 0).length;
      if (better >= this.keep) candidate.decide(undefined);
      else if (better + this.inFlight < this.keep) candidate.decide(this.admitted());
      else waiting.push(candidate);
    }
    this.pending = waiting;
  }

  private admitted(): SettleHold {
    this.inFlight += 1;
    let settled = false;
    return (made) => {
      if (settled) return;
      settled = true;
      this.inFlight -= 1;
      if (made) this.made.push(made);
      if (this.pending.length) this.schedule();
    };
  }
}

/**
 * One OutrankedHolds per offer set of a job whose order allows it (the sites of one request a
 * worker serves share it): none for an API that did not say how many offers it keeps.
 */
export function outrankedHoldsByOfferSet(requests: readonly NegotiationRequest[]): Map<string, OutrankedHolds> {
  const byOfferSet = new Map<string, OutrankedHolds>();
  for (const request of requests) {
    if (request.keep === undefined || byOfferSet.has(request.offerSetUuid) || !ranksByStartFirst(request.needs.rank)) continue;
    byOfferSet.set(request.offerSetUuid, new OutrankedHolds(Math.max(1, request.keep), rankBy(request.needs.rank)));
  }
  return byOfferSet;
}
