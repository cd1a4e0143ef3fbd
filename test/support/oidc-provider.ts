// A real OpenID provider (oidc-provider) on 127.0.0.1 for the tests: discovery, a JWKS, JWT and
// opaque access tokens, introspection, and an RFC 8693 token-exchange grant for the broker.
// Users get tokens two ways: by logging in in a browser (authorization code with PKCE, the
// provider's development login form, where any password does) as the broker's client, once
// allowLogin() names the broker's callback; or, for scripts, by a test-only grant
// (TEST_LOGIN_GRANT) that issues a user's access token directly.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, type JWK } from 'jose';
import Provider, { errors, type Configuration } from 'oidc-provider';

export const TEST_LOGIN_GRANT = 'urn:test:grant-type:login';
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

export const BROKER_AUDIENCE = 'https://broker.test.example';
export const BROKER_CLIENT = { id: 'execution-broker', secret: 'broker-secret-for-tests-only' };
export const BROKER_SCOPE = 'eb:use';
/** Audiences the broker may exchange a user's token for: the sites'. */
export const SITE_AUDIENCE = 'https://data.site-a.test.example';
/** SRCNet's Data Management API (where SKAO data is located): the broker may exchange for it too. */
export const DATA_MANAGEMENT_AUDIENCE = 'https://data-management.test.example';

/** Users: two plain ones and an operator; groups as an IAM would list them. */
export const ACCOUNTS: Record<string, { groups: string[] }> = {
  alice: { groups: ['/ska', '/ska/users'] },
  bob: { groups: ['/ska', '/ska/users'] },
  olga: { groups: ['/ska', '/ska/users', '/ska/operators'] },
  mallory: { groups: ['/elsewhere'] },
};

export interface TokenOptions {
  audience?: string;
  scope?: string;
  ttlSeconds?: number;
  /** Seconds from now before which the token is not valid (`nbf`). */
  notBeforeSeconds?: number;
  format?: 'jwt' | 'opaque';
}

export interface Exchange { clientId: string; subject: string; audience: string; token: string }

export interface TestIdentityProvider {
  issuer: string;
  /** A user's access token, from the provider's token endpoint. */
  tokenFor(user: string, options?: TokenOptions): Promise<string>;
  /** Every token exchange the provider granted, newest last (the issued token included, for leak scans). */
  exchanges: Exchange[];
  /** Users whose exchanges the provider refuses (invalid_grant). */
  refuseExchangesFor: Set<string>;
  /** The provider's public keys, as a data server would check exchanged tokens with. */
  verify(token: string, audience: string): Promise<Record<string, unknown>>;
  /** How many times the provider's JWKS was fetched. */
  readonly jwksFetches: number;
  /**
   * Lets the broker's client log users in (authorization code, refresh tokens) with these
   * callback and post-logout URLs; access tokens from a login last `accessTtlSeconds` (600).
   */
  allowLogin(options: { redirectUri: string; postLogoutRedirectUri: string; accessTtlSeconds?: number }): void;
  /** Grants made at the token endpoint, by grant type (authorization_code, refresh_token, ...). */
  readonly grants: Record<string, number>;
  /** Forgets every refresh token it issued (as a provider does when the user's session there ends): refreshes are refused. */
  forgetRefreshTokens(): void;
  /** Restarts the provider at the same URL with a new signing key; the old one is no longer published. */
  rotateKeys(): Promise<void>;
  close(): Promise<void>;
}

async function signingKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: `k-${Math.random().toString(36).slice(2, 10)}`, use: 'sig', alg: 'RS256' };
}

