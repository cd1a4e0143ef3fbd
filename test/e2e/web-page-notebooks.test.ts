import type { Page, Request } from 'playwright-core';
import { describeWithChromium, launchBrowser, screenshot, type TestBrowser } from '../support/browser.js';
import { demoSite, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
// The browser's globals that page.evaluate's functions use (the tests compile without the DOM library).
declare const document: { body: { innerText: string }; activeElement: { getAttribute(name: string): string | null } | null };
interface Control { labels?: { length: number } | null; getAttribute(name: string): string | null; outerHTML: string }

const update = (value: string): string => JSON.stringify({ kind: 'uri:enum-value-update', path: '/phase', value });

/**
 * The web page and notebooks: the form composes a jupyter-notebook request (its location, the
 * mode, headless parameters), with the kinds no site runs disabled; a session's HTTP connector (a
 * notebook server's URL, its token in the query) opens in a new tab from the session page, and its
 * token is neither shown nor logged.
 */
describeWithChromium('the web page and notebooks', () => {
  let broker: TestBroker;
  let browser: TestBrowser;
  beforeAll(async () => {
    // A site that says it runs containers and notebooks, not singularity.
    const site = demoSite({ preparationMs: 0, releasingMs: 0, executableKinds: ['executable/docker-container', 'executable/jupyter-notebook'] });
    broker = await startTestBroker({ config: { sites: [site] } });
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await broker?.close();
  });

  const askedFor = (page: Page): Promise<Request> => page.waitForRequest((request) => request.method() === 'POST' && new URL(request.url()).pathname === '/requests');
  const session = async (uuid: string): Promise<Doc> => (await broker.http.get(`/sessions/${uuid}`).expect(200)).body as Doc;

  it('composes an interactive, then a headless notebook request, and lists the offers of each; singularity is disabled with a note', async () => {
    const { page, problems } = await browser.newPage();
    await page.goto(broker.baseUrl);
    await page.locator('section.timelines[data-ready="true"]').waitFor();
    const kind = page.getByLabel('Kind', { exact: true });
    // The kind no site lists is disabled, said so in its option and in a note the select points to.
    expect(await kind.locator('option').evaluateAll((options) => (options as unknown as Array<{ value: string; disabled: boolean; textContent: string }>)
      .map((option) => [option.value, option.disabled, option.textContent]))).toEqual([
      ['docker-container', false, 'Docker container'],
      ['singularity-container', true, 'Singularity container (no site runs it)'],
      ['jupyter-notebook', false, 'Jupyter notebook'],
    ]);
    expect(await page.locator(`#${await kind.getAttribute('aria-describedby')}`).textContent()).toBe('No site here runs singularity containers: those kinds are disabled.');

    await kind.selectOption('jupyter-notebook');
    await page.getByLabel('Notebook URL').waitFor();
    expect(await page.getByLabel('Image', { exact: true }).count()).toBe(0);
    expect(await page.getByRole('radio', { name: /^Interactive/ }).isChecked()).toBe(true);
    // Every form control of the notebook's form has a label too.
    expect(await page.$$eval('input, select, textarea', (elements) => (elements as unknown as Control[]).filter((element) =>
      !element.labels?.length && !element.getAttribute('aria-label')).map((element) => element.outerHTML))).toEqual([]);

    // A URL the form refuses, said beside the field.
    await page.getByLabel('Notebook URL').fill('ftp://example.org/demo.ipynb');
    await page.getByRole('button', { name: 'Ask for offers' }).click();
    await page.locator('#e-notebookUrl').waitFor();
    expect(await page.getByLabel('Notebook URL').getAttribute('aria-invalid')).toBe('true');

    const location = 'https://notebooks.example.org/demo/analysis.ipynb';
    await page.getByLabel('Name', { exact: true }).fill('e2e-notebook');
    await page.getByLabel('Notebook URL').fill(location);
    let asked = askedFor(page);
    await page.getByRole('button', { name: 'Ask for offers' }).click();
    const interactive = (await asked).postDataJSON() as Doc;
    expect(interactive.executable).toEqual({ kind: `${V1}/executable/jupyter-notebook.yaml`, meta: { name: 'e2e-notebook' }, location });
    const offers = page.locator('li.offer');
    await offers.first().waitFor();
    const first = (await offers.first().getAttribute('data-uuid'))!;
    // The broker read it as a notebook: the offer's session document says so.
    expect((await session(first)).executable).toMatchObject({ kind: `${V1}/executable/jupyter-notebook.yaml`, location });
    expect((await session(first)).executable).not.toHaveProperty('mode');
    await screenshot(page, 'compose-notebook-offers', { selector: 'section.compose' });
    await page.getByRole('button', { name: 'Let these offers go' }).click();
    await page.locator('li.offer').first().waitFor({ state: 'detached' });

    // Headless, chosen with the keyboard (arrow keys move through a radio group), with parameters.
    await page.getByRole('radio', { name: /^Interactive/ }).focus();
    await page.keyboard.press('ArrowDown');
    expect(await page.getByRole('radio', { name: /^Headless/ }).isChecked()).toBe(true);
    await page.getByLabel(/^Parameters/).fill('n = 3\nname=M31');
    asked = askedFor(page);
    await page.getByRole('button', { name: 'Ask for offers' }).click();
    const headless = (await asked).postDataJSON() as Doc;
    expect(headless.executable).toEqual({ kind: `${V1}/executable/jupyter-notebook.yaml`, meta: { name: 'e2e-notebook' }, location, mode: 'headless', parameters: { n: 3, name: 'M31' } });
    await page.locator(`li.offer:not([data-uuid="${first}"])`).first().waitFor();
    const second = (await offers.first().getAttribute('data-uuid'))!;
    // The offer is for the notebook (mode and parameters are the headless extension's, which the
    // broker keeps in the document once it reads them; the request above is what it was sent).
    expect((await session(second)).executable).toMatchObject({ kind: `${V1}/executable/jupyter-notebook.yaml`, location });
    await page.getByRole('button', { name: 'Let these offers go' }).click();
    expect(problems).toEqual([]);
  }, 60_000);

  it('opens a running session\'s HTTP connector in a new tab with its token, never showing or logging the token', async () => {
    const token = `tok${Date.now().toString(36)}secret`;
    // A stand-in for a notebook server: a plain process (the host's node, on the run's PATH) that
    // answers only with the token, and tells whether the browser sent it a Referer.
    const server = `require('http').createServer((q, s) => { const ok = new URL(q.url, 'http://x').searchParams.get('token') === ${JSON.stringify(token)};`
      + ` s.statusCode = ok ? 200 : 403; s.end((ok ? 'notebook open' : 'token needed') + '; referer: ' + (q.headers.referer ?? 'none')); })`
      + '.listen(Number(process.env.PORT))';
    const body = {
      meta: { name: 'e2e-server' },
      executable: {
        kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/usr/bin/env', command: ['node', '-e', server],
        network: { ports: [{ access: true, internal: { port: 8888 }, protocol: 'HTTP', path: `/lab/tree/demo.ipynb?token=${token}` }] },
      },
      compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 } },
      schedule: { requested: { duration: 'PT10M' } },
    };
    const set = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body)).expect(303)).body as Doc;
    const uuid = set.offers[0].meta.uuid as string;
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
    let running: Doc = {};
    for (let i = 0; i < 300 && running.phase !== 'RUNNING'; i++) {
      running = await session(uuid);
      if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(running.phase)) break;
      if (running.phase !== 'RUNNING') await new Promise((r) => setTimeout(r, 100));
    }
    expect(running.phase).toBe('RUNNING');
    const connector = (running.connectors as Doc[]).find((c) => c.kind === 'urn:srcnet:connector:port')!;
    expect(connector).toMatchObject({ protocol: 'HTTP', status: 'AVAILABLE', location: expect.stringContaining(`?token=${token}`) });
    const url = connector.location as string;

    const { page, problems } = await browser.newPage();
    const logged: string[] = [];
    page.on('console', (message) => logged.push(message.text()));
    await page.goto(`${broker.baseUrl}/#/sessions/${uuid}`);
    await page.locator('article.session-page[data-phase="RUNNING"]').waitFor();
    const open = page.getByRole('link', { name: /^Open / });
    await open.waitFor();
    expect(await open.getAttribute('href')).toBe(url);
    expect(await open.getAttribute('target')).toBe('_blank');
    expect((await open.getAttribute('rel'))!.split(/\s+/).sort()).toEqual(['noopener', 'noreferrer']);
    expect(await open.textContent()).toBe('Open');
    const shown = url.slice(0, url.indexOf('?'));
    expect(await open.getAttribute('aria-label')).toBe(`Open ${shown} in a new tab`);
    expect(await page.locator('li[data-kind="urn:srcnet:connector:port"] code').textContent()).toBe(shown);
    expect(await page.evaluate(() => document.body.innerText)).not.toContain(token);
    await screenshot(page, 'session-page-http-connector', { selector: 'article.session-page' });

    // Opened with the keyboard: a new tab at the whole URL, which the server accepts; no Referer sent.
    await open.focus();
    expect(await page.evaluate(() => document.activeElement?.getAttribute('class'))).toBe('open');
    const [tab] = await Promise.all([browser.context.waitForEvent('page'), page.keyboard.press('Enter')]);
    await tab.waitForLoadState();
    expect(tab.url()).toBe(url);
    expect(await tab.locator('body').textContent()).toBe('notebook open; referer: none');
    await tab.close();

    // Once the session ends, the connector is FINISHED and there is nothing to open.
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('CANCELLED')).expect(200);
    await page.locator('article.session-page[data-phase="CANCELLED"]').waitFor({ timeout: 20_000 });
    await page.locator('li[data-kind="urn:srcnet:connector:port"]', { hasText: 'FINISHED' }).waitFor();
    expect(await page.locator('a.open').count()).toBe(0);
    expect(await page.evaluate(() => document.body.innerText)).not.toContain(token);
    expect(logged.filter((text) => text.includes(token))).toEqual([]);
    expect(problems).toEqual([]);
  }, 60_000);
});
