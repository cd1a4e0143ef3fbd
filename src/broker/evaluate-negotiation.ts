import { makeMessage } from '../domain/messages.js';
import { planOffers } from '../domain/plan-offers.js';
import type { SiteProfile } from '../domain/site-profile.js';
import type { CapacityLedger, NegotiationAnswer, NegotiationRequest, Timers } from './ports.js';

/** A plan is made from a snapshot of the ledger; if another hold got there first, plan again. */
const ATTEMPTS = 4;

/**
 * The site worker's half of a negotiation: plan offers against the site's free capacity and hold
 * them. The expiry timer is set before the hold, so a worker that dies in between leaks nothing.
 */
export async function evaluateNegotiation(
  deps: { ledger: CapacityLedger; timers: Timers; now: () => number },
  site: SiteProfile,
  request: NegotiationRequest,
): Promise<NegotiationAnswer> {
  let fresh = false;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const now = deps.now();
    if (now > request.answerBy) return { site: site.name, offers: [], messages: [] };
    const free = await deps.ledger.free(site, { fresh });
    const plan = planOffers({ needs: request.needs, site, free, now: request.now, maxOffers: request.maxOffers });
    if (plan.offers.length === 0) {
      // Never say NO on a remembered figure: look at the ledger itself first.
      if (!fresh) { fresh = true; continue; }
      return { site: site.name, offers: [], messages: plan.messages };
    }
    const offers = plan.offers.map((offerPlan, index) => ({ id: request.offerIds[index] ?? '', site: site.name, plan: offerPlan }));
    if (offers.some((offer) => offer.id === '')) throw new Error('negotiation request carries too few offer ids');
    // The timer covers every id this negotiation may use, whichever plan ends up held.
    await deps.timers.scheduleExpiry(request.offerSetUuid, site.name, request.offerIds, request.expiresAt);
    const held = await deps.ledger.hold(site, offers.map((o) => ({ id: o.id, cores: o.plan.cores, memoryGiB: o.plan.memoryGiB })), now, request.answerBy);
    if (held === 'held') return { site: site.name, offers, messages: plan.messages };
    if (held === 'late') return { site: site.name, offers: [], messages: [] };
    fresh = false; // the refusal reported the usage it saw: plan from that
  }
  return {
    site: site.name,
    offers: [],
    messages: [makeMessage('urn:no-capacity', 'ERROR', 'Site {site}: the free capacity kept changing while planning; try again', { site: site.name })],
  };
}
