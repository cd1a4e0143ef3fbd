import { dataLocality, largestFitting, offerFromHold, noRoomMessage, planAsks, type OfferAsk } from '../domain/plan-offers.js';
import { shareCaps, shareMessage } from '../domain/fair-share.js';
import { whyNotRunnable, type KindAbility } from '../domain/executable-abilities.js';
import { carbonAt, carbonWindows, greenestStarts } from '../domain/carbon-starts.js';
import { formatDuration } from '../domain/iso8601.js';
import { makeMessage, type Message } from '../domain/messages.js';
import { COST_TYPES, limitBreaches, quoteOffer, quoted, tariffOf } from '../domain/quote-offer.js';
import { economicsOf, type SiteEconomics } from '../domain/site-economics.js';
import type { SiteProfile } from '../domain/site-profile.js';
import type { OutrankedHolds, SettleHold } from './outranked-holds.js';
import type { CapacityLedger, HoldOutcome, NegotiationAnswer, NegotiationRequest, SiteOffer } from './ports.js';

/**
 * The site worker's half of a negotiation: ask the calendar for each alternative the planner
 * wants, in order, each found and held in one atomic step, which also enters the hold in the
 * offer expiry sweep: a hold whose answer never reaches anyone is still released at its expiry.
 */
export async function evaluateNegotiation(
  deps: {
    ledger: CapacityLedger; now: () => number; givesGpus?: (model: string) => boolean;
    /** Why the site's runs could not serve ports of these protocols (Executor.refusesPorts); absent: they can. */
    refusesPorts?: (protocols: readonly string[], kind: string) => string | undefined;
    /** What this worker can run (executable-abilities.ts); absent: whatever the site's configuration lists. */
    abilities?: readonly KindAbility[];
    /** The site's economics now (a carbon forecast the operator updates); absent: the site profile's. */
    economics?: (site: SiteProfile) => SiteEconomics;
  },
  site: SiteProfile,
  request: NegotiationRequest,
  /** The job's holds for the same offer set (outranked-holds.ts): none held that the offer set would drop. */
  outranked?: OutrankedHolds,
): Promise<NegotiationAnswer> {
  const { asks, messages } = planAsks(request.needs, site, request.now);
  // A kind the site lists but cannot run here is NO, saying why, before any capacity is held.
  const kind = request.needs.executable.kind;
  const cannot = site.executableKinds.includes(kind) && deps.abilities ? whyNotRunnable(deps.abilities, kind) : undefined;
  if (cannot !== undefined) {
    messages.push(makeMessage('urn:not-supported', 'ERROR', 'Site {site} cannot run executables of kind [{kind}]: {reason}', { site: site.name, kind, reason: cannot }));
    return { site: site.name, offers: [], messages };
  }
  // A server no client could reach is no offer: NO, saying why, before any capacity is held.
  const protocols = [...new Set((request.needs.executable.ports ?? []).map((port) => port.protocol.toUpperCase()))];
  const portsRefused = protocols.length && deps.refusesPorts ? deps.refusesPorts(protocols, kind) : undefined;
  if (portsRefused !== undefined) {
    messages.push(makeMessage('urn:not-supported', 'ERROR', 'Site {site} cannot serve the executable\'s ports: {reason}', { site: site.name, reason: portsRefused }));
    return { site: site.name, offers: [], messages };
  }
  if (asks.length === 0) return { site: site.name, offers: [], messages };
  const model = asks[0]?.gpu?.model;
  if (model !== undefined && deps.givesGpus && !deps.givesGpus(model)) {
    messages.push(makeMessage('urn:not-supported', 'ERROR', 'Site {site} counts {model} GPUs but cannot give them to its containers (no devices named for them)', { site: site.name, model }));
    return { site: site.name, offers: [], messages };
  }
  const offers: SiteOffer[] = [];
  const locality = dataLocality(request.needs, site);
  const caps = request.cappedOwner !== undefined ? shareCaps(site) : undefined;
  const share = caps && request.cappedOwner !== undefined ? { owner: request.cappedOwner, offerSet: request.offerSetUuid, caps } : undefined;
  const economics = deps.economics?.(site) ?? economicsOf(site);
  const limits = request.needs.limits;
  const carbonLimit = limits?.costs.filter((c) => c.type === COST_TYPES.carbon).reduce((least, c) => Math.min(least, c.max), Infinity) ?? Infinity;
  // Limits that do not depend on the start (price, energy, metrics): checked on the ask alone.
  const startless = limits ? { costs: limits.costs.filter((c) => c.type !== COST_TYPES.carbon), metrics: limits.metrics } : undefined;
  // Each alternative has its own id, whatever became of the others: a retried job finds its holds again.
  const ids = request.offerIds.slice(0, request.maxOffers);
  const say = (message: Message): void => { messages.push(offers.length ? { ...message, level: 'WARN' } : message); };
  /**
   * Holds the ask somewhere in the windows (bucket ranges), in order; what happened. `outranked`:
   * not tried, as the offer set would drop it whatever start it found.
   */
  const hold = async (index: number, ask: OfferAsk, windows: Array<[number, number]>, purpose: SiteOffer['purpose']): Promise<'held' | 'stop' | 'outranked' | HoldOutcome['outcome']> => {
    if (index >= ids.length) return 'stop';
    const id = ids[index];
    if (!id) throw new Error('negotiation request carries too few offer ids');
    const tried = windows.slice(0, 8);
    let settle: SettleHold | undefined;
    if (outranked) {
      // The best it could be: held at the earliest start of any window.
      const earliest = Math.min(...tried.map(([from]) => from));
      settle = await outranked.admit({ site: site.name, plan: offerFromHold(ask, earliest), locality });
      if (!settle) return 'outranked';
    }
    let made: SiteOffer | undefined;
    try {
      let last: HoldOutcome['outcome'] = 'none';
      for (const [earliest, latest] of tried) {
        const held = await deps.ledger.findAndHold(site, { id, amounts: ask.amounts, earliest, latest, length: ask.length, expiresAt: request.expiresAt, ...(share ? { share } : {}) }, deps.now(), request.answerBy);
        if (held.outcome === 'late') return 'stop';
        if (held.outcome === 'cap') {
          // A larger alternative over the cap after a smaller one was held: the smaller one is the offer.
          if (offers.length === 0) messages.push(shareMessage(site, held, { cores: ask.cores, gpus: ask.gpu?.count ?? 0, buckets: ask.length }));
          return 'stop';
        }
        if (held.outcome === 'held') {
          const plan = offerFromHold(ask, held.start);
          made = { id, site: site.name, plan, locality, quote: quoteOffer(plan, economics), tariff: tariffOf(plan, economics), purpose };
          offers.push(made);
          return 'held';
        }
        last = held.outcome;
      }
      return last;
    } finally {
      settle?.(made);
    }
  };
  const breachesOf = (ask: OfferAsk): Message[] => limitBreaches(quoteOffer(offerFromHold(ask, ask.earliest), economics), startless, site.name);
  for (const [index, asked] of asks.entries()) {
    if (index >= ids.length) break;
    let ask = asked;
    let breaches = breachesOf(ask);
    // The largest allocation over a price or energy limit: as large as fits within it instead.
    const smallest = asks[0];
    if (breaches.length && ask.purpose === 'largest' && smallest && breachesOf(smallest).length === 0) {
      const fitting = largestFitting(smallest, ask, (candidate) => breachesOf(candidate).length === 0);
      if (fitting) {
        messages.push(makeMessage('urn:cost-limit', 'WARN', 'Site {site}: the largest allocation is {cores} cores and {memory} GiB, to stay within the request\'s limits',
          { site: site.name, cores: fitting.cores, memory: fitting.memoryGiB }));
        ask = fitting;
        breaches = [];
      }
    }
    if (breaches.length) {
      if (offers.length === 0 || ask.purpose === 'earliest') breaches.forEach(say);
      continue;
    }
    const windows = carbonLimit < Infinity ? carbonWindows(ask, economics, carbonLimit) : [[ask.earliest, ask.latest] as [number, number]];
    if (windows.length === 0) {
      if (offers.length === 0 || ask.purpose === 'earliest') say(carbonMessage(site.name, carbonLimit, ask));
      continue;
    }
    const outcome = await hold(index, ask, windows, ask.purpose);
    if (outcome === 'stop') return { site: site.name, offers, messages };
    // Said of nothing: the offer set would have dropped it without a word too.
    if (outcome === 'outranked') continue;
    if (outcome !== 'held' && (offers.length === 0 || ask.purpose === 'earliest')) messages.push(noRoomMessage(ask, site, outcome === 'gave-up' ? 'gave-up' : 'none'));
  }
  // Beside the earliest, the window's lowest-carbon start (when the grid's intensity varies and the window leaves room).
  const first = asks[0];
  const soonest = offers.find((offer) => offer.purpose === 'earliest');
  if (first && soonest) {
    const atSoonest = quoted(soonest.quote, COST_TYPES.carbon);
    const greener = greenestStarts(first, economics).filter((bucket) => {
      const grams = carbonAt(first, bucket, economics);
      return grams < atSoonest && grams <= carbonLimit;
    });
    for (const bucket of greener) {
      const outcome = await hold(asks.length, first, [[bucket, bucket]], 'greenest');
      if (outcome === 'held' || outcome === 'stop') break;
    }
  }
  return { site: site.name, offers, messages };
}

function carbonMessage(site: string, limit: number, ask: OfferAsk): Message {
  return makeMessage('urn:cost-limit', 'ERROR', 'Site {site}: no start for {cores} cores for {duration} keeps the carbon within the limit of {limit} gCO2',
    { site, cores: ask.cores, duration: formatDuration(ask.durationMs), limit });
}
