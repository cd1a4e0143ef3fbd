import { offerOwner, type Principal } from '../domain/principal.js';
import { faultPoint } from './fault-point.js';
import type { OfferSetRecord, SessionRecord } from './ports.js';
import { requestOffers, type OffersInput, type RequestOffersDeps } from './request-offers.js';
import { updateSessionPhase, type UpdateSessionDeps } from './update-session.js';

export type DirectOutcome =
  | { outcome: 'accepted'; session: SessionRecord; webhookSecret?: string }
  | { outcome: 'failed'; offerSet: OfferSetRecord };

/**
 * Books and accepts the best offer in one call (POST /direct), for the principal (who owns it).
 * The one-offer offer set is stored as for any request, so GET /offersets reads it; when nothing
 * fits, the offer set's messages say why.
 */
export async function directExecution(deps: RequestOffersDeps & UpdateSessionDeps, input: Omit<OffersInput, 'owner'>, principal: Principal): Promise<DirectOutcome> {
  const { offerSet, sessions, webhookSecret } = await requestOffers(deps, { ...input, ...offerOwner(principal), maxOffers: 1 });
  const best = sessions[0];
  if (!best) return { outcome: 'failed', offerSet };
  faultPoint('direct');
  return { outcome: 'accepted', session: await updateSessionPhase(deps, best.uuid, 'ACCEPTED', principal), ...(webhookSecret ? { webhookSecret } : {}) };
}
