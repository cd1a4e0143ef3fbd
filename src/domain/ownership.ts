import type { Principal } from './principal.js';

/**
 * What a principal wants to do with a record someone owns: read it (offer sets, sessions, logs),
 * cancel it, or change it otherwise (accept, reject, bind an executable).
 */
export type Access = 'read' | 'cancel' | 'change';

/**
 * `hidden` when the principal may not know the record exists (answered as not found, so that
 * identifiers cannot be probed), `refused` when it may see it but not do this (an operator
 * accepting someone else's offer).
 */
export type AccessDecision = 'allowed' | 'hidden' | 'refused';

/** Owners do everything; operators read and cancel everything; nobody else sees anything. */
export function decideAccess(principal: Principal, owner: string, access: Access): AccessDecision {
  if (owner === principal.subject) return 'allowed';
  if (!principal.operator) return 'hidden';
  return access === 'change' ? 'refused' : 'allowed';
}
