import { makeMessage, stamp } from '../domain/messages.js';
import { unservedLocations } from '../domain/served-locations.js';
import { faultPoint } from './fault-point.js';
import type { OfferSetRecord, SessionRecord } from './ports.js';
import { requestOffers, type OffersInput, type RequestOffersDeps } from './request-offers.js';

export type ProvisionOutcome =
  | { outcome: 'held'; session: SessionRecord; bindBy: number }
  | { outcome: 'none'; offerSet: OfferSetRecord };

/**
 * The request as a provision asks for it: one offer, whose start may come up to `bindWindowMs`
 * later (the executable arrives within that window), so that the capacity held covers a run
 * started whenever it arrives.
 */
function withBindWindow(input: OffersInput, bindWindowMs: number): OffersInput {
  return { ...input, needs: { ...input.needs, startSlackMs: bindWindowMs }, maxOffers: 1 };
}

/**
 * A provision's data places are SRCNet locations: one that no site serves makes the request a NO
 * before any site is asked (requestOffers stops at an ERROR it is given), naming the known ones.
 */
async function provisionInput(deps: RequestOffersDeps, input: OffersInput, bindWindowMs: number): Promise<OffersInput> {
  const sites = deps.currentSites ? await deps.currentSites() : deps.sites;
  const unserved = unservedLocations(input.needs, sites.all());
  const asked = withBindWindow(input, bindWindowMs);
  return unserved.length ? { ...asked, messages: [...asked.messages, ...unserved] } : asked;
}

/**
 * Holds capacity for an executable to come (SRCNet's provision): negotiates as for any request,
 * accepts the best offer at once and keeps it waiting for its executable until `bindBy`, when a
 * timer expires it and releases its capacity unless an executable was bound (bindExecutable).
 */
export async function provisionSession(deps: RequestOffersDeps, input: OffersInput, bindWindowMs: number): Promise<ProvisionOutcome> {
  const { offerSet, sessions, offers, needs } = await requestOffers(deps, await provisionInput(deps, input, bindWindowMs));
  const best = sessions[0];
  const plan = offers?.[0]?.plan;
  if (!best || !plan || !needs) return { outcome: 'none', offerSet };
  // The plan's slack counts from the moment of planning, so the binding window does too.
  const bindBy = offerSet.created + bindWindowMs;
  // The timer first: whatever happens next, the capacity is released at bindBy.
  await deps.timers.scheduleBindingExpiry(best.uuid, bindBy);
  const now = deps.clock.now();
  const note = stamp(makeMessage('urn:phase-change', 'INFO', 'Accepted to wait for its executable until {bindBy}',
    { bindBy: new Date(bindBy).toISOString() }), now);
  const accepted = await deps.store.acceptForBinding(best.uuid, now, note, { bindBy, needs, plan });
  faultPoint('provision');
  if (accepted.outcome !== 'done') {
    offerSet.messages.push(makeMessage('urn:offer-expired', 'ERROR', 'The offer lapsed before it could be held'));
    return { outcome: 'none', offerSet };
  }
  return { outcome: 'held', session: accepted.session, bindBy };
}

/**
 * Whether a provision could be had now (SRCNet's query): negotiates the same request and lets the
 * offer go at once, so the answer reflects the real calendar and holds nothing.
 */
export async function queryProvision(deps: RequestOffersDeps, input: OffersInput, bindWindowMs: number): Promise<{ available: boolean; offerSet: OfferSetRecord }> {
  const { offerSet, sessions } = await requestOffers(deps, await provisionInput(deps, input, bindWindowMs));
  const now = deps.clock.now();
  const note = stamp(makeMessage('urn:phase-change', 'INFO', 'Released at once: the request only asked whether it could be served'), now);
  for (const session of sessions) await deps.store.transition(session.uuid, 'REJECTED', ['OFFERED'], now, note);
  return { available: sessions.length > 0, offerSet };
}
