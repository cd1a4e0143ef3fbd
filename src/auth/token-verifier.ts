import { createHash } from 'node:crypto';
import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { BrokerError } from '../domain/errors.js';
import type { OidcIssuer } from './oidc-issuer.js';

/** Asymmetric algorithms only: an HMAC "signed" with the issuer's public key must not pass, nor `none`. */
export const ACCEPTED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

export interface VerifiedToken {
  claims: Record<string, unknown>;
  /** When the token stops being valid (ms), from `exp`. */
  expiresAt: number;
}

const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const INTROSPECTION_CACHE_MS = 30_000;
const INTROSPECTION_CACHE_SIZE = 1_000;

const invalid = (reason: string): BrokerError => new BrokerError('invalid-token', { values: { reason } });

/** Why jose refused a token, in words a client can act on (never the token itself). */
function reasonFor(error: unknown): string | undefined {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'iss': return 'the token was issued by another issuer';
      case 'aud': return 'the token is meant for another audience';
      case 'nbf': return 'the token is not valid yet';
      case 'iat': return 'the token was issued in the future';
      default: return `the token's ${error.claim} claim is ${error.reason === 'missing' ? 'missing' : 'not acceptable'}`;
    }
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the token\'s signature does not verify';
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) return 'the token\'s signing algorithm is not accepted';
  if (error instanceof errors.JWKSNoMatchingKey) return 'the token is signed with a key the issuer does not publish';
  if (error instanceof errors.JWKSMultipleMatchingKeys) return 'the token names no key the issuer publishes unambiguously';
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'the token is malformed';
  return undefined;
}

/**
 * Checks a bearer token against the configured issuer: a JWT by its signature (the issuer's JWKS,
 * fetched again for an unknown key id at most once per cooldown), issuer, audience, expiry and
 * not-before; an opaque token, when allowed, at the issuer's introspection endpoint.
 */
export class TokenVerifier {
  readonly #introspected = new Map<string, { verified: VerifiedToken; until: number }>();

  constructor(private readonly issuer: OidcIssuer, private readonly now: () => number = Date.now) {}

  async verify(token: string): Promise<VerifiedToken> {
    if (JWS_COMPACT.test(token)) return this.verifyJwt(token);
    if (!this.issuer.settings.introspection) throw invalid('the token is not a JWT and this broker does not introspect tokens');
    return this.introspect(token);
  }

  private async verifyJwt(token: string): Promise<VerifiedToken> {
    const { settings } = this.issuer;
    try {
      decodeProtectedHeader(token);
    } catch {
      throw invalid('the token is malformed');
    }
    const keys = await this.issuer.keys();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: settings.issuer,
        audience: settings.audience,
        algorithms: ACCEPTED_ALGORITHMS,
        clockTolerance: settings.clockToleranceSeconds,
        currentDate: new Date(this.now()),
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      const reason = reasonFor(error);
      if (reason) throw invalid(reason);
      // Not the token's fault: the keys could not be fetched (timeout, connection, a non-200).
      throw new BrokerError('identity-provider-unavailable', { cause: error });
    }
    return { claims: payload as Record<string, unknown>, expiresAt: Number(payload.exp) * 1000 };
  }

  private async introspect(token: string): Promise<VerifiedToken> {
    const key = createHash('sha256').update(token).digest('hex');
    const now = this.now();
    const cached = this.#introspected.get(key);
    if (cached && cached.until > now) return cached.verified;
    const { settings } = this.issuer;
    const configuration = await this.issuer.configuration();
    let answer: oidc.IntrospectionResponse;
    try {
      answer = await oidc.tokenIntrospection(configuration, token);
    } catch (error) {
      throw new BrokerError('identity-provider-unavailable', { cause: error });
    }
    if (!answer.active) throw invalid('the issuer says the token is not active');
    if (answer.iss !== undefined && answer.iss !== settings.issuer) throw invalid('the token was issued by another issuer');
    const audiences = ([] as unknown[]).concat(answer.aud ?? []);
    if (!audiences.includes(settings.audience)) throw invalid('the token is meant for another audience');
    const exp = typeof answer.exp === 'number' ? answer.exp * 1000 : undefined;
    if (exp === undefined) throw invalid('the token\'s exp claim is missing');
    if (exp + settings.clockToleranceSeconds * 1000 <= now) throw invalid('the token has expired');
    if (typeof answer.nbf === 'number' && answer.nbf * 1000 > now + settings.clockToleranceSeconds * 1000) throw invalid('the token is not valid yet');
    const verified = { claims: answer as unknown as Record<string, unknown>, expiresAt: exp };
    if (this.#introspected.size >= INTROSPECTION_CACHE_SIZE) this.#introspected.delete(this.#introspected.keys().next().value as string);
    this.#introspected.set(key, { verified, until: Math.min(exp, now + INTROSPECTION_CACHE_MS) });
    return verified;
  }
}
