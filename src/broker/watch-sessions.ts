import { decideAccess } from '../domain/ownership.js';
import type { Principal } from '../domain/principal.js';
import type { SessionEvents, SessionNotice } from './ports.js';

/**
 * Phase-change notices of the sessions the principal may read (its own; everyone's for an
 * operator), and `resync` when some may have been lost. Resolves, with the function that stops
 * them, once they flow: what changes after that is told.
 */
export function watchSessions(events: SessionEvents, principal: Principal, listener: (event: SessionNotice | 'resync') => void): Promise<() => void> {
  return events.subscribe((event) => {
    if (event === 'resync' || decideAccess(principal, event.owner, 'read') === 'allowed') listener(event);
  });
}
