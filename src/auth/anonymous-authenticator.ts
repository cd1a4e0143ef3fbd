import type { Authenticator } from '../broker/ports.js';
import { ANONYMOUS, type Principal } from '../domain/principal.js';

/**
 * No issuer configured: every request is the anonymous principal, which owns everything. Only
 * for a broker on loopback, or one explicitly allowed to run so (run-process.ts checks).
 */
export class AnonymousAuthenticator implements Authenticator {
  readonly required = false;

  authenticate(): Promise<Principal> {
    return Promise.resolve(ANONYMOUS);
  }
}
