import { decideAccess } from '../domain/ownership.js';
import type { Principal } from '../domain/principal.js';
import type { SessionEvent, SessionEvents } from './ports.js';

/**
 * Phase-change notices of the sessions the principal may read (its own; everyone's for an
 * operator), `resync` when some may have been lost, `unavailable` when they stopped. Resolves,
 * with the function that stops them, once they flow: what changes after that is told.
 */
export function watchSessions(events: SessionEvents, principal: Principal, listener: (event: SessionEvent) => void): Promise<() => void> {
  return events.subscribe((event) => {
    if (typeof event === 'string' || decideAccess(principal, event.owner, 'read') === 'allowed') listener(event);
  });
}
