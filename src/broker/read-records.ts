import type { Clock } from '../domain/clock.js';
import { BrokerError } from '../domain/errors.js';
import type { Principal } from '../domain/principal.js';
import { checkAccess } from './check-access.js';
import { notebookExecutable } from '../domain/notebook-executable.js';
import type { BrokerStore, NotebookTokens, OfferSetRecord, SessionRecord } from './ports.js';

/**
 * An OFFERED session past its expiry is shown as EXPIRED even before the expiry sweep has run:
 * the answer never depends on how busy the timers are. The same for a session held for an
 * executable past its binding deadline. (Lists and timelines show sessions so too.)
 */
export function asSeenAt<T extends Pick<SessionRecord, 'phase' | 'expires'> & { provision?: { bindBy: number; boundAt?: number } }>(session: T, now: number): T {
  if (session.phase === 'OFFERED' && now >= session.expires) return { ...session, phase: 'EXPIRED' };
  const waiting = session.provision && session.provision.boundAt === undefined && session.phase === 'ACCEPTED';
  return waiting && now >= session.provision!.bindBy ? { ...session, phase: 'EXPIRED' } : session;
}

/** A session the principal may read (its own, or any for an operator); not-found otherwise. */
export async function getSession(deps: { clock: Clock; store: BrokerStore }, uuid: string, principal: Principal): Promise<SessionRecord> {
  const session = await deps.store.getSession(uuid);
  if (!session) throw new BrokerError('not-found', { values: { what: 'session', uuid } });
  checkAccess(principal, session.owner, 'read', { what: 'session', uuid });
  return asSeenAt(session, deps.clock.now());
}

/**
 * The token of a session's notebook server, for the session's owner alone (not operators, not
 * anyone else) and only while it runs; undefined otherwise. `session` was read for `principal`.
 */
export async function notebookToken(deps: { tokens: NotebookTokens }, session: SessionRecord, principal: Principal): Promise<string | undefined> {
  if (session.owner !== principal.subject || session.phase !== 'RUNNING' || !notebookExecutable(session.document.executable)) return undefined;
  return (await deps.tokens.read(session.uuid))?.reveal();
}

export async function getOfferSet(deps: { clock: Clock; store: BrokerStore }, uuid: string, principal: Principal):
  Promise<{ offerSet: OfferSetRecord; sessions: SessionRecord[] }> {
  const found = await deps.store.getOfferSet(uuid);
  if (!found) throw new BrokerError('not-found', { values: { what: 'offer set', uuid } });
  checkAccess(principal, found.offerSet.owner, 'read', { what: 'offer set', uuid });
  const now = deps.clock.now();
  return { offerSet: found.offerSet, sessions: found.sessions.map((session) => asSeenAt(session, now)) };
}