/** The provider's state in memory (what its default adapter does, without the warning it prints). */
class MemoryAdapter {
  private static readonly store = new Map<string, { payload: Record<string, unknown>; until: number }>();
  constructor(private readonly model: string) {}
  private key(id: string): string { return `${this.model}:${id}`; }
  upsert(id: string, payload: Record<string, unknown>, expiresIn: number): Promise<void> {
    MemoryAdapter.store.set(this.key(id), { payload, until: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
    return Promise.resolve();
  }
  find(id: string): Promise<Record<string, unknown> | undefined> {
    const entry = MemoryAdapter.store.get(this.key(id));
    return Promise.resolve(entry && entry.until > Date.now() ? entry.payload : undefined);
  }
  /** Sessions are found by their uid (the login form's interaction looks its session up so). */
  findByUid(uid: string): Promise<Record<string, unknown> | undefined> {
    for (const [key, entry] of MemoryAdapter.store) {
      if (key.startsWith(`${this.model}:`) && entry.payload.uid === uid && entry.until > Date.now()) return Promise.resolve(entry.payload);
    }
    return Promise.resolve(undefined);
  }
  findByUserCode(): Promise<undefined> { return Promise.resolve(undefined); }
  consume(id: string): Promise<void> {
    const entry = MemoryAdapter.store.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
    return Promise.resolve();
  }
  destroy(id: string): Promise<void> { MemoryAdapter.store.delete(this.key(id)); return Promise.resolve(); }
  static forget(model: string): void {
    for (const key of [...MemoryAdapter.store.keys()]) if (key.startsWith(`${model}:`)) MemoryAdapter.store.delete(key);
  }
  revokeByGrantId(): Promise<void> { return Promise.resolve(); }
}

const publicPart = ({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...rest }: JWK): JWK => rest;

/**
 * Starts the provider on a random loopback port. `keys` shares another provider's signing keys:
 * its tokens then verify with the same keys but name another issuer.
 */
export async function startIdentityProvider(options: { keys?: JWK[] } = {}): Promise<TestIdentityProvider & { keys: JWK[] }> {
  let keys = options.keys ?? [await signingKey()];
  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => { res.statusCode = 503; res.end(); };
  let jwksFetches = 0;
  const server: Server = createServer((req, res) => {
    if (req.url === '/jwks') jwksFetches += 1;
    handle(req, res);
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const exchanges: Exchange[] = [];
  const refuseExchangesFor = new Set<string>();
  let login: { redirectUri: string; postLogoutRedirectUri: string; accessTtlSeconds?: number } | undefined;
  const grants: Record<string, number> = {};

  const build = (): Provider => {
    const resourceServer = (provider: Provider, audience: string, format: 'jwt' | 'opaque', scope: string) =>
      new (provider as unknown as { ResourceServer: new (id: string, data: object) => object }).ResourceServer(audience, { audience, scope, accessTokenFormat: format });
    const configuration: Configuration = {
      adapter: MemoryAdapter as never,
      jwks: { keys },
      clients: [
        { client_id: 'test-login', client_secret: 'test-login-secret', grant_types: [TEST_LOGIN_GRANT], redirect_uris: [], response_types: [] },
        login
          ? {
            client_id: BROKER_CLIENT.id, client_secret: BROKER_CLIENT.secret,
            grant_types: [TOKEN_EXCHANGE_GRANT, 'client_credentials', 'authorization_code', 'refresh_token'], response_types: ['code'],
            redirect_uris: [login.redirectUri], post_logout_redirect_uris: [login.postLogoutRedirectUri],
          }
          : { client_id: BROKER_CLIENT.id, client_secret: BROKER_CLIENT.secret, grant_types: [TOKEN_EXCHANGE_GRANT, 'client_credentials'], redirect_uris: [], response_types: [] },
      ],
      cookies: { keys: ['test-provider-cookie-key'] },
      scopes: ['openid', 'offline_access'],
      // Logins' access tokens, short-lived when a test asks (to see them refreshed).
      ttl: {
        AccessToken: (ctx, token) => ((token as { gty?: string }).gty?.split(' ').some((g) => g === 'authorization_code' || g === 'refresh_token')
          ? login?.accessTtlSeconds ?? 600 : (token as { expiresIn?: number }).expiresIn ?? 600),
        IdToken: 3600, Interaction: 600, Session: 3600, Grant: 3600, RefreshToken: 3600, AuthorizationCode: 60,
      },
      features: {
        // The provider's own login and consent pages (any login, any password): the browser tests fill them.
        devInteractions: { enabled: Boolean(login) },
        introspection: { enabled: true, allowedPolicy: (ctx) => ctx.oidc.client?.clientId === BROKER_CLIENT.id },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          // The token endpoint keeps only its grant's own parameters; `audience` is read from the body.
          defaultResource: (ctx) => String((ctx.oidc.body as Record<string, unknown> | undefined)?.audience ?? BROKER_AUDIENCE),
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, indicator) => ({ audience: indicator, scope: `${BROKER_SCOPE} data:read`, accessTokenFormat: 'jwt' }),
        },
      },
      // Groups as an IAM puts them in access tokens; `nbf` when a test asks for a token not valid yet.
      extraTokenClaims: (ctx, token) => {
        const accountId = (token as { accountId?: string }).accountId;
        const notBefore = Number((ctx.oidc.params as Record<string, unknown> | undefined)?.not_before ?? 0);
        return {
          ...(accountId && ACCOUNTS[accountId] ? { groups: ACCOUNTS[accountId].groups } : {}),
          ...(notBefore ? { nbf: Math.floor(Date.now() / 1000) + notBefore } : {}),
          ...((token as { gty?: string }).gty === 'token-exchange' ? { act: { sub: BROKER_CLIENT.id } } : {}),
        };
      },
    };
    const provider = new Provider(issuer, configuration);
    provider.on('grant.success', (ctx) => {
      const type = String((ctx.oidc.params as Record<string, unknown> | undefined)?.grant_type ?? '');
      grants[type] = (grants[type] ?? 0) + 1;
    });
    provider.registerGrantType(TEST_LOGIN_GRANT, async (ctx) => {
      const params = ctx.oidc.params as Record<string, string | undefined>;
      const user = params.username ?? '';
      if (!ACCOUNTS[user]) throw new errors.InvalidGrant('unknown user');
      const scope = params.scope ?? BROKER_SCOPE;
      const token = new provider.AccessToken({
        accountId: user, client: ctx.oidc.client, scope, gty: TEST_LOGIN_GRANT,
        resourceServer: resourceServer(provider, params.audience ?? BROKER_AUDIENCE, params.format === 'opaque' ? 'opaque' : 'jwt', scope),
        expiresIn: Number(params.ttl ?? 600),
      } as never);
      ctx.body = { access_token: await token.save(), token_type: 'Bearer', expires_in: Number(params.ttl ?? 600), scope };
    }, ['username', 'audience', 'scope', 'ttl', 'not_before', 'format']);

    // RFC 8693: the broker's client swaps a user's token meant for the broker for one meant for a site.
    provider.registerGrantType(TOKEN_EXCHANGE_GRANT, async (ctx) => {
      const params = ctx.oidc.params as Record<string, string | undefined>;
      if (params.subject_token_type !== ACCESS_TOKEN_TYPE || !params.subject_token) throw new errors.InvalidRequest('subject_token of type access_token required');
      let subject: string;
      try {
        const { payload } = await jwtVerify(params.subject_token, createLocalJWKSet({ keys: keys.map(publicPart) }), { issuer, audience: BROKER_AUDIENCE });
        subject = String(payload.sub);
      } catch {
        throw new errors.InvalidGrant('subject_token is not a valid token for the broker');
      }
      const audience = params.audience ?? '';
      if (audience !== SITE_AUDIENCE && audience !== DATA_MANAGEMENT_AUDIENCE) throw new errors.InvalidTarget('the broker may not get tokens for that audience');
      if (refuseExchangesFor.has(subject)) throw new errors.InvalidGrant('this user may not act at that audience');
      const scope = params.scope ?? 'data:read';
      const token = new provider.AccessToken({
        accountId: subject, client: ctx.oidc.client, scope, gty: 'token-exchange',
        resourceServer: resourceServer(provider, audience, 'jwt', scope), expiresIn: 300,
      } as never);
      const value = await token.save();
      exchanges.push({ clientId: ctx.oidc.client.clientId, subject, audience, token: value });
      ctx.body = { access_token: value, issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', expires_in: 300, scope };
    }, ['subject_token', 'subject_token_type', 'requested_token_type', 'audience', 'scope']);
    return provider;
  };

  const install = (): void => {
    const provider = build();
    const callback = provider.callback();
    handle = (req, res) => { void callback(req, res); };
  };
  install();

  const tokenEndpoint = `${issuer}/token`;
  return {
    issuer,
    get keys() { return keys; },
    get jwksFetches() { return jwksFetches; },
    exchanges,
    grants,
    forgetRefreshTokens() { MemoryAdapter.forget('RefreshToken'); },
    allowLogin(options) {
      login = options;
      install();
    },
    refuseExchangesFor,
    async tokenFor(user, options = {}) {
      const body = new URLSearchParams({
        grant_type: TEST_LOGIN_GRANT, username: user,
        audience: options.audience ?? BROKER_AUDIENCE,
        scope: options.scope ?? BROKER_SCOPE,
        ttl: String(options.ttlSeconds ?? 600),
        ...(options.notBeforeSeconds ? { not_before: String(options.notBeforeSeconds) } : {}),
        ...(options.format ? { format: options.format } : {}),
      });
      const response = await fetch(tokenEndpoint, {
        method: 'POST', body,
        headers: { authorization: `Basic ${Buffer.from('test-login:test-login-secret').toString('base64')}` },
      });
      const answer = (await response.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!answer.access_token) throw new Error(`the provider gave no token: ${answer.error} ${answer.error_description}`);
      return answer.access_token;
    },
    async verify(token, audience) {
      const { payload } = await jwtVerify(token, createLocalJWKSet({ keys: keys.map(publicPart) }), { issuer, audience });
      return payload as Record<string, unknown>;
    },
    async rotateKeys() {
      keys = [await signingKey()];
      install();
    },
    close: () => new Promise<void>((done) => { server.closeAllConnections(); server.close(() => done()); }),
  };
}

/** The broker's environment for an issuer: audience, scope, groups, introspection, no clock tolerance. */
export function oidcEnv(issuer: string): NodeJS.ProcessEnv {
  return {
    OIDC_ISSUER: issuer,
    OIDC_AUDIENCE: BROKER_AUDIENCE,
    OIDC_SCOPES: BROKER_SCOPE,
    OIDC_REQUIRED_GROUPS: '/ska',
    OIDC_OPERATOR_GROUP: '/ska/operators',
    OIDC_CLIENT_ID: BROKER_CLIENT.id,
    OIDC_CLIENT_SECRET: BROKER_CLIENT.secret,
    OIDC_INTROSPECTION: 'true',
    OIDC_CLOCK_TOLERANCE: 'PT0S',
    OIDC_JWKS_COOLDOWN: 'PT0.2S',
  };
}
