import * as oidc from 'openid-client';
import type { OidcIssuer } from './oidc-issuer.js';

/** How long before its expiry a token is fetched again. */
const EARLY_MS = 30_000;

/**
 * The broker's own token for a service it calls for itself (the site capabilities API): the
 * client credentials grant of the broker's client at its issuer, with the service's audience,
 * kept until shortly before it expires. Never logged: only its value goes in a header.
 */
export class ClientCredentialsToken {
  #cached: { token: string; until: number } | undefined;

  constructor(private readonly issuer: OidcIssuer, private readonly target: { audience?: string; scope?: string }, private readonly now: () => number = Date.now) {}

  async token(): Promise<string> {
    if (this.#cached && this.#cached.until > this.now()) return this.#cached.token;
    const configuration = await this.issuer.configuration();
    let response: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
    try {
      response = await oidc.clientCredentialsGrant(configuration, {
        ...(this.target.audience ? { audience: this.target.audience } : {}),
        ...(this.target.scope ? { scope: this.target.scope } : {}),
      });
    } catch (error) {
      const described = error instanceof oidc.ResponseBodyError ? `${error.error}${error.error_description ? `: ${error.error_description.slice(0, 200)}` : ''}` : (error as Error).message;
      throw new Error(`the issuer gave the broker no token for the site capabilities API (${described})`);
    }
    const expiresIn = response.expiresIn();
    this.#cached = { token: response.access_token, until: expiresIn === undefined ? this.now() : this.now() + expiresIn * 1000 - EARLY_MS };
    return response.access_token;
  }
}
