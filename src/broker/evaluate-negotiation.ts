import { dataLocality, offerFromHold, noRoomMessage, planAsks } from '../domain/plan-offers.js';
import { shareCaps, shareMessage } from '../domain/fair-share.js';
import { whyNotRunnable, type KindAbility } from '../domain/executable-abilities.js';
import { makeMessage } from '../domain/messages.js';
import type { SiteProfile } from '../domain/site-profile.js';
import type { CapacityLedger, NegotiationAnswer, NegotiationRequest, SiteOffer } from './ports.js';

/**
 * The site worker's half of a negotiation: ask the calendar for each alternative the planner
 * wants, in order, each found and held in one atomic step. The API set the expiry timer for these
 * offer ids before asking, so a hold whose answer never reaches anyone is still released.
 */
export async function evaluateNegotiation(
  deps: {
    ledger: CapacityLedger; now: () => number; givesGpus?: (model: string) => boolean;
    /** What this worker can run (executable-abilities.ts); absent: whatever the site's configuration lists. */
    abilities?: readonly KindAbility[];
  },
  site: SiteProfile,
  request: NegotiationRequest,
): Promise<NegotiationAnswer> {
  const { asks, messages } = planAsks(request.needs, site, request.now);
  // A kind the site lists but cannot run here is NO, saying why, before any capacity is held.
  const kind = request.needs.executable.kind;
  const cannot = site.executableKinds.includes(kind) && deps.abilities ? whyNotRunnable(deps.abilities, kind) : undefined;
  if (cannot !== undefined) {
    messages.push(makeMessage('urn:not-supported', 'ERROR', 'Site {site} cannot run executables of kind [{kind}]: {reason}', { site: site.name, kind, reason: cannot }));
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
  for (const [index, ask] of asks.slice(0, request.maxOffers).entries()) {
    const id = request.offerIds[index];
    if (!id) throw new Error('negotiation request carries too few offer ids');
    const held = await deps.ledger.findAndHold(site, { id, amounts: ask.amounts, earliest: ask.earliest, latest: ask.latest, length: ask.length, ...(share ? { share } : {}) }, deps.now(), request.answerBy);
    if (held.outcome === 'late') break;
    if (held.outcome === 'cap') {
      // A larger alternative over the cap after a smaller one was held: the smaller one is the offer.
      if (offers.length === 0) messages.push(shareMessage(site, held, { cores: ask.cores, gpus: ask.gpu?.count ?? 0, buckets: ask.length }));
      break;
    }
    if (held.outcome === 'held') offers.push({ id, site: site.name, plan: offerFromHold(ask, held.start), locality });
    else if (offers.length === 0 || ask.purpose === 'earliest') messages.push(noRoomMessage(ask, site, held.outcome));
  }
  return { site: site.name, offers, messages };
}
