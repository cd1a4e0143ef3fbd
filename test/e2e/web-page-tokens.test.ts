import type { Page } from 'playwright-core';
import { describeWithChromium, launchBrowser, screenshot, type TestBrowser } from '../support/browser.js';
import { logIn } from '../support/log-in.js';
import { oidcEnv, startIdentityProvider, type TestIdentityProvider } from '../support/oidc-provider.js';
import { demoSite, dockerRequest, startTestBroker, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const HOUR = 3600_000;

/**
 * The web page against a broker that needs tokens (a real OpenID provider): a prompt to log in
 * without one, the login at the provider (no token ever reaches the page), and only what the API
 * gives that user: their own sessions, others' reservations without who or what; an operator
 * sees everything.
 */
describeWithChromium('the web page with tokens', () => {
  let idp: TestIdentityProvider;
  let broker: TestBroker;
  let browser: TestBrowser;
  const tokens: Record<string, string> = {};
  const sessions: Record<string, string> = {};
  beforeAll(async () => {
    idp = await startIdentityProvider();
    broker = await startTestBroker({ env: oidcEnv(idp.issuer), config: { sites: [demoSite({ preparationMs: 0, releasingMs: 0 })] } });
    for (const user of ['alice', 'bob', 'olga']) tokens[user] = await idp.tokenFor(user, { ttlSeconds: 3600 });
    // Alice and Bob each accept a session an hour from now: both hold capacity on the timeline.
    for (const [user, name] of [['alice', 'alice-analysis'], ['bob', 'bob-imaging']] as const) {
      const start = new Date(Date.now() + HOUR).toISOString();
      const body = { ...dockerRequest(), meta: { name }, schedule: { requested: { start: `${start}/PT1H`, duration: 'PT30M' } } };
      const offers = await broker.http.post('/requests').set('Authorization', `Bearer ${tokens[user]}`).set('Content-Type', 'application/json').send(JSON.stringify(body)).expect(303);
      const uuid = (offers.body as Doc).offers[0].meta.uuid as string;
      await broker.http.post(`/sessions/${uuid}`).set('Authorization', `Bearer ${tokens[user]}`).set('Content-Type', 'application/json')
        .send(JSON.stringify({ kind: 'uri:enum-value-update', path: '/phase', value: 'ACCEPTED' })).expect(200);
      sessions[user] = uuid;
    }
    idp.allowLogin({ redirectUri: `${broker.baseUrl}/login/callback`, postLogoutRedirectUri: `${broker.baseUrl}/` });
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await broker?.close();
    await idp?.close();
  });

  /** A user's login in this browser (another's, and the provider's session, forgotten first). */
  async function signIn(page: Page, user: string): Promise<void> {
    await browser.context.clearCookies();
    await logIn(page, broker.baseUrl, idp.issuer, user);
    await page.locator('section.timelines[data-ready="true"]').waitFor();
    await page.locator('section.sessions[data-count]:not([data-count="-1"])').waitFor();
  }

  const listed = (page: Page): Promise<string[]> => page.locator('section.sessions tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-uuid') ?? ''));

  it('asks the user to log in, and shows a user their own sessions only, others\' reservations without who or what', async () => {
    const { page, requests } = await browser.newPage();
    await browser.context.clearCookies();
    await page.goto(broker.baseUrl);
    await page.getByRole('heading', { name: 'Log in to use this broker' }).waitFor();
    expect(await page.locator('section.login-needed').textContent()).toContain(`This resource needs a bearer token from ${idp.issuer}`);
    // No field to paste a token into any more.
    expect(await page.locator('input[type="password"]').count()).toBe(0);
    await screenshot(page, 'login-prompt');
    await signIn(page, 'alice');
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    expect(await listed(page)).toEqual([sessions.alice]);
    // Both reservations are on the timeline; Bob's is not his to show.
    const mine = page.locator(`svg.site-timeline a.bar.own[data-uuid="${sessions.alice}"]`);
    await mine.waitFor();
    expect(await mine.getAttribute('aria-label')).toMatch(/^WAITING – alice-analysis-\d: held /);
    const others = page.locator('svg.site-timeline g.bar.other');
    expect(await others.count()).toBe(1);
    expect(await others.first().getAttribute('aria-label')).toMatch(/^WAITING: held .*\(someone else's\)$/);
    const html = await page.content();
    expect(html).not.toContain(sessions.bob);
    expect(html).not.toContain('bob');
    await screenshot(page, 'overview-as-alice');
    // Bob's session page is not found for her, as in the API.
    await page.goto(`${broker.baseUrl}/#/sessions/${sessions.bob}`);
    await page.getByRole('alert').filter({ hasText: `No session with the identifier [${sessions.bob}]` }).waitFor();
    // No token reached the page: no URL it asked for carries one, nor its storage.
    expect(requests.filter((url) => /access_token|id_token/.test(url))).toEqual([]);
    expect(await page.evaluate(() => (globalThis as unknown as { sessionStorage: { length: number } }).sessionStorage.length)).toBe(0);
  }, 60_000);

  it('shows an operator everyone\'s sessions with their owners, and every reservation by name', async () => {
    const { page } = await browser.newPage();
    await signIn(page, 'olga');
    expect((await listed(page)).sort()).toEqual([sessions.alice, sessions.bob].sort());
    expect(await page.locator('section.sessions th', { hasText: 'Owner' }).count()).toBe(1);
    expect(await page.locator('svg.site-timeline g.bar.other').count()).toBe(0);
    for (const user of ['alice', 'bob']) await page.locator(`svg.site-timeline a.bar.own[data-uuid="${sessions[user]}"]`).waitFor();
    await screenshot(page, 'overview-as-operator');
  }, 60_000);

  it('follows a user\'s own changes live', async () => {
    const { page } = await browser.newPage();
    await signIn(page, 'bob');
    await page.locator(`section.sessions tr[data-uuid="${sessions.bob}"]`).waitFor();
    // Bob cancels through the API: his page shows it without a reload.
    await broker.http.post(`/sessions/${sessions.bob}`).set('Authorization', `Bearer ${tokens.bob}`).set('Content-Type', 'application/json')
      .send(JSON.stringify({ kind: 'uri:enum-value-update', path: '/phase', value: 'CANCELLED' })).expect(200);
    await page.locator(`section.sessions tr[data-uuid="${sessions.bob}"][data-phase="CANCELLED"]`).waitFor();
    await page.waitForFunction((uuid) => !(globalThis as unknown as { document: { querySelector(s: string): unknown } }).document.querySelector(`svg.site-timeline [data-uuid="${uuid}"]`), sessions.bob);
  }, 60_000);
});
