import type { Clock } from '../domain/clock.js';
import { BrokerError } from '../domain/errors.js';
import type { SessionPhase } from '../domain/phases.js';
import type { Principal } from '../domain/principal.js';
import type { BrokerStore, SessionListing } from './ports.js';
import { asSeenAt } from './read-records.js';

export interface SessionQuery {
  /** Only this owner's sessions: operators may name anyone, everyone else only themselves. */
  owner?: string;
  /** Only sessions in one of these phases (as seen now: an offer past its expiry is EXPIRED). */
  phases?: ReadonlySet<SessionPhase>;
  site?: string;
  /** Where the previous page ended (its `next`). */
  after?: string;
  limit: number;
}

export interface SessionPage {
  sessions: SessionListing[];
  /** Where the next page starts; absent when there is nothing more. */
  next?: string;
}

/** Index entries one call reads at most: a filter that matches little answers a short page and a `next`. */
export const SCAN_BUDGET = 5000;

/**
 * The principal's sessions (an operator's: everyone's, or one owner's), newest first, filtered by
 * phase and site, a page at a time. Read from the owners' indexes, never by scanning keys.
 */
export async function listSessions(deps: { clock: Clock; store: BrokerStore }, query: SessionQuery, principal: Principal): Promise<SessionPage> {
  if (!principal.operator && query.owner !== undefined && query.owner !== principal.subject) {
    throw new BrokerError('forbidden', { values: { reason: 'Only operators may list the sessions of other users' } });
  }
  const owner = principal.operator ? query.owner : principal.subject;
  const filtered = query.phases !== undefined || query.site !== undefined;
  const now = deps.clock.now();
  const sessions: SessionListing[] = [];
  let after = query.after;
  for (let scanned = 0; ;) {
    const count = filtered ? Math.min(1000, Math.max(100, 2 * query.limit)) : query.limit - sessions.length;
    const page = await deps.store.sessionIndexPage({ owner, after, count });
    for (const [index, { session, position }] of page.sessions.entries()) {
      const seen = asSeenAt(session, now);
      if (query.phases && !query.phases.has(seen.phase)) continue;
      if (query.site !== undefined && seen.site !== query.site) continue;
      sessions.push(seen);
      if (sessions.length === query.limit) {
        const more = page.more || index < page.sessions.length - 1;
        return more ? { sessions, next: position } : { sessions };
      }
    }
    if (!page.more || page.last === undefined) return { sessions };
    after = page.last;
    scanned += count;
    if (scanned >= SCAN_BUDGET) return { sessions, next: after };
  }
}
