import type { Clock } from '../domain/clock.js';
import { BrokerError } from '../domain/errors.js';
import { decideAccess } from '../domain/ownership.js';
import { holdsCapacity, type SessionPhase } from '../domain/phases.js';
import type { Principal } from '../domain/principal.js';
import type { SiteProfile } from '../domain/site-profile.js';
import type { BrokerStore, SessionSlot, SiteDirectory, Span } from './ports.js';
import { asSeenAt } from './read-records.js';

/** Reservations one timeline shows at most (a busier window is answered `truncated`). */
export const MAX_RESERVATIONS = 10_000;
/** The longest window (a little more than a site's usual booking horizon), and the default one. */
export const MAX_WINDOW_MS = 31 * 24 * 3600_000;
export const DEFAULT_WINDOW_MS = 12 * 3600_000;

/** The window asked for; without `from` it starts now, without `to` it lasts 12 hours. */
export interface TimelineWindow { from?: number; to?: number }

function windowOf(asked: TimelineWindow, now: number): Span {
  const start = asked.from ?? (asked.to !== undefined ? asked.to - DEFAULT_WINDOW_MS : now);
  const end = asked.to ?? start + DEFAULT_WINDOW_MS;
  if (end <= start) throw new BrokerError('invalid-query', { values: { name: 'to' }, detail: 'to must be later than from' });
  if (end - start > MAX_WINDOW_MS) throw new BrokerError('invalid-query', { values: { name: 'to' }, detail: 'A timeline spans 31 days at most' });
  return { start, end };
}

/**
 * One reservation on a site's timeline. `session` (uuid, name, owner) only for those the viewer
 * may read: its own, or all for an operator; others' show their phase, schedule and size alone.
 */
export interface TimelineEntry {
  phase: SessionPhase;
  slot: Omit<SessionSlot, 'name'>;
  session?: { uuid: string; name?: string; owner: string };
}

export interface SiteTimeline {
  site: SiteProfile;
  window: Span;
  reservations: TimelineEntry[];
  truncated: boolean;
}

/**
 * What holds capacity on a site over a window: offers, accepted and running sessions, from the
 * site's reservation index (never a scan), in order of start.
 */
export async function siteTimeline(deps: { clock: Clock; store: BrokerStore; sites: SiteDirectory }, name: string, asked: TimelineWindow, principal: Principal): Promise<SiteTimeline> {
  const site = deps.sites.get(name);
  if (!site) throw new BrokerError('not-found', { values: { what: 'site', uuid: name } });
  const now = deps.clock.now();
  const window = windowOf(asked, now);
  const { sessions, truncated } = await deps.store.siteReservations(name, window.start, window.end, MAX_RESERVATIONS);
  const reservations: TimelineEntry[] = [];
  for (const listed of sessions) {
    const session = asSeenAt(listed, now);
    const slot = session.slot;
    if (!slot || !holdsCapacity(session.phase)) continue;
    if (slot.preparing.start > window.end || slot.releasing.end < window.start) continue;
    const { name: sessionName, ...anonymous } = slot;
    const visible = decideAccess(principal, session.owner, 'read') === 'allowed';
    reservations.push({
      phase: session.phase,
      slot: anonymous,
      ...(visible ? { session: { uuid: session.uuid, ...(sessionName ? { name: sessionName } : {}), owner: session.owner } } : {}),
    });
  }
  reservations.sort((a, b) => a.slot.preparing.start - b.slot.preparing.start);
  return { site, window, reservations, truncated };
}
