import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT, type JWK } from 'jose';
import { OidcIssuer } from '../../src/auth/oidc-issuer.js';
import { BrokerClient } from '../../src/client/broker-client.js';
import { TokenVerifier } from '../../src/auth/token-verifier.js';
import { loadConfig } from '../../src/config/load-config.js';
import { oidcEnv, startIdentityProvider, type TestIdentityProvider } from '../support/oidc-provider.js';
import { dockerRequest, startTestBroker, type TestBroker } from '../support/test-broker.js';

const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Bearer tokens checked against a real OpenID provider on loopback (oidc-provider). */
describe('bearer tokens', () => {
  let idp: TestIdentityProvider & { keys: JWK[] };
  let broker: TestBroker;
  beforeAll(async () => {
    idp = await startIdentityProvider();
    broker = await startTestBroker({ env: oidcEnv(idp.issuer) });
  });
  afterAll(async () => {
    await broker?.close();
    await idp?.close();
  });

  const offers = (token?: string) => {
    const call = broker.http.post('/requests').set('Content-Type', 'application/json');
    if (token !== undefined) call.set('Authorization', `Bearer ${token}`);
    return call.send(JSON.stringify(dockerRequest()));
  };
  const refusedWith = async (token: string | undefined, status: number, challenge: RegExp, code: string) => {
    const response = await offers(token);
    expect({ status: response.status, code: response.body.code }).toEqual({ status, code });
    expect(response.headers['www-authenticate']).toMatch(challenge);
    expect(response.headers['x-vo-authenticated']).toBeUndefined();
    return response;
  };

  it('serves a valid token and says who it was in X-VO-Authenticated', async () => {
    const response = await offers(await idp.tokenFor('alice'));
    expect(response.status).toBe(303);
    expect(response.headers['x-vo-authenticated']).toBe('alice');
  });

  it('answers a request without a token with 401 and a bare Bearer challenge', async () => {
    await refusedWith(undefined, 401, /^Bearer realm="ExecutionBroker", ivoa_bearer standard_id="ivo:\/\/ivoa.net\/sso#OAuth", access_url="[^"]+"$/, 'authentication-required');
    const basic = await broker.http.get(`/sessions/${randomUUID()}`).set('Authorization', 'Basic YWxpY2U6cHc=');
    expect(basic.status).toBe(401);
    expect(basic.body.detail).toContain(idp.issuer);
  });

  it('refuses an expired token', async () => {
    const token = await idp.tokenFor('alice', { ttlSeconds: 1 });
    await new Promise((r) => setTimeout(r, 2100));
    await refusedWith(token, 401, /error="invalid_token", error_description="the token has expired"/, 'invalid-token');
  });

  it('refuses a token that is not valid yet (nbf)', async () => {
    await refusedWith(await idp.tokenFor('alice', { notBeforeSeconds: 3600 }), 401, /error_description="the token is not valid yet"/, 'invalid-token');
  });

  it('refuses a token meant for another audience', async () => {
    await refusedWith(await idp.tokenFor('alice', { audience: 'https://elsewhere.test.example' }), 401, /error_description="the token is meant for another audience"/, 'invalid-token');
  });

  it('refuses a token from another issuer, even one signed with the same keys', async () => {
    const other = await startIdentityProvider({ keys: idp.keys });
    try {
      const token = await other.tokenFor('alice');
      expect(decodeProtectedHeader(token).kid).toBe(idp.keys[0]?.kid);
      await refusedWith(token, 401, /error_description="the token was issued by another issuer"/, 'invalid-token');
    } finally {
      await other.close();
    }
  });

  it('refuses a token whose payload was changed after signing', async () => {
    const [header, , signature] = (await idp.tokenFor('bob')).split('.');
    const forged = `${header}.${b64({ ...decodeJwt(await idp.tokenFor('bob')), sub: 'alice' })}.${signature}`;
    await refusedWith(forged, 401, /error_description="the token's signature does not verify"/, 'invalid-token');
  });

  // Hand-made tokens (fakes, named so): the provider would never sign these.
  it('refuses a token signed with another key under the issuer\'s key id', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const claims = decodeJwt(await idp.tokenFor('alice'));
    const forged = await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: idp.keys[0]?.kid }).sign(privateKey);
    await refusedWith(forged, 401, /error_description="the token's signature does not verify"/, 'invalid-token');
  });

  it('refuses alg none and an HMAC keyed with the issuer\'s public key', async () => {
    const claims = decodeJwt(await idp.tokenFor('alice'));
    await refusedWith(`${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(claims)}.`, 401, /error="invalid_token"/, 'invalid-token');
    const publicJwk = { ...idp.keys[0] };
    delete publicJwk.d;
    const hmacKey = new TextEncoder().encode(JSON.stringify(publicJwk));
    const confused = await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'HS256', kid: idp.keys[0]?.kid }).sign(hmacKey);
    const response = await refusedWith(confused, 401, /error="invalid_token"/, 'invalid-token');
    expect(response.body.detail).toMatch(/algorithm is not accepted/);
  });

  it('answers 403 insufficient_scope for a valid token without the required scope', async () => {
    const response = await refusedWith(await idp.tokenFor('alice', { scope: 'data:read' }), 403, /error="insufficient_scope", .*scope="eb:use"/, 'insufficient-scope');
    expect(response.body.detail).toBe('The token lacks the scope [eb:use]');
  });

  it('answers 403 for a valid token of a subject outside the required groups', async () => {
    await refusedWith(await idp.tokenFor('mallory'), 403, /error="insufficient_scope"/, 'insufficient-group');
  });

  it('checks an opaque token at the issuer\'s introspection endpoint', async () => {
    const opaque = await idp.tokenFor('alice', { format: 'opaque' });
    expect(opaque.split('.')).toHaveLength(1);
    const response = await offers(opaque);
    expect(response.status).toBe(303);
    expect(response.headers['x-vo-authenticated']).toBe('alice');
    await refusedWith(await idp.tokenFor('alice', { format: 'opaque', audience: 'https://elsewhere.test.example' }), 401, /another audience/, 'invalid-token');
    await refusedWith('not-a-token-the-issuer-knows', 401, /error_description="the issuer says the token is not active"/, 'invalid-token');
  });

  it('follows a key rotated at the issuer: old-key tokens fail, new ones work', async () => {
    const before = await idp.tokenFor('alice');
    expect((await offers(before)).status).toBe(303);
    await idp.rotateKeys();
    const after = await idp.tokenFor('alice');
    expect(decodeProtectedHeader(after).kid).not.toBe(decodeProtectedHeader(before).kid);
    await new Promise((r) => setTimeout(r, 300)); // past the JWKS refetch cooldown (PT0.2S here)
    expect((await offers(after)).status).toBe(303);
    await refusedWith(before, 401, /error_description="the token is signed with a key the issuer does not publish"/, 'invalid-token');
  });

  it('fetches the JWKS for unknown key ids at most once per cooldown', async () => {
    const issuer = new OidcIssuer({ ...loadConfig(oidcEnv(idp.issuer)).auth.oidc!, jwksCooldownMs: 30_000 });
    const verifier = new TokenVerifier(issuer);
    const claims = await verifier.verify(await idp.tokenFor('alice'));
    expect(claims.claims.sub).toBe('alice');
    const before = idp.jwksFetches;
    const { privateKey } = await generateKeyPair('RS256');
    for (let i = 0; i < 10; i++) {
      const forged = await new SignJWT({ ...claims.claims }).setProtectedHeader({ alg: 'RS256', kid: `unknown-${i}` }).sign(privateKey);
      await expect(verifier.verify(forged)).rejects.toMatchObject({ code: 'invalid-token', values: { reason: 'the token is signed with a key the issuer does not publish' } });
    }
    // Inside the cooldown that followed the first fetch, ten unknown key ids fetch nothing more.
    expect(idp.jwksFetches - before).toBe(0);
  });

  it('keeps /availability and /capabilities readable without a token; capabilities name the token method', async () => {
    expect((await broker.http.get('/availability')).status).toBe(200);
    const capabilities = await broker.http.get('/capabilities');
    expect(capabilities.status).toBe(200);
    expect(capabilities.text).toContain('standardID="ivo://ivoa.net/sso#token"');
    expect(capabilities.text).toContain(`<accessURL use="base">${broker.baseUrl}/availability</accessURL>`);
  });

  it('serves the typed client (and so eb) with its token, and tells it why without one', async () => {
    const body = JSON.stringify(dockerRequest());
    const offers = await new BrokerClient({ baseUrl: broker.baseUrl, token: await idp.tokenFor('alice') }).requestOffers(body);
    expect(offers.result).toBe('YES');
    await expect(new BrokerClient({ baseUrl: broker.baseUrl }).requestOffers(body)).rejects.toMatchObject({ status: 401, problem: { code: 'authentication-required' } });
    await expect(new BrokerClient({ baseUrl: broker.baseUrl, token: await idp.tokenFor('bob') }).getOfferSet(offers.meta.uuid)).rejects.toMatchObject({ status: 404 });
  });

  it('reports the issuer it reaches as permissions-api UP in /v1/health', async () => {
    const health = await broker.http.get('/v1/health').expect(200);
    expect(health.body.dependent_services['permissions-api']).toEqual({ status: 'UP' });
  });

  it('answers 503 identity-provider-unavailable while the issuer cannot be reached', async () => {
    const port = await new Promise<number>((done) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => done(p)); }); });
    const lonely = await startTestBroker({ env: { ...oidcEnv(`http://127.0.0.1:${port}`), OIDC_INTROSPECTION: 'false' } });
    try {
      const response = await lonely.http.post('/requests').set('Authorization', `Bearer ${await idp.tokenFor('alice')}`).set('Content-Type', 'application/json').send('{}');
      expect({ status: response.status, code: response.body.code }).toEqual({ status: 503, code: 'identity-provider-unavailable' });
      // /v1/health says so as the SRCNet prototype's HealthResponse does: permissions-api DOWN, 500.
      expect((await lonely.http.get('/v1/health').expect(500)).body.dependent_services['permissions-api']).toEqual({ status: 'DOWN' });
    } finally {
      await lonely.close();
    }
  });

});
