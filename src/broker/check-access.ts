import { BrokerError } from '../domain/errors.js';
import { decideAccess, type Access } from '../domain/ownership.js';
import type { Principal } from '../domain/principal.js';

/**
 * Throws unless the principal may do `access` to a record of `owner`: not-found when it may not
 * know the record exists (the same answer as for an identifier never used), forbidden when it may
 * see it but not do this.
 */
export function checkAccess(principal: Principal, owner: string, access: Access, record: { what: string; uuid: string }): void {
  const decision = decideAccess(principal, owner, access);
  if (decision === 'hidden') throw new BrokerError('not-found', { values: record });
  if (decision === 'refused') {
    throw new BrokerError('forbidden', { values: { reason: `Operators may read and cancel the ${record.what} [${record.uuid}], but only its owner may change it otherwise` } });
  }
}
