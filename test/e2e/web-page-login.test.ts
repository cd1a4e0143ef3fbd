import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { describeWithChromium, launchBrowser, screenshot, type TestBrowser } from '../support/browser.js';
import { oidcEnv, startIdentityProvider, type TestIdentityProvider } from '../support/oidc-provider.js';
import { jupyterForTests } from '../support/jupyter.js';
import { logIn as logInAs } from '../support/log-in.js';
import { sandboxForTests } from '../support/sandbox.js';
import { demoSite, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const update = (value: string): string => JSON.stringify({ kind: 'uri:enum-value-update', path: '/phase', value });
/** A session's app: a page that talks back over a WebSocket at its own path, echoing what reached it (Cookie and Authorization included). */
const SESSION_APP = readFileSync(new URL('../fixtures/session-app.cjs', import.meta.url), 'utf8');

/** A notebook for the page to ask for: one cell, which the test replaces and runs in the browser. */
const NOTEBOOK = JSON.stringify({
  cells: [{ cell_type: 'code', execution_count: null, id: 'c1', metadata: {}, outputs: [], source: "print('hello')" }],
  metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }, nbformat: 4, nbformat_minor: 5,
});
const notebooks = await jupyterForTests('the notebook through the proxy in Chromium') && await sandboxForTests('the notebook through the proxy in Chromium');

/**
 * Logging in on the page with the broker as the OAuth client, against a real OpenID provider
 * (its own login form, filled in the browser), and reaching a session's HTTP port (and its
 * WebSocket) through the broker's proxy: the owner only, while it runs, until they log out.
 */
