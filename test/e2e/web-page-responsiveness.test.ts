import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { describeWithChromium, launchBrowser, RESULTS_DIR, screenshot, type TestBrowser } from '../support/browser.js';
import { demoSite, dockerRequest, startTestBroker, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const MINUTE = 60_000;
const SESSIONS = 500;
const SITES = 5;

// The browser's globals that page.evaluate's functions use (the tests compile without the DOM library).
declare const document: { querySelectorAll(selector: string): ArrayLike<{ getAttribute(name: string): string | null; textContent: string | null; click(): void }>; querySelector(selector: string): { getAttribute(name: string): string | null } | null };
declare const performance: { now(): number; getEntriesByName(name: string): Array<{ startTime: number }>; getEntriesByType(type: string): Array<Record<string, number>> };
declare function requestAnimationFrame(callback: () => void): number;
declare const window: { perf: { longTasks: Array<{ start: number; duration: number }>; events: Array<{ name: string; duration: number }> } };
declare class PerformanceObserver {
  constructor(callback: (list: { getEntries(): Array<{ name: string; startTime: number; duration: number }> }) => void);
  observe(options: Record<string, unknown>): void;
}

/** Long tasks and slow input events, recorded from the first script on (the page's own included). */
function recordPerformance(): void {
  window.perf = { longTasks: [], events: [] };
  new PerformanceObserver((list) => { for (const entry of list.getEntries()) window.perf.longTasks.push({ start: entry.startTime, duration: entry.duration }); })
    .observe({ type: 'longtask', buffered: true });
  new PerformanceObserver((list) => { for (const entry of list.getEntries()) window.perf.events.push({ name: entry.name, duration: entry.duration }); })
    .observe({ type: 'event', buffered: true, durationThreshold: 16 });
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

/**
 * The page with 500 accepted sessions on 5 sites, spread over four hours: how soon it is drawn,
 * how long the main thread is ever blocked, how soon a change made through the API shows, and how
 * soon it answers a click. The numbers go to the console and to test/results/web-responsiveness.json;
 * the bounds asserted are generous (a shared 2-core machine), the numbers reported are the real ones.
 */
describeWithChromium('the web page under load', () => {
  let broker: TestBroker;
  let browser: TestBrowser;
  let createdInMs = 0;
  const created: Array<{ uuid: string; site: string }> = [];
  beforeAll(async () => {
    const sites = Array.from({ length: SITES }, (_, i) => demoSite({ name: `site-${i + 1}`, cores: 64, memoryGiB: 512, preparationMs: MINUTE, releasingMs: MINUTE / 2 }));
    // Its 500 requests, 8 at a time, share the test's process with the broker: on a loaded machine a
    // Redis answer can wait past the 1 s that makes the API answer 503 (fail fast), which is not
    // what this test measures.
    broker = await startTestBroker({ config: { sites, maxOffers: 2 * SITES, redisCommandTimeoutMs: 5_000 } });
    const started = Date.now();
    const first = Date.now() + 10 * MINUTE;
    // Through the API, as any client: a request per session (every site offers), then an accept
    // of the offer on the site its turn names, so that each site gets a hundred.
    let next = 0;
    const one = async (i: number): Promise<void> => {
      const at = new Date(first + i * 28_000).toISOString();
      const body = {
        ...dockerRequest({ min: 1 + (i % 4), max: 1 + (i % 4) }, { min: 1 + (i % 3), max: 1 + (i % 3) }),
        meta: { name: `load-${i}` },
        schedule: { requested: { start: `${at}/PT10M`, duration: `PT${20 + (i % 7) * 10}M` } },
      };
      // Setting up the load, not the subject: a request that found no site answering in time (a
      // loaded machine) is asked again; any other empty offer set stops the test saying why.
      let offers: Doc = {};
      for (let attempt = 1; !offers.offers?.length; attempt++) {
        offers = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body)).expect(303)).body as Doc;
        const why = ((offers.meta?.messages ?? []) as Doc[]).map((message) => `${message.kind}: ${message.message}`);
        const onlyLate = why.length > 0 && why.every((line) => / did not answer within /.test(line));
        if (!offers.offers?.length && (!onlyLate || attempt === 3)) throw new Error(`request ${i} got no offer (attempt ${attempt}): ${why.join('; ') || JSON.stringify(offers)}`);
      }
      const site = `site-${(i % SITES) + 1}`;
      const offer = (offers.offers as Doc[]).find((candidate) => String(candidate.meta.description).endsWith(` ${site}`)) ?? offers.offers[0];
      await broker.http.post(`/sessions/${offer.meta.uuid}`).set('Content-Type', 'application/json')
        .send(JSON.stringify({ kind: 'uri:enum-value-update', path: '/phase', value: 'ACCEPTED' })).expect(200);
      created.push({ uuid: offer.meta.uuid as string, site: String(offer.meta.description).split(' ').pop()! });
    };
    await Promise.all(Array.from({ length: 8 }, async () => { while (next < SESSIONS) await one(next++); }));
    createdInMs = Date.now() - started;
    browser = await launchBrowser({ width: 1400, height: 1100 });
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await broker?.close();
  });

  const sessionCount = (page: Page): Promise<number> => page.evaluate(() => Number(document.querySelector('section.sessions')?.getAttribute('data-count') ?? -1));

  it('draws 500 sessions on 5 sites quickly, never blocks for long, shows changes live and answers input at once', async () => {
    const perSite = new Map<string, number>();
    for (const { site } of created) perSite.set(site, (perSite.get(site) ?? 0) + 1);
    expect(created).toHaveLength(SESSIONS);
    expect(perSite.size).toBe(SITES);

    const loadAtStart = loadavg()[0]!;
    const { page, problems } = await browser.newPage();
    await page.addInitScript(recordPerformance);
    await page.goto(broker.baseUrl);
    await page.locator('section.timelines[data-ready="true"]').waitFor({ timeout: 30_000 });
    await page.locator('section.sessions[data-count="50"]').waitFor({ timeout: 30_000 });
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    const load = await page.evaluate(() => {
      const mark = (name: string): number => performance.getEntriesByName(name)[0]?.startTime ?? -1;
      const navigation = performance.getEntriesByType('navigation')[0] ?? {};
      return { timelineReadyMs: mark('eb:timeline-ready'), listReadyMs: mark('eb:list-ready'), domContentLoadedMs: navigation.domContentLoadedEventEnd ?? -1 };
    });
    const bars = await page.evaluate(() => Array.from(document.querySelectorAll('svg.site-timeline')).reduce((sum, svg) => sum + Number(svg.getAttribute('data-bars')), 0));
    expect(bars).toBe(SESSIONS);
    await screenshot(page, 'timeline-500-sessions', { selector: 'section.timelines' });

    // Live updates: a session cancelled through the API leaves its site's timeline and shows
    // CANCELLED in the list (the newest are on the list's first page).
    const liveUpdateMs: number[] = [];
    for (const { uuid } of created.slice(-5).reverse()) {
      const before = Date.now();
      await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json')
        .send(JSON.stringify({ kind: 'uri:enum-value-update', path: '/phase', value: 'CANCELLED' })).expect(200);
      await page.waitForFunction((id) => document.querySelector(`section.sessions tr[data-uuid="${id}"]`)?.getAttribute('data-phase') === 'CANCELLED'
        && !document.querySelector(`svg.site-timeline [data-uuid="${id}"]`), uuid, { polling: 'raf', timeout: 10_000 });
      liveUpdateMs.push(Date.now() - before);
    }

    // Input: a span button (the 500 bars drawn again at a new scale) until the next frame...
    const spanClickMs = await page.evaluate(async () => {
      const button = Array.from(document.querySelectorAll('.spans button')).find((candidate) => candidate.textContent === '12 hours')!;
      const start = performance.now();
      button.click();
      await new Promise<void>((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
      return performance.now() - start;
    });
    expect(await page.getByRole('button', { name: '12 hours' }).getAttribute('aria-pressed')).toBe('true');
    // ... and a real click through the browser's input, measured by the Event Timing API.
    await page.getByRole('button', { name: '3 hours' }).click();
    // A filter of the list, until the list shows what it asked the API for.
    const filterStart = Date.now();
    await page.locator('section.sessions select').first().selectOption('ended');
    await page.waitForFunction(() => document.querySelector('section.sessions')?.getAttribute('data-count') === '5', undefined, { polling: 'raf' });
    const filterToListMs = Date.now() - filterStart;
    expect(await sessionCount(page)).toBe(5);
    await page.waitForTimeout(500); // let the last long tasks and events be reported

    const perf = await page.evaluate(() => window.perf);
    const longest = Math.max(0, ...perf.longTasks.map((task) => task.duration));
    const results = {
      measuredAt: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? '' },
      sessions: SESSIONS,
      sites: SITES,
      sessionsPerSite: Object.fromEntries([...perSite].sort()),
      createdThroughTheApiInMs: createdInMs,
      barsDrawn: bars,
      firstRender: { ...load, fullMs: Math.max(load.timelineReadyMs, load.listReadyMs) },
      longTasks: { count: perf.longTasks.length, totalMs: round(perf.longTasks.reduce((sum, task) => sum + task.duration, 0)), maxMs: round(longest), all: perf.longTasks.map((task) => ({ atMs: round(task.start), ms: round(task.duration) })) },
      liveUpdateMs,
      loadPerCore: round(Math.max(loadAtStart, loadavg()[0]!) / cpus().length),
      input: {
        spanClickToNextFrameMs: round(spanClickMs),
        filterToListShownMs: filterToListMs,
        // Event Timing (input to the next paint), the slowest of each kind over 16 ms: the real click on "3 hours".
        slowestEventsMs: perf.events.reduce<Record<string, number>>((slowest, event) => ({ ...slowest, [event.name]: Math.max(slowest[event.name] ?? 0, round(event.duration)) }), {}),
      },
    };
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(join(RESULTS_DIR, 'web-responsiveness.json'), `${JSON.stringify(results, null, 2)}\n`);
    console.log(`web page responsiveness (${SESSIONS} sessions, ${SITES} sites): ${JSON.stringify({ ...results, longTasks: { ...results.longTasks, all: undefined } })}`);

    // The instrument works: a task made long on purpose is recorded as one.
    await page.evaluate(() => { setTimeout(() => { const until = performance.now() + 150; while (performance.now() < until) { /* busy */ } }, 0); });
    await page.waitForFunction(() => window.perf.longTasks.some((task) => task.duration >= 150), undefined, { timeout: 5000 });

    // The bounds are for a machine with a core free; one that runs more than it has cores (other
    // test runs, builds) stretches every wall-clock time by about its load per core, so they stretch
    // with it (the one-minute load average, the larger of before and after: it lags).
    const stretch = Math.max(1, loadAtStart / cpus().length, loadavg()[0]! / cpus().length);
    expect(problems).toEqual([]);
    expect(results.firstRender.fullMs).toBeGreaterThan(0);
    expect(results.firstRender.fullMs).toBeLessThan(5000 * stretch);
    expect(longest).toBeLessThan(500 * stretch);
    expect(Math.max(...liveUpdateMs)).toBeLessThan(2000 * stretch);
    expect(spanClickMs).toBeLessThan(500 * stretch);
    expect(filterToListMs).toBeLessThan(2000 * stretch);
  }, 120_000);
});
