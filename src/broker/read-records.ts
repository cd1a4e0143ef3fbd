import type { Clock } from '../domain/clock.js';
import { BrokerError } from '../domain/errors.js';
import type { BrokerStore, OfferSetRecord, SessionRecord } from './ports.js';

/**
 * An OFFERED session past its expiry is shown as EXPIRED even before the expiry timer has run:
 * the answer never depends on how busy the timers are.
 */
export function asSeenAt(session: SessionRecord, now: number): SessionRecord {
  if (session.phase === 'OFFERED' && now >= session.expires) return { ...session, phase: 'EXPIRED' };
  const waiting = session.provision && session.provision.boundAt === undefined && session.phase === 'ACCEPTED';
  return waiting && now >= session.provision!.bindBy ? { ...session, phase: 'EXPIRED' } : session;
}

export async function getSession(deps: { clock: Clock; store: BrokerStore }, uuid: string): Promise<SessionRecord> {
  const session = await deps.store.getSession(uuid);
  if (!session) throw new BrokerError('not-found', { values: { what: 'session', uuid } });
  return asSeenAt(session, deps.clock.now());
}

/** A session as its owner sees it; `not-owner` for anyone else (enforced once authentication comes). */
export async function getOwnSession(deps: { clock: Clock; store: BrokerStore }, uuid: string, owner: string):
  Promise<{ outcome: 'found'; session: SessionRecord } | { outcome: 'not-found' | 'not-owner' }> {
  const session = await deps.store.getSession(uuid);
  if (!session) return { outcome: 'not-found' };
  if (session.owner !== owner) return { outcome: 'not-owner' };
  return { outcome: 'found', session: asSeenAt(session, deps.clock.now()) };
}

export async function getOfferSet(deps: { clock: Clock; store: BrokerStore }, uuid: string):
  Promise<{ offerSet: OfferSetRecord; sessions: SessionRecord[] }> {
  const found = await deps.store.getOfferSet(uuid);
  if (!found) throw new BrokerError('not-found', { values: { what: 'offer set', uuid } });
  const now = deps.clock.now();
  return { offerSet: found.offerSet, sessions: found.sessions.map((session) => asSeenAt(session, now)) };
}
