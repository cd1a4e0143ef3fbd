import type { Clock } from '../domain/clock.js';
import { BrokerError } from '../domain/errors.js';
import { makeMessage, stamp } from '../domain/messages.js';
import { clientTransitions, SESSION_PHASES, type SessionPhase } from '../domain/phases.js';
import type { Principal } from '../domain/principal.js';
import { checkAccess } from './check-access.js';
import { faultPoint } from './fault-point.js';
import type { BrokerStore, Negotiator, SessionRecord, TokenVault } from './ports.js';

export interface UpdateSessionDeps {
  clock: Clock;
  store: BrokerStore;
  negotiator: Negotiator;
  /** Sites that act for the user (token exchange) get the user's token kept for them at accept. */
  userTokens?: { vault: TokenVault; neededBy(site: string): boolean };
}

const NOTES: Partial<Record<SessionPhase, string>> = {
  ACCEPTED: 'Offer accepted by the client',
  REJECTED: 'Offer rejected by the client',
  CANCELLED: 'Session cancelled by the client',
};

/** The phases from which a client may move a session to `target`. */
function phasesAllowing(target: SessionPhase): SessionPhase[] {
  return SESSION_PHASES.filter((phase) => clientTransitions(phase).includes(target));
}

/**
 * Applies a client's phase change. Accepting is one atomic step with rejecting the OFFERED
 * siblings; of two racing accepts on one offer set exactly one succeeds, the other gets a 409.
 * Only the owner may accept or reject; operators may also cancel.
 */
export async function updateSessionPhase(deps: UpdateSessionDeps, uuid: string, target: SessionPhase, principal: Principal): Promise<SessionRecord> {
  // The owner never changes, so reading it before the atomic transition is enough.
  const current = await deps.store.getSession(uuid);
  if (!current) throw new BrokerError('not-found', { values: { what: 'session', uuid } });
  checkAccess(principal, current.owner, target === 'CANCELLED' ? 'cancel' : 'change', { what: 'session', uuid });
  const now = deps.clock.now();
  const note = stamp(makeMessage('urn:phase-change', 'INFO', NOTES[target] ?? 'Phase set to {phase} by the client', { phase: target }), now);
  const result = await deps.store.transition(uuid, target, phasesAllowing(target), now, note);
  switch (result.outcome) {
    case 'not-found':
      throw new BrokerError('not-found', { values: { what: 'session', uuid } });
    case 'expired':
      throw new BrokerError('offer-expired', { values: { uuid, expires: new Date(result.session.expires).toISOString() } });
    case 'not-allowed': {
      const allowed = clientTransitions(result.session.phase);
      throw new BrokerError('transition-not-allowed', {
        values: { uuid, phase: result.session.phase, target, allowed: allowed.length ? allowed.join(', ') : 'none' },
      });
    }
    case 'done':
      // The store recorded what follows with the change (activate, stop): a crash from here on
      // leaves it for the site's reconciler, and the job added below is only the fast path.
      faultPoint(target === 'ACCEPTED' ? 'accept' : target === 'CANCELLED' ? 'cancel' : 'reject');
      if (target === 'ACCEPTED') {
        // Kept before the site hears of the session, so its first step finds the token there.
        if (principal.token && deps.userTokens?.neededBy(result.session.site)) await deps.userTokens.vault.keep(uuid, principal.token);
        await deps.negotiator.notifyAccepted(result.session.site, uuid);
      }
      if (target === 'CANCELLED') await deps.negotiator.notifyCancelled(result.session.site, uuid);
      return result.session;
  }
}
