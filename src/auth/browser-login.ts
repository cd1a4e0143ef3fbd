import { createHash, randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { BrokerError } from '../domain/errors.js';
import type { OidcIssuer } from './oidc-issuer.js';
import type { TokenCipher } from './token-cipher.js';

/** Where sealed login state is kept (Redis, in src/store/redis-login-store.ts). */
export interface LoginStore {
  put(kind: 'pending' | 'session', id: string, sealed: string, ttlMs: number): Promise<void>;
  get(kind: 'pending' | 'session', id: string): Promise<string | undefined>;
  take(kind: 'pending' | 'session', id: string): Promise<string | undefined>;
  delete(kind: 'pending' | 'session', id: string): Promise<void>;
}

export interface LoginSettings {
  /** Scopes asked for at login (openid and offline_access, and those the broker requires). */
  scope: string;
  /** The callback registered at the provider; by default `<the broker's URL>/login/callback`. */
  redirectUrl?: string;
  /** Where the provider sends the browser after logout; by default the broker's page. */
  postLogoutRedirectUrl?: string;
  /** How long a login lasts at most, refreshed or not (12 h by default). */
  maxAgeMs: number;
  /** An access token is refreshed when it has less than this left (60 s by default). */
  refreshBeforeMs: number;
}

interface Pending { verifier: string; state: string; nonce: string; redirectUrl: string; then: string }
interface Tokens { subject: string; access: string; expiresAt: number; refresh?: string; idToken?: string; until: number }

const PENDING_MS = 10 * 60_000;
const hash = (cookie: string): string => createHash('sha256').update(cookie).digest('hex');
const newCookie = (): string => randomBytes(32).toString('base64url');
/** The page's own hash routes only (`#/sessions/<uuid>`): never another place to be sent to. */
const safeThen = (then: string | undefined): string => (then && /^#\/[A-Za-z0-9/_-]{0,100}$/.test(then) ? then : '');

/**
 * The broker as the page's OAuth client (a backend for the frontend): authorization code with
 * PKCE at the issuer, the tokens sealed in Redis under a random cookie's hash, refreshed before
 * they expire, and logout. The browser holds the cookie alone; no token ever reaches it.
 */
export class BrowserLogin {
  readonly #refreshing = new Map<string, Promise<Tokens | undefined>>();

  constructor(
    private readonly issuer: OidcIssuer,
    private readonly cipher: TokenCipher,
    private readonly store: LoginStore,
    readonly settings: LoginSettings,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts a login: the provider's URL to send the browser to, and the cookie that binds the answer to this browser. */
  async start(baseUrl: string, then?: string): Promise<{ url: string; pendingCookie: string }> {
    const configuration = await this.issuer.configuration();
    const verifier = oidc.randomPKCECodeVerifier();
    const pending: Pending = {
      verifier, state: oidc.randomState(), nonce: oidc.randomNonce(),
      redirectUrl: this.settings.redirectUrl ?? `${baseUrl}/login/callback`, then: safeThen(then),
    };
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: pending.redirectUrl,
      scope: this.settings.scope,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
      // offline_access (a refresh token) needs consent at most providers.
      ...(this.settings.scope.split(' ').includes('offline_access') ? { prompt: 'consent' } : {}),
    });
    const pendingCookie = newCookie();
    const id = hash(pendingCookie);
    await this.store.put('pending', id, this.cipher.seal(JSON.stringify(pending), `login-pending:${id}`), PENDING_MS);
    return { url: url.href, pendingCookie };
  }

  /**
   * Completes a login with the provider's answer (the callback's query), once only: the login's
   * cookie, and the hash route the page asked to come back to. login-failed when it does not.
   */
  async complete(pendingCookie: string | undefined, query: string): Promise<{ cookie: string; then: string; subject: string }> {
    const id = pendingCookie ? hash(pendingCookie) : undefined;
    const sealed = id ? await this.store.take('pending', id) : undefined;
    const plain = sealed && id ? this.cipher.open(sealed, `login-pending:${id}`) : undefined;
    if (!plain) throw new BrokerError('login-failed', { values: { reason: 'this browser started no login here, or it took over 10 minutes; log in again' } });
    const pending = JSON.parse(plain) as Pending;
    const error = new URLSearchParams(query).get('error');
    if (error) throw new BrokerError('login-failed', { values: { reason: `the identity provider answered ${error.slice(0, 100)}` } });
    const configuration = await this.issuer.configuration();
    const current = new URL(pending.redirectUrl);
    current.search = query;
    let answer: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
    try {
      answer = await oidc.authorizationCodeGrant(configuration, current, {
        pkceCodeVerifier: pending.verifier, expectedState: pending.state, expectedNonce: pending.nonce, idTokenExpected: true,
      });
    } catch (cause) {
      throw new BrokerError('login-failed', { values: { reason: `the identity provider's answer was refused (${(cause as { code?: string }).code ?? 'invalid'})` }, cause });
    }
    const subject = String(answer.claims()?.sub ?? '');
    const tokens = this.tokensOf(answer, subject, undefined, this.now() + this.settings.maxAgeMs);
    const cookie = newCookie();
    await this.save(hash(cookie), tokens);
    return { cookie, then: pending.then, subject };
  }

  /** The login's access token, refreshed first when it is about to expire; undefined once the login is over. */
  async accessToken(cookie: string): Promise<string | undefined> {
    const id = hash(cookie);
    let tokens = await this.read(id);
    if (!tokens) return undefined;
    if (tokens.expiresAt - this.now() < this.settings.refreshBeforeMs) {
      let refreshing = this.#refreshing.get(id);
      if (!refreshing) {
        refreshing = this.refresh(id, tokens).finally(() => this.#refreshing.delete(id));
        this.#refreshing.set(id, refreshing);
      }
      tokens = await refreshing;
    }
    return tokens?.access;
  }

  /** Ends the login here and at the provider: the URL to send the browser to (the provider's end-session endpoint, if it has one). */
  async logout(cookie: string | undefined, baseUrl: string): Promise<string> {
    const after = this.settings.postLogoutRedirectUrl ?? `${baseUrl}/`;
    const id = cookie ? hash(cookie) : undefined;
    const tokens = id ? await this.read(id) : undefined;
    if (id) await this.store.delete('session', id);
    if (!tokens) return after;
    const configuration = await this.issuer.configuration().catch(() => undefined);
    if (!configuration) return after;
    if (tokens.refresh && configuration.serverMetadata().revocation_endpoint) {
      await oidc.tokenRevocation(configuration, tokens.refresh, { token_type_hint: 'refresh_token' }).catch(() => undefined);
    }
    if (!configuration.serverMetadata().end_session_endpoint) return after;
    return oidc.buildEndSessionUrl(configuration, {
      post_logout_redirect_uri: after, ...(tokens.idToken ? { id_token_hint: tokens.idToken } : {}),
    }).href;
  }

  private async refresh(id: string, tokens: Tokens): Promise<Tokens | undefined> {
    if (!tokens.refresh) {
      if (tokens.expiresAt > this.now()) return tokens;
      await this.store.delete('session', id);
      return undefined;
    }
    let answer: oidc.TokenEndpointResponse;
    try {
      answer = await oidc.refreshTokenGrant(await this.issuer.configuration(), tokens.refresh);
    } catch (cause) {
      if (cause instanceof oidc.ResponseBodyError) {
        // The provider refused the refresh token (revoked, expired, the user logged out there): the login is over.
        await this.store.delete('session', id);
        return undefined;
      }
      // The provider cannot be reached: the login stays; its token serves while it is valid, then 503.
      if (tokens.expiresAt > this.now()) return tokens;
      throw cause instanceof BrokerError ? cause : new BrokerError('identity-provider-unavailable', { cause });
    }
    const next = this.tokensOf(answer, tokens.subject, tokens, tokens.until);
    await this.save(id, next);
    return next;
  }

  private tokensOf(answer: oidc.TokenEndpointResponse, subject: string, before: Tokens | undefined, until: number): Tokens {
    const refresh = answer.refresh_token ?? before?.refresh;
    const idToken = answer.id_token ?? before?.idToken;
    return {
      subject, access: answer.access_token, until,
      expiresAt: this.now() + (answer.expires_in ?? 300) * 1000,
      ...(refresh ? { refresh } : {}), ...(idToken ? { idToken } : {}),
    };
  }

  private async save(id: string, tokens: Tokens): Promise<void> {
    // Without a refresh token a login lasts as long as its access token.
    const until = tokens.refresh ? tokens.until : Math.min(tokens.until, tokens.expiresAt);
    await this.store.put('session', id, this.cipher.seal(JSON.stringify(tokens), `login:${id}`), until - this.now());
  }

  private async read(id: string): Promise<Tokens | undefined> {
    const sealed = await this.store.get('session', id);
    const plain = sealed ? this.cipher.open(sealed, `login:${id}`) : undefined;
    return plain ? (JSON.parse(plain) as Tokens) : undefined;
  }
}