describeWithChromium('logging in on the page, and a session through the proxy', () => {
  let idp: TestIdentityProvider;
  let broker: TestBroker;
  let alice: TestBrowser;
  let bob: TestBrowser;
  let elsewhere: Server;
  let files: Server;
  let uuid = '';
  let notebookSession = '';
  beforeAll(async () => {
    idp = await startIdentityProvider();
    // Access tokens of logins last 20 s and are refreshed when under 15 s are left: within 5 s.
    broker = await startTestBroker({
      env: { ...oidcEnv(idp.issuer), OIDC_REFRESH_BEFORE: 'PT15S' },
      config: { sites: [demoSite({ preparationMs: 0, releasingMs: 0 })] },
    });
    idp.allowLogin({ redirectUri: `${broker.baseUrl}/login/callback`, postLogoutRedirectUri: `${broker.baseUrl}/`, accessTtlSeconds: 20 });
    // Alice's script (a bearer token, as ever) starts her session: a web app on a port with access: true.
    const token = await idp.tokenFor('alice', { ttlSeconds: 3600 });
    const body = {
      meta: { name: 'alice-app' },
      executable: {
        kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/usr/bin/env', command: ['node', '-e', SESSION_APP],
        network: { ports: [{ access: true, internal: { port: 8888 }, protocol: 'HTTP', path: '/app/index.html' }] },
      },
      compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 } },
      schedule: { requested: { duration: 'PT10M' } },
    };
    const bearer = { Authorization: `Bearer ${token}` };
    const set = (await broker.http.post('/requests').set(bearer).set('Content-Type', 'application/json').send(JSON.stringify(body)).expect(303)).body as Doc;
    uuid = set.offers[0].meta.uuid as string;
    await broker.http.post(`/sessions/${uuid}`).set(bearer).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
    for (let i = 0; i < 300; i++) {
      const session = (await broker.http.get(`/sessions/${uuid}`).set(bearer).expect(200)).body as Doc;
      if (session.phase === 'RUNNING' && (session.connectors as Doc[]).some((c) => c.status === 'AVAILABLE' && c.kind === 'urn:srcnet:connector:port')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // A page of another origin on the same site (another port of 127.0.0.1): it posts a form to the broker.
    elsewhere = createServer((_req, res) => {
      res.setHeader('Content-Type', 'text/html');
      res.end(`<!doctype html><form id="f" method="POST" enctype="text/plain" action="${broker.baseUrl}/sessions/${uuid}">`
        + '<input name=\'{"kind":"uri:enum-value-update","path":"/phase","value":"CANCELLED","x":"\' value=\'"}\'></form><script>document.getElementById("f").submit()</script>');
    });
    await new Promise<void>((ready) => elsewhere.listen(0, '127.0.0.1', ready));
    files = createServer((_req, res) => { res.setHeader('Content-Type', 'application/x-ipynb+json'); res.end(NOTEBOOK); });
    await new Promise<void>((ready) => files.listen(0, '127.0.0.1', ready));
    alice = await launchBrowser();
    bob = await launchBrowser();
  }, 90_000);
  afterAll(async () => {
    if (notebookSession) await broker.http.post(`/sessions/${notebookSession}`).set('Authorization', `Bearer ${await idp.tokenFor('alice')}`).set('Content-Type', 'application/json').send(update('CANCELLED'));
    if (uuid) await broker.http.post(`/sessions/${uuid}`).set('Authorization', `Bearer ${await idp.tokenFor('alice')}`).set('Content-Type', 'application/json').send(update('CANCELLED'));
    await alice?.close();
    await bob?.close();
    await new Promise((done) => elsewhere?.close(done));
    await new Promise((done) => files?.close(done));
    await broker?.close();
    await idp?.close();
  }, 60_000);

  const logIn = (page: Page, user: string): Promise<void> => logInAs(page, broker.baseUrl, idp.issuer, user);

  const proxied = (): string => `${broker.baseUrl}/sessions/${uuid}/connect/app/index.html`;

  it('sends the user to the provider\'s login form and back, logged in with an HttpOnly SameSite=Strict cookie, seeing their own sessions', async () => {
    const { page, requests } = await alice.newPage();
    await logIn(page, 'alice');
    await page.locator(`section.sessions tr[data-uuid="${uuid}"]`).waitFor();
    await screenshot(page, 'logged-in-as-alice');
    const cookies = await alice.context.cookies(broker.baseUrl);
    const login = cookies.find((cookie) => cookie.name === 'eb-login');
    // Plain http here (no TLS): not Secure; behind TLS it is Secure and __Host- (login-and-proxy.test.ts).
    expect(login).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/', secure: false });
    expect(cookies.map((cookie) => cookie.name)).not.toContain('eb-login-pending');
    // The page holds no token: nothing in its storage, nothing in a URL it asked for.
    expect(await page.evaluate(() => JSON.stringify({ ...(globalThis as any).sessionStorage, ...(globalThis as any).localStorage }))).toBe('{}');
    expect(requests.filter((url) => /access_token|[?&]code=/.test(url) && url.startsWith(`${broker.baseUrl}/sessions`))).toEqual([]);
  }, 60_000);

  it('opens the session\'s app through the proxy from its page, its WebSocket too; the app never sees the broker\'s cookie', async () => {
    const { page, problems } = await alice.newPage();
    await page.goto(`${broker.baseUrl}/#/sessions/${uuid}`);
    await page.locator('article.session-page[data-phase="RUNNING"]').waitFor();
    const open = page.getByRole('link', { name: /^Open / });
    expect(await open.getAttribute('href')).toBe(proxied());
    const [tab] = await Promise.all([alice.context.waitForEvent('page'), open.click()]);
    await tab.waitForLoadState();
    expect(tab.url()).toBe(proxied());
    // The app was asked for its own path, the proxy's prefix taken off; its WebSocket went through the proxy both ways.
    expect(await tab.locator('#path').textContent()).toBe('/app/index.html');
    await tab.locator('#ws', { hasText: 'echo' }).waitFor();
    expect(await tab.locator('#ws').textContent()).toBe('echo /app/echo: hello through the proxy (cookie=none)');
    const seen = await (await tab.goto(`${broker.baseUrl}/sessions/${uuid}/connect/other?x=1`))!.text();
    expect(seen).toBe('seen: GET /other?x=1 cookie=none authorization=none');
    // No path leads anywhere but the session's own port: another host's or port's name is only a path to the app.
    const other = (elsewhere.address() as AddressInfo).port;
    for (const trick of [`//127.0.0.1:${other}/`, `/..%2F..%2F127.0.0.1:${other}/`, `/http://127.0.0.1:${other}/`]) {
      const answer = await alice.context.request.get(`${broker.baseUrl}/sessions/${uuid}/connect${trick}`);
      expect(await answer.text()).toMatch(/^seen: GET \/.* cookie=none authorization=none$/);
    }
    await tab.close();
    expect(problems).toEqual([]);
  }, 60_000);

  (notebooks ? it : it.skip)('starts a notebook from the page, opens it through the proxy and runs a cell over the kernel\'s WebSocket', async () => {
    const { page } = await alice.newPage();
    await page.goto(broker.baseUrl);
    await page.locator('section.timelines[data-ready="true"]').waitFor();
    await page.getByLabel('Kind', { exact: true }).selectOption('jupyter-notebook');
    await page.getByLabel('Name', { exact: true }).fill('alice-notebook');
    await page.getByLabel('Notebook URL').fill(`http://127.0.0.1:${(files.address() as AddressInfo).port}/analysis.ipynb`);
    await page.getByRole('button', { name: 'Ask for offers' }).click();
    await page.getByRole('button', { name: 'Accept offer 1' }).click();
    await page.waitForURL(/#\/sessions\/[0-9a-f-]{36}$/);
    const notebookUuid = page.url().slice(-36);
    const open = page.locator('li[data-kind="urn:srcnet:connector:notebook"] a.open');
    await open.waitFor({ timeout: 40_000 });
    const url = `${broker.baseUrl}/sessions/${notebookUuid}/connect/notebooks/analysis.ipynb`;
    expect(await open.getAttribute('href')).toBe(url);
    await screenshot(page, 'session-page-notebook-through-proxy', { selector: 'article.session-page' });
    const [tab] = await Promise.all([alice.context.waitForEvent('page'), open.click()]);
    await tab.waitForLoadState();
    expect(tab.url()).toBe(url);
    // Jupyter's own page, through the proxy: its kernel starts, and a cell runs over its WebSocket.
    await tab.locator('#kernel_indicator_icon.kernel_idle_icon').waitFor({ timeout: 40_000 });
    await tab.locator('.cell .CodeMirror').first().click();
    await tab.keyboard.press('Control+A');
    await tab.keyboard.type('sum(range(10)) * 7');
    await tab.keyboard.press('Shift+Enter');
    const result = tab.locator('.cell').first().locator('.output_result');
    await result.waitFor({ timeout: 30_000 });
    expect((await result.textContent())?.trim()).toBe('315');
    await screenshot(tab, 'notebook-through-proxy');
    await tab.close();
    notebookSession = notebookUuid;
  }, 120_000);

  it('answers another logged-in user 404 on the first user\'s proxy URL, as for a session that does not exist', async () => {
    const { page } = await bob.newPage();
    await logIn(page, 'bob');
    // Bob's browser, with his login cookie (a problem document is not a page: asked as the browser's context).
    const theirs = await bob.context.request.get(proxied());
    expect(theirs.status()).toBe(404);
    const unknown = await bob.context.request.get(`${broker.baseUrl}/sessions/00000000-0000-4000-8000-000000000000/connect/app/index.html`);
    expect(unknown.status()).toBe(404);
    expect((await theirs.json()).title).toBe((await unknown.json()).title);
    if (notebookSession) expect((await bob.context.request.get(`${broker.baseUrl}/sessions/${notebookSession}/connect/notebooks/analysis.ipynb`)).status()).toBe(404);
    // A WebSocket from his page, on the broker's own origin, is refused too.
    await page.goto(broker.baseUrl);
    const said = await page.evaluate((url) => new Promise<string>((done) => {
      const ws = new (globalThis as any).WebSocket(url);
      ws.onopen = () => done('open');
      ws.onerror = () => done('refused');
    }), `${broker.baseUrl.replace('http', 'ws')}/sessions/${uuid}/connect/app/echo`);
    expect(said).toBe('refused');
  }, 60_000);

  it('refuses a form posted from another origin with the cookie, and the session runs on', async () => {
    const { page } = await alice.newPage();
    const answer = page.waitForResponse((response) => response.url() === `${broker.baseUrl}/sessions/${uuid}` && response.request().method() === 'POST');
    await page.goto(`http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/`);
    const refused = await answer;
    expect(refused.status()).toBe(403);
    // The cookie came with it (the other origin is on the same site): the Origin check refused it.
    const sent = await refused.request().allHeaders();
    expect(sent.cookie).toMatch(/(^|; )eb-login=/);
    expect(sent.origin).toBe(`http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`);
    const token = await idp.tokenFor('alice');
    expect(((await broker.http.get(`/sessions/${uuid}`).set('Authorization', `Bearer ${token}`).expect(200)).body as Doc).phase).toBe('RUNNING');
  }, 60_000);

  it('refreshes the login\'s access token before it expires', async () => {
    const before = idp.grants.refresh_token ?? 0;
    await new Promise((r) => setTimeout(r, 6_000));
    const { page } = await alice.newPage();
    await page.goto(broker.baseUrl);
    await page.getByText('Signed in as alice').waitFor();
    expect(idp.grants.refresh_token ?? 0).toBeGreaterThan(before);
  }, 60_000);

  it('logs out at the broker and the provider; the session\'s app can no longer be opened', async () => {
    const { page } = await alice.newPage();
    await page.goto(broker.baseUrl);
    await page.getByText('Signed in as alice').waitFor();
    const kept = (await alice.context.cookies(broker.baseUrl)).find((cookie) => cookie.name === 'eb-login');
    expect((await alice.context.request.get(proxied())).status()).toBe(200);
    await page.getByRole('button', { name: 'Log out' }).click();
    // RP-initiated logout: the provider asks, then sends the browser back to the page.
    await page.waitForURL((url) => url.href.startsWith(idp.issuer));
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.waitForURL((url) => url.href.startsWith(broker.baseUrl));
    await page.getByRole('heading', { name: 'Log in to use this broker' }).waitFor();
    expect((await alice.context.cookies(broker.baseUrl)).map((cookie) => cookie.name)).not.toContain('eb-login');
    expect((await alice.context.request.get(proxied())).status()).toBe(401);
    if (notebookSession) expect((await alice.context.request.get(`${broker.baseUrl}/sessions/${notebookSession}/connect/notebooks/analysis.ipynb`)).status()).toBe(401);
    // The old cookie, kept by someone, opens nothing either: its login is gone from the broker.
    await alice.context.addCookies([{ ...kept!, sameSite: 'Strict' }]);
    const again = await alice.context.request.get(proxied());
    expect(again.status()).toBe(401);
    expect(again.headers()['www-authenticate']).toContain('ivoa_bearer');
  }, 60_000);
});
