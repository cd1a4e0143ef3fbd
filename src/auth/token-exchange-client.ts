import * as oidc from 'openid-client';
import type { SiteToken } from '../broker/ports.js';
import { SecretToken } from '../domain/secret-token.js';
import type { OidcIssuer } from './oidc-issuer.js';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/**
 * RFC 8693 token exchange at the issuer, as the broker's own client: the user's token in, a token
 * for another audience (a site) out. The issuer decides whether the user may have it.
 */
export class TokenExchangeClient {
  constructor(private readonly issuer: OidcIssuer, private readonly now: () => number = Date.now) {}

  /** `refused` when the issuer says no (a lasting answer); throws when it cannot be asked. */
  async exchange(subject: SecretToken, target: { audience: string; scope?: string }): Promise<SiteToken> {
    const configuration = await this.issuer.configuration();
    try {
      const response = await oidc.genericGrantRequest(configuration, TOKEN_EXCHANGE_GRANT, {
        subject_token: subject.reveal(),
        subject_token_type: ACCESS_TOKEN_TYPE,
        requested_token_type: ACCESS_TOKEN_TYPE,
        audience: target.audience,
        ...(target.scope ? { scope: target.scope } : {}),
      });
      const expiresIn = response.expiresIn();
      return { token: new SecretToken(response.access_token, expiresIn === undefined ? undefined : this.now() + expiresIn * 1000) };
    } catch (error) {
      if (error instanceof oidc.ResponseBodyError) {
        const described = error.error_description ? `: ${error.error_description.slice(0, 200)}` : '';
        return { refused: `the issuer refused the token exchange for ${target.audience} (${error.error}${described})` };
      }
      // Only the error's name and message: openid-client's errors carry no request body.
      throw new Error(`token exchange at ${this.issuer.settings.issuer} failed: ${(error as Error).message}`);
    }
  }
}
