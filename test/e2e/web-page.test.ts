import type { Page } from 'playwright-core';
import { describeWithChromium, launchBrowser, screenshot, type TestBrowser } from '../support/browser.js';
import { demoSite, startTestBroker, type TestBroker } from '../support/test-broker.js';

// The browser's globals that page.evaluate's functions use (the tests compile without the DOM library).
declare const document: { querySelectorAll(selector: string): { length: number }; activeElement: { getAttribute(name: string): string | null } | null };
declare const window: Record<string, unknown>;
interface Control { labels?: { length: number } | null; getAttribute(name: string): string | null; outerHTML: string }

/**
 * The web page in headless chromium against the all-in-one broker (anonymous, as `npm start`
 * runs it): a request composed in the form, its offers on the timeline, one accepted, its page
 * following it to COMPLETED without a reload, and its log read on the page.
 */
describeWithChromium('the web page, anonymous', () => {
  let broker: TestBroker;
  let browser: TestBrowser;
  beforeAll(async () => {
    // Sessions run as plain processes (the form's container request names an entrypoint).
    broker = await startTestBroker({ config: { sites: [demoSite({ preparationMs: 2000, releasingMs: 1000 })] } });
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await broker?.close();
  });

  const fill = async (page: Page, label: string, value: string): Promise<void> => { await page.getByLabel(label, { exact: true }).fill(value); };

  it('composes a request, shows its offers on the timeline, accepts one and follows it to COMPLETED with its log', async () => {
    const { page, problems, requests } = await browser.newPage();
    await page.goto(broker.baseUrl);
    await page.locator('section.timelines[data-ready="true"]').waitFor();
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    await page.getByText('Anonymous (this broker runs without authentication)').waitFor();
    // Every form control has a label.
    expect(await page.$$eval('input, select, textarea', (elements) => (elements as unknown as Control[]).filter((element) =>
      !element.labels?.length && !element.getAttribute('aria-label')).map((element) => element.outerHTML))).toEqual([]);

    await fill(page, 'Name', 'e2e-hello');
    await page.getByLabel(/^Command/).fill('echo "hello from the page"; sleep 3; echo "bye from the page"; echo 42 > "$EB_OUTPUTS/answer.txt"');
    await fill(page, 'Cores, at least', '1');
    await fill(page, 'Cores, at most', '2');
    await fill(page, 'Memory (GiB), at least', '1');
    await fill(page, 'Memory (GiB), at most', '2');
    await fill(page, 'Duration', '5');
    await page.getByRole('button', { name: 'Ask for offers' }).click();

    const offers = page.locator('li.offer');
    await offers.first().waitFor();
    const count = await offers.count();
    expect(count).toBeGreaterThanOrEqual(1);
    await expect(offers.first().locator('.expiry').textContent()).resolves.toMatch(/^Expires in [45]:[0-5]\d\.$/);
    // Each offer shows its quote: price, energy, carbon, compute and io, with their units.
    await expect(offers.first().locator('.quote').textContent()).resolves.toMatch(/^Quote: price [\d.–]+ EUR, energy [\d.–]+ kWh, carbon [\d.–]+ gCO2, compute \d+ reference cores, io [\d.]+ MB\/s\. $/);
    // The offers are outlined on the timeline, one bar each, saying which offer they are.
    const ghosts = page.locator('svg.site-timeline .bar.offer-ghost');
    await page.waitForFunction((expected) => document.querySelectorAll('svg.site-timeline .bar.offer-ghost').length === expected, count);
    expect(await ghosts.first().getAttribute('aria-label')).toMatch(/^Offer \d, OFFERED – e2e-hello-\d: held /);
    expect(await ghosts.first().getAttribute('data-phase')).toBe('OFFERED');
    await page.getByRole('button', { name: '3 hours' }).click();
    await screenshot(page, 'timeline-with-offers', { selector: 'section.timelines' });
    await screenshot(page, 'overview-with-offers');

    // No reload from here on: a marker set now must survive to the end.
    await page.evaluate(() => { window.marker = 42; });
    const offered = await offers.first().getAttribute('data-uuid');
    await page.getByRole('button', { name: 'Accept offer 1' }).click();
    await page.waitForURL(`**/#/sessions/${offered}`);
    const article = page.locator('article.session-page');
    await article.waitFor();
    await page.locator('pre.log-text').filter({ hasText: 'hello from the page' }).waitFor({ timeout: 20_000 });
    await page.locator('article.session-page[data-phase="COMPLETED"]').waitFor({ timeout: 30_000 });
    await page.locator('pre.log-text[data-state="done"]').waitFor();
    // Ended, its page shows what it used (one figure each) beside the quote.
    await page.locator('article.session-page p.used').waitFor();
    expect(await page.locator('article.session-page p.used').textContent()).toMatch(/^Used: price [\d.]+ EUR, energy [\d.]+ kWh, carbon [\d.]+ gCO2, compute \d+ reference cores, io [\d.]+ MB\/s\.$/);
    expect(await page.locator('article.session-page p.quote').textContent()).toMatch(/^Quoted: price /);
    expect(await page.locator('pre.log-text').textContent()).toBe('hello from the page\nbye from the page\n');
    expect(await page.locator('ol.history li').evaluateAll((items) => items.map((item) => item.getAttribute('data-phase'))))
      .toEqual(['OFFERED', 'ACCEPTED', 'WAITING', 'PREPARING', 'AVAILABLE', 'RUNNING', 'RELEASING', 'COMPLETED']);
    await page.getByRole('heading', { name: 'Outputs' }).waitFor();
    const output = page.locator('section.outputs a', { hasText: 'answer.txt' });
    await output.waitFor();
    expect(await output.getAttribute('href')).toBe(`${broker.baseUrl}/sessions/${offered}/outputs/answer.txt`);
    await page.getByRole('link', { name: /\/logs$/ }).waitFor();
    expect(await page.evaluate(() => window.marker)).toBe(42);
    await screenshot(page, 'session-page-completed');

    // Back on the overview, the list shows it COMPLETED, and its bar has left the timeline.
    await page.getByRole('link', { name: '← Overview' }).click();
    await page.locator(`section.sessions tr[data-uuid="${offered}"][data-phase="COMPLETED"]`).waitFor();
    expect(await page.locator(`svg.site-timeline [data-uuid="${offered}"]`).count()).toBe(0);
    expect(await page.evaluate(() => window.marker)).toBe(42);

    expect(problems).toEqual([]);
    // Only the broker was asked for anything.
    expect(requests.filter((url) => !url.startsWith(broker.baseUrl))).toEqual([]);
  }, 90_000);

  it('shows an API\'s refusal in its own words, and field errors beside their fields', async () => {
    const { page } = await browser.newPage();
    await page.goto(broker.baseUrl);
    await page.locator('section.timelines[data-ready="true"]').waitFor();
    await fill(page, 'Cores, at least', '4');
    await fill(page, 'Cores, at most', '2');
    await page.getByRole('button', { name: 'Ask for offers' }).click();
    await page.getByText('At least the minimum').waitFor();
    expect(await page.getByLabel('Cores, at most', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    // More cores than the site has: the offer set is NO, with the broker's reason.
    await fill(page, 'Cores, at least', '500');
    await fill(page, 'Cores, at most', '500');
    await page.getByRole('button', { name: 'Ask for offers' }).click();
    await page.getByRole('heading', { name: 'No offer' }).waitFor();
    expect(await page.locator('.offers .messages').textContent()).toMatch(/ERROR: .*cores/i);
    // A session that does not exist: the problem document's words.
    await page.goto(`${broker.baseUrl}/#/sessions/00000000-0000-4000-8000-000000000000`);
    await page.getByRole('alert').filter({ hasText: 'No session with the identifier [00000000-0000-4000-8000-000000000000]' }).waitFor();
  }, 60_000);

  it('is keyboard usable: the span buttons and a session\'s bar are reached and used with the keyboard', async () => {
    const { page } = await browser.newPage();
    await page.goto(broker.baseUrl);
    await page.locator('section.timelines[data-ready="true"]').waitFor();
    await page.getByRole('button', { name: '3 hours' }).focus();
    await page.keyboard.press('Enter');
    expect(await page.getByRole('button', { name: '3 hours' }).getAttribute('aria-pressed')).toBe('true');
    await page.getByRole('button', { name: 'Ask for offers' }).focus();
    await page.keyboard.press('Enter');
    const bar = page.locator('svg.site-timeline a.bar.offer-ghost').first();
    await bar.waitFor();
    const uuid = await bar.getAttribute('data-uuid');
    await bar.focus();
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-uuid'))).toBe(uuid);
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/#/sessions/${uuid}`);
    await page.locator('article.session-page[data-phase="OFFERED"]').waitFor();
  }, 60_000);
});
