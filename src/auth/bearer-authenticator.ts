import type { Authenticator } from '../broker/ports.js';
import { BrokerError } from '../domain/errors.js';
import type { Principal } from '../domain/principal.js';
import { SecretToken } from '../domain/secret-token.js';
import type { OidcIssuer } from './oidc-issuer.js';
import { principalFromClaims } from './principal-from-claims.js';
import { TokenVerifier } from './token-verifier.js';

/** Every request needs a bearer token from the configured issuer. */
export class BearerAuthenticator implements Authenticator {
  readonly required = true;
  private readonly verifier: TokenVerifier;

  constructor(private readonly issuer: OidcIssuer, now: () => number = Date.now) {
    this.verifier = new TokenVerifier(issuer, now);
  }

  async authenticate(token: string | undefined): Promise<Principal> {
    if (token === undefined) throw new BrokerError('authentication-required', { values: { issuer: this.issuer.settings.issuer } });
    const verified = await this.verifier.verify(token);
    return principalFromClaims(verified.claims, this.issuer.settings, new SecretToken(token, verified.expiresAt));
  }

  issuerReachable(): Promise<boolean> {
    return this.issuer.reachable();
  }
}
