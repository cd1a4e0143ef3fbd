import { createRemoteJWKSet, type JWTVerifyGetKey } from 'jose';
import * as oidc from 'openid-client';
import { BrokerError } from '../domain/errors.js';
import type { OidcSettings } from '../domain/auth-settings.js';

/** Plain http is taken only from an issuer on this machine (development and tests). */
export const isLoopbackUrl = (url: URL): boolean => /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/.test(url.hostname);

/**
 * The issuer as discovered (openid-client): its metadata, the broker's client there and its
 * signing keys. Discovered on first use, not at start-up, so that a broker started while the
 * issuer is down serves again as soon as it is back; a failed discovery is retried at most every
 * `retryAfterMs`, answering 503 in between.
 */
export class OidcIssuer {
  #configuration: Promise<oidc.Configuration> | undefined;
  #keys: JWTVerifyGetKey | undefined;
  #failedAt = -Infinity;
  #probe: { at: number; answer: Promise<boolean> } | undefined;

  constructor(readonly settings: OidcSettings, private readonly options: { retryAfterMs?: number; now?: () => number } = {}) {}

  async configuration(): Promise<oidc.Configuration> {
    const now = this.options.now?.() ?? Date.now();
    if (!this.#configuration) {
      if (now - this.#failedAt < (this.options.retryAfterMs ?? 5_000)) throw new BrokerError('identity-provider-unavailable');
      this.#configuration = this.discover().catch((error: unknown) => {
        this.#configuration = undefined;
        this.#failedAt = this.options.now?.() ?? Date.now();
        throw new BrokerError('identity-provider-unavailable', { cause: error });
      });
    }
    return this.#configuration;
  }

  /** The issuer's JWKS: cached, fetched again for an unknown key id at most once per cooldown. */
  async keys(): Promise<JWTVerifyGetKey> {
    if (this.#keys) return this.#keys;
    const uri = (await this.configuration()).serverMetadata().jwks_uri;
    if (!uri) throw new BrokerError('identity-provider-unavailable', { detail: 'The issuer publishes no jwks_uri' });
    this.#keys ??= createRemoteJWKSet(new URL(uri), { cooldownDuration: this.settings.jwksCooldownMs, timeoutDuration: 5_000 });
    return this.#keys;
  }

  /**
   * Whether the issuer serves its discovery document now (a fresh GET, at most every
   * `retryAfterMs`; the answer in between is the last one). Health probes ask it.
   */
  async reachable(): Promise<boolean> {
    const now = this.options.now?.() ?? Date.now();
    if (this.#probe && now - this.#probe.at < (this.options.retryAfterMs ?? 5_000)) return this.#probe.answer;
    const url = `${this.settings.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const answer = fetch(url, { signal: AbortSignal.timeout(3_000), redirect: 'manual' })
      .then(async (res) => { await res.body?.cancel(); return res.ok; }, () => false);
    this.#probe = { at: now, answer };
    return answer;
  }

  private discover(): Promise<oidc.Configuration> {
    const { issuer, client, audience } = this.settings;
    const url = new URL(issuer);
    const auth = client ? oidc.ClientSecretBasic(client.secret) : oidc.None();
    return oidc.discovery(url, client?.id ?? audience, undefined, auth, {
      timeout: 5,
      ...(url.protocol === 'http:' && isLoopbackUrl(url) ? { execute: [oidc.allowInsecureRequests] } : {}),
    });
  }
}
