import { describeWithChromium, launchBrowser, screenshot, type TestBrowser } from '../support/browser.js';
import { demoSite, dockerRequest, startTestBroker, type TestBroker } from '../support/test-broker.js';

/**
 * The catalogue on the web page, in headless chromium against the all-in-one broker: every site
 * with what it runs, its GPUs and what is free; the filters narrow it; an offer that holds cores
 * shows as fewer free cores without a reload, and they come back once it is rejected.
 */
describeWithChromium('the web page\'s catalogue', () => {
  let broker: TestBroker;
  let browser: TestBrowser;
  beforeAll(async () => {
    broker = await startTestBroker({ config: { sites: [
      demoSite({ name: 'alpha', cores: 8, memoryGiB: 32, gpus: { A100: 2 }, preparationMs: 0, releasingMs: 0 }),
      demoSite({ name: 'beta', cores: 16, memoryGiB: 64, gpus: { K40: 1 }, preparationMs: 0, releasingMs: 0 }),
    ] } });
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await broker?.close();
  });

  it('lists the sites with their kinds, GPUs and free capacity, filters them, and follows an offer\'s hold', async () => {
    const { page, problems } = await browser.newPage();
    await page.goto(broker.baseUrl);
    const panel = page.locator('section.catalogue[data-ready="true"]');
    await panel.waitFor();
    const rows = panel.locator('tbody tr');
    await page.waitForFunction(() => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('section.catalogue tbody tr').length === 2);
    const alpha = panel.locator('tr[data-site="alpha"]');
    expect(await alpha.locator('td.gpus').textContent()).toBe('2 A100');
    expect(await alpha.locator('td.kinds').textContent()).toContain('docker-container');
    expect(await alpha.locator('td.free-now').textContent()).toBe('8/8 cores · 32/32 GiB · GPUs 2 A100');
    expect(await alpha.locator('.free-hour').count()).toBe(24);
    await screenshot(page, 'catalogue', { selector: 'section.catalogue' });

    await panel.locator('select[name="gpu"]').selectOption('A100');
    await page.waitForFunction(() => (globalThis as unknown as { document: { querySelectorAll(s: string): { length: number } } }).document.querySelectorAll('section.catalogue tbody tr').length === 1);
    expect(await rows.first().getAttribute('data-site')).toBe('alpha');
    await panel.locator('select[name="gpu"]').selectOption('');
    await panel.locator('input[name="cores"]').fill('9');
    await panel.locator('tr[data-site="alpha"]').waitFor({ state: 'detached' });
    expect(await rows.count()).toBe(1);
    expect(await rows.first().getAttribute('data-site')).toBe('beta');
    await panel.locator('input[name="cores"]').fill('');
    await alpha.waitFor();

    // An offer of 3 cores holds them now: the page reads the catalogue again on the notice.
    const made = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(dockerRequest({ min: 3, max: 3 }))).expect(303)).body.offers as Array<Record<string, any>>;
    const held = await broker.heldNow('cores', 'alpha');
    expect(held).toBeGreaterThan(0);
    await page.locator('section.catalogue tr[data-site="alpha"] td.free-now').filter({ hasText: `${8 - held}/8 cores` }).waitFor({ timeout: 10_000 });
    for (const offer of made) {
      await broker.http.post(`/sessions/${offer.meta.uuid}`).set('Content-Type', 'application/json')
        .send(JSON.stringify({ kind: 'uri:enum-value-update', path: '/phase', value: 'REJECTED' })).expect(200);
    }
    await page.locator('section.catalogue tr[data-site="alpha"] td.free-now').filter({ hasText: '8/8 cores' }).waitFor({ timeout: 10_000 });
    expect(problems).toEqual([]);
  });
});
