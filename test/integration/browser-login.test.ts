import { randomUUID } from 'node:crypto';
import { oidcEnv, startIdentityProvider, type TestIdentityProvider } from '../support/oidc-provider.js';
import { demoSite, startTestBroker, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const PUBLIC = 'https://broker.test.example';

/**
 * The page's login and the IVOA conventions, without a browser (web-page-login.test.ts drives one
 * through the provider's form): the 401 challenges a VO client reads, VOSI's security methods,
 * the login's start (PKCE, state, nonce, a Secure __Host- cookie behind TLS) and its refusals.
 */
describe('logging in, and the IVOA authentication conventions', () => {
  let idp: TestIdentityProvider;
  let broker: TestBroker;
  /** The same, as if behind TLS: its public URL is https. */
  let behindTls: TestBroker;
  beforeAll(async () => {
    idp = await startIdentityProvider();
    const sites = [demoSite({ preparationMs: 0, releasingMs: 0 })];
    broker = await startTestBroker({ env: oidcEnv(idp.issuer), config: { sites } });
    behindTls = await startTestBroker({ env: { ...oidcEnv(idp.issuer), PUBLIC_URL: PUBLIC }, config: { sites } });
    // Logins' access tokens last 30 s, under the broker's 60 s margin: every use refreshes first.
    idp.allowLogin({ redirectUri: `${PUBLIC}/login/callback`, postLogoutRedirectUri: `${PUBLIC}/`, accessTtlSeconds: 30 });
  });
  afterAll(async () => {
    await behindTls?.close();
    await broker?.close();
    await idp?.close();
  });

  it('answers 401 with a Bearer challenge and AuthVO\'s ivoa_bearer naming the issuer\'s discovery document, which serves', async () => {
    for (const response of [await broker.http.get('/sessions'), await broker.http.get('/sessions').set('Authorization', 'Bearer not.a.token')]) {
      expect(response.status).toBe(401);
      const challenges = response.headers['www-authenticate'] as string;
      expect(challenges).toMatch(/^Bearer realm="ExecutionBroker"/);
      expect(challenges).toContain(`ivoa_bearer standard_id="ivo://ivoa.net/sso#OAuth", access_url="${idp.issuer}/.well-known/openid-configuration"`);
    }
    const discovery = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Doc;
    expect(discovery).toMatchObject({ issuer: idp.issuer, authorization_endpoint: expect.any(String), token_endpoint: expect.any(String) });
    // A 403 is no call to authenticate: no ivoa_bearer with it.
    const outsider = await broker.http.get('/sessions').set('Authorization', `Bearer ${await idp.tokenFor('mallory')}`);
    expect(outsider.status).toBe(403);
    expect(outsider.headers['www-authenticate']).not.toContain('ivoa_bearer');
  });

  it('says who an authenticated answer was for in X-VO-Authenticated', async () => {
    const mine = await broker.http.get('/sessions').set('Authorization', `Bearer ${await idp.tokenFor('alice')}`).expect(200);
    expect(mine.headers['x-vo-authenticated']).toBe('alice');
  });

  it('lists the token, OAuth and cookie security methods on the broker\'s interface in VOSI capabilities, none on VOSI\'s own', async () => {
    const text = (await broker.http.get('/capabilities').expect(200)).text;
    const broker_ = text.slice(text.indexOf('standardID="ivo://ivoa.net/std/ExecutionBroker'));
    for (const method of ['ivo://ivoa.net/sso#token', 'ivo://ivoa.net/sso#OAuth', 'ivo://ivoa.net/sso#cookie']) {
      expect(broker_).toContain(`<securityMethod standardID="${method}"/>`);
    }
    expect(text.slice(0, text.indexOf('standardID="ivo://ivoa.net/std/ExecutionBroker')).match(/securityMethod/g)).toBeNull();
  });

  it('starts a login at the provider with PKCE, state and nonce, behind TLS with a Secure, HttpOnly, __Host- cookie', async () => {
    const started = await behindTls.http.get('/login?then=%23%2Fsessions').expect(303);
    const to = new URL(started.headers.location as string);
    expect(`${to.origin}${to.pathname}`).toBe(`${idp.issuer}/auth`);
    expect(Object.fromEntries(to.searchParams)).toMatchObject({
      client_id: 'execution-broker', response_type: 'code', redirect_uri: `${PUBLIC}/login/callback`, scope: 'openid offline_access eb:use',
      code_challenge_method: 'S256', code_challenge: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), state: expect.any(String), nonce: expect.any(String),
    });
    const cookie = (started.headers['set-cookie'] as unknown as string[])[0]!;
    expect(cookie).toMatch(/^__Host-eb-login-pending=[A-Za-z0-9_-]{43}; /);
    expect(cookie.split('; ').slice(1).sort()).toEqual(expect.arrayContaining(['HttpOnly', 'Path=/', 'SameSite=Lax', 'Secure']));
    expect(cookie).not.toMatch(/Domain=/i);
    // Without TLS the same cookie is neither Secure nor prefixed (a browser would drop it).
    const plain = (await broker.http.get('/login').expect(303)).headers['set-cookie'] as unknown as string[];
    expect(plain[0]).toMatch(/^eb-login-pending=.*; HttpOnly; SameSite=Lax$/);
  });

  /**
   * The provider's side of a login as a browser would go through it (its login form and consent,
   * any password), without one: a cookie jar and redirects followed by hand, to the broker's callback.
   */
  async function throughProvider(authorizeUrl: string, user: string): Promise<URL> {
    const jar = new Map<string, string>();
    let url = authorizeUrl;
    let body: URLSearchParams | undefined;
    for (let step = 0; step < 20; step++) {
      const response = await fetch(url, {
        method: body ? 'POST' : 'GET', redirect: 'manual', ...(body ? { body } : {}),
        headers: { cookie: [...jar].map(([name, value]) => `${name}=${value}`).join('; ') },
      });
      for (const cookie of response.headers.getSetCookie()) {
        const [pair] = cookie.split(';');
        const at = pair!.indexOf('=');
        jar.set(pair!.slice(0, at), pair!.slice(at + 1));
      }
      body = undefined;
      const location = response.headers.get('location');
      if (location) {
        const next = new URL(location, url);
        if (next.href.startsWith(PUBLIC)) return next;
        url = next.href;
        continue;
      }
      const page = await response.text();
      const action = /<form[^>]*action="([^"]+)"/.exec(page)?.[1];
      if (!action) throw new Error(`the provider showed no form: ${page.slice(0, 300)}`);
      url = new URL(action, url).href;
      body = page.includes('name="login"')
        ? new URLSearchParams({ prompt: 'login', login: user, password: 'any password' })
        : new URLSearchParams({ prompt: 'consent' });
    }
    throw new Error('the provider never sent the browser back');
  }

  it('logs in behind TLS with a Secure, HttpOnly, SameSite=Strict __Host- cookie that serves the user\'s requests, and out again', async () => {
    const started = await behindTls.http.get('/login').expect(303);
    const pending = (started.headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!;
    const back = await throughProvider(started.headers.location as string, 'alice');
    expect(back.pathname).toBe('/login/callback');
    const done = await behindTls.http.get(`${back.pathname}${back.search}`).set('Cookie', pending).expect(303);
    expect(done.headers.location).toBe('/');
    const cookies = done.headers['set-cookie'] as unknown as string[];
    const login = cookies.find((cookie) => cookie.startsWith('__Host-eb-login='))!;
    expect(login.split('; ').slice(1)).toEqual(expect.arrayContaining(['Path=/', 'HttpOnly', 'Secure', 'SameSite=Strict']));
    expect(login).not.toMatch(/Domain=/i);
    expect(cookies.some((cookie) => cookie.startsWith('__Host-eb-login-pending=;'))).toBe(true);
    const loginCookie = login.split(';')[0]!;
    // The login's tokens are in Redis, sealed: the cookie names them, and no token is in the answer.
    expect(JSON.stringify(done.headers)).not.toMatch(/eyJ/);
    const mine = await behindTls.http.get('/sessions').set('Cookie', loginCookie).expect(200);
    expect(mine.headers['x-vo-authenticated']).toBe('alice');
    // The plain-named cookie is not the login behind TLS (a network attacker could have set it).
    expect((await behindTls.http.get('/sessions').set('Cookie', loginCookie.replace('__Host-', ''))).status).toBe(401);
    const out = await behindTls.http.post('/logout').set('Cookie', loginCookie).set('Origin', PUBLIC).expect(200);
    expect(out.body.location).toMatch(new RegExp(`^${idp.issuer}/session/end\\?`));
    expect(new URL(out.body.location as string).searchParams.get('post_logout_redirect_uri')).toBe(`${PUBLIC}/`);
    expect((await behindTls.http.get('/sessions').set('Cookie', loginCookie)).status).toBe(401);
  });

  it('refreshes a login\'s access token before it expires, and ends the login when the provider refuses the refresh', async () => {
    const started = await behindTls.http.get('/login').expect(303);
    const pending = (started.headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!;
    const back = await throughProvider(started.headers.location as string, 'bob');
    const done = await behindTls.http.get(`${back.pathname}${back.search}`).set('Cookie', pending).expect(303);
    const cookie = (done.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('__Host-eb-login='))!.split(';')[0]!;
    const before = idp.grants.refresh_token ?? 0;
    expect((await behindTls.http.get('/sessions').set('Cookie', cookie).expect(200)).headers['x-vo-authenticated']).toBe('bob');
    expect(idp.grants.refresh_token ?? 0).toBe(before + 1);
    idp.forgetRefreshTokens();
    const ended = await behindTls.http.get('/sessions').set('Cookie', cookie).expect(401);
    expect(ended.body.detail).toBe('The login has ended; log in again');
    expect(ended.headers['www-authenticate']).toContain('ivoa_bearer');
  });

  it('refuses a callback this browser did not start, or one with another state, and a login completes once only', async () => {
    const stranger = await behindTls.http.get('/login/callback?code=x&state=y').expect(400);
    expect(stranger.body).toMatchObject({ code: 'login-failed' });
    // A browser is shown a page saying why, with the way back in (nothing on it runs).
    const shown = await behindTls.http.get('/login/callback?code=x&state=y').set('Accept', 'text/html,application/xhtml+xml,*/*;q=0.8').expect(400);
    expect(shown.headers['content-type']).toMatch(/^text\/html/);
    expect(shown.headers['content-security-policy']).toContain("default-src 'none'");
    expect(shown.text).toContain('this browser started no login here');
    expect(shown.text).toContain('<a href="/login">Log in again</a>');
    const started = await behindTls.http.get('/login').expect(303);
    const cookie = (started.headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!;
    const forged = await behindTls.http.get(`/login/callback?code=x&state=${randomUUID()}&iss=${encodeURIComponent(idp.issuer)}`).set('Cookie', cookie).expect(400);
    expect(forged.body.detail).toMatch(/^The login did not complete: the identity provider's answer was refused/);
    const again = await behindTls.http.get('/login/callback?code=x&state=y').set('Cookie', cookie).expect(400);
    expect(again.body.detail).toContain('this browser started no login here');
    const denied = await behindTls.http.get('/login').expect(303);
    const deniedCookie = (denied.headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!;
    const answer = await behindTls.http.get('/login/callback?error=access_denied').set('Cookie', deniedCookie).expect(400);
    expect(answer.body.detail).toBe('The login did not complete: the identity provider answered access_denied');
  });

  it('refuses a logout, or any cookie request that changes something, from another origin', async () => {
    const logout = await broker.http.post('/logout').set('Origin', 'http://127.0.0.1:1').expect(403);
    expect(logout.body).toMatchObject({ code: 'cross-origin-request' });
    // A cookie that names no login is no login: 401 for a read, and still 403 from another origin for a change.
    const cookie = `eb-login=${'a'.repeat(43)}`;
    expect((await broker.http.get('/sessions').set('Cookie', cookie)).status).toBe(401);
    const change = await broker.http.post(`/sessions/${randomUUID()}`).set('Cookie', cookie).set('Origin', 'http://127.0.0.1:1')
      .set('Content-Type', 'application/json').send('{}');
    expect({ status: change.status, code: change.body.code }).toEqual({ status: 403, code: 'cross-origin-request' });
    // From its own origin the logout is answered with where to go next.
    const own = await broker.http.post('/logout').set('Origin', broker.baseUrl).expect(200);
    expect(own.body).toEqual({ location: `${broker.baseUrl}/` });
  });
});
