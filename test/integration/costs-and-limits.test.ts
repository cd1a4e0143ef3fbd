import fc from 'fast-check';
import { encodeBody } from '../../src/protocol/codecs/body-codec.js';
import { defaultEconomics, type SiteEconomics } from '../../src/domain/site-economics.js';
import { acceptAndFollow, demoSite, dockerRequest, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const COST = `${V1}/costs/simple-minmax-float-cost.yaml`;
const METRIC = `${V1}/metrics/simple-minmax-float-metric.yaml`;
const MONEY = 'urn:ivoa:calycopis:cost:monetary';
const CARBON = 'urn:ivoa:calycopis:cost:carbon';
const COMPUTE = 'urn:ivoa:calycopis:metric:compute-performance';

const economics = (coreHour: number, compute: number, carbon: SiteEconomics['carbon'] = { gramsPerKWh: 400 }): SiteEconomics => {
  const base = defaultEconomics(100);
  return { ...base, prices: { ...base.prices, coreHour }, carbon, performance: { compute, ioMBps: 100 } };
};
const siteOf = (offer: Doc): string => /site (\S+)$/.exec(offer.meta.description as string)?.[1] ?? '';
const itemOf = (list: Doc[] | undefined, type: string): Doc | undefined => list?.find((item) => item.type === type);

/** Asks for offers of one core for ten minutes with these costs, metrics and extra fields; the offer set. */
async function ask(broker: TestBroker, extra: Doc): Promise<Doc> {
  const res = await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify({ ...dockerRequest(), ...extra })).expect(303);
  const set = (await broker.http.get(new URL(res.headers.location as string, broker.baseUrl).pathname)).body as Doc;
  // What was held for the offers goes back at once, so that runs do not fill the sites.
  await Promise.all(((set.offers ?? []) as Doc[]).map((offer) => broker.http.post(`/sessions/${offer.meta.uuid}`).set('Content-Type', 'application/json')
    .send(JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value: 'CANCELLED' }))));
  return set;
}

/** Asks for offers, cancels all but the first, and follows the first to its end; the offer and the session as it ended. */
async function runFirstOffer(broker: TestBroker, request: Doc): Promise<{ offer: Doc; session: Doc }> {
  const res = await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(request)).expect(303);
  const set = (await broker.http.get(new URL(res.headers.location as string, broker.baseUrl).pathname)).body as Doc;
  const offer = (set.offers as Doc[])[0]!;
  for (const other of (set.offers as Doc[]).slice(1)) {
    await broker.http.post(`/sessions/${other.meta.uuid}`).set('Content-Type', 'application/json').send(JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value: 'CANCELLED' }));
  }
  const { session } = await acceptAndFollow(broker, offer.meta.uuid as string);
  return { offer, session };
}

describe('costs and metrics as a request\'s limits (two sites: cheap, 1 a core-hour and reference cores; dear, 3 a core-hour and cores twice as fast)', () => {
  let broker: TestBroker;
  // One core for ten minutes, no preparation or releasing: cheap can cost 1/6, dear 1/2.
  const CHEAP = 1 / 6;
  const DEAR = 3 / 6;
  beforeAll(async () => {
    const site = (name: string, coreHour: number, compute: number) => demoSite({ name, preparationMs: 0, releasingMs: 0, economics: economics(coreHour, compute) });
    broker = await startTestBroker({ config: { sites: [site('cheap', 1, 1), site('dear', 3, 2)] } });
  });
  afterAll(async () => { await broker.close(); });

  it('without limits both sites offer, each quoting what its offer can cost', async () => {
    const set = await ask(broker, {});
    expect(set.result).toBe('YES');
    const quotes = Object.fromEntries((set.offers as Doc[]).map((offer) => [siteOf(offer), itemOf(offer.costs, MONEY)]));
    expect(quotes).toEqual({
      cheap: { kind: COST, type: MONEY, description: 'EUR', min: 0, max: Math.ceil(CHEAP * 1e6) / 1e6 },
      dear: { kind: COST, type: MONEY, description: 'EUR', min: 0, max: 0.5 },
    });
  });

  it('a budget below every site\'s price gives NO, each site saying why (urn:cost-limit)', async () => {
    await fc.assert(fc.asyncProperty(fc.double({ min: 0, max: CHEAP * 0.999, noNaN: true }), async (budget) => {
      const set = await ask(broker, { costs: [{ kind: COST, type: MONEY, max: budget }] });
      expect(set.result).toBe('NO');
      const reasons = (set.meta.messages as Doc[]).filter((m) => m.kind === 'urn:cost-limit').map((m) => m.message as string);
      expect(reasons).toEqual(expect.arrayContaining([expect.stringMatching(/^Site cheap: the price could reach 0\.166667 EUR, over the limit of /), expect.stringMatching(/^Site dear: the price could reach 0\.5 EUR, over the limit of /)]));
    }), { numRuns: 6 });
  }, 60_000);

  it('a budget between the two sites\' prices gives offers from the cheaper site only', async () => {
    await fc.assert(fc.asyncProperty(fc.double({ min: Math.ceil(CHEAP * 1e6) / 1e6, max: DEAR * 0.999, noNaN: true }), async (budget) => {
      const set = await ask(broker, { costs: [{ kind: COST, type: MONEY, max: budget }] });
      expect(set.result).toBe('YES');
      expect(new Set((set.offers as Doc[]).map(siteOf))).toEqual(new Set(['cheap']));
      for (const offer of set.offers as Doc[]) expect(itemOf(offer.costs, MONEY)?.max).toBeLessThanOrEqual(budget);
    }), { numRuns: 6 });
  }, 60_000);

  it('the largest alternative over a budget is made as large as fits within it, saying so', async () => {
    // 1 to 8 cores within 0.45: cheap gives 1 and 2 cores (1/6 a core for ten minutes); dear none (1 core is 0.5).
    const set = await ask(broker, { ...dockerRequest({ min: 1, max: 8 }), costs: [{ kind: COST, type: MONEY, max: 0.45 }] });
    expect((set.offers as Doc[]).map((offer) => [siteOf(offer), offer.compute.cores.min])).toEqual([['cheap', 2], ['cheap', 1]]);
    expect((set.meta.messages as Doc[]).map((m) => m.message)).toEqual(expect.arrayContaining([
      'Site cheap: the largest allocation is 2 cores and 1 GiB, to stay within the request\'s limits']));
  });

  it('a compute-performance minimum between the two sites\' gives the faster site only; above both, NO with urn:metric-limit', async () => {
    await fc.assert(fc.asyncProperty(fc.double({ min: 1.001, max: 2, noNaN: true }), async (least) => {
      const set = await ask(broker, { metrics: [{ kind: METRIC, type: COMPUTE, min: least }] });
      expect(new Set((set.offers as Doc[]).map(siteOf))).toEqual(new Set(['dear']));
    }), { numRuns: 4 });
    await fc.assert(fc.asyncProperty(fc.double({ min: 2.001, max: 1000, noNaN: true }), async (least) => {
      const set = await ask(broker, { metrics: [{ kind: METRIC, type: COMPUTE, min: least }] });
      expect(set.result).toBe('NO');
      const reasons = (set.meta.messages as Doc[]).filter((m) => m.kind === 'urn:metric-limit').map((m) => m.message as string);
      expect(reasons).toEqual(expect.arrayContaining([expect.stringMatching(/^Site cheap: the compute performance is 1 reference cores, under the minimum of /), expect.stringMatching(/^Site dear: the compute performance is 2 reference cores, under the minimum of /)]));
    }), { numRuns: 4 });
  }, 60_000);

  it('reads the limits from YAML and XML requests as from JSON (`<cost kind="...">` items, `<srcnet.rank>`)', async () => {
    const request = { ...dockerRequest(), costs: [{ kind: COST, type: MONEY, max: (CHEAP + DEAR) / 2 }], 'srcnet.rank': 'cheapest' };
    for (const format of ['yaml', 'xml'] as const) {
      const body = encodeBody(request, format, 'ExecutionRequest');
      if (format === 'xml') expect(body).toMatch(/<cost kind="[^"]+simple-minmax-float-cost.yaml"><type>urn:ivoa:calycopis:cost:monetary<\/type>/);
      const res = await broker.http.post('/requests').set('Content-Type', `application/${format}`).send(body).expect(303);
      const set = (await broker.http.get(new URL(res.headers.location as string, broker.baseUrl).pathname)).body as Doc;
      expect([format, new Set((set.offers as Doc[]).map(siteOf))]).toEqual([format, new Set(['cheap'])]);
      await Promise.all((set.offers as Doc[]).map((offer) => broker.http.post(`/sessions/${offer.meta.uuid}`).set('Content-Type', 'application/json')
        .send(JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value: 'CANCELLED' }))));
    }
  }, 30_000);

  it('limits combine with AND; an item of a type the broker does not know is ignored, saying so; `srcnet.rank: cheapest` puts the cheaper first', async () => {
    const both = await ask(broker, { costs: [{ kind: COST, type: MONEY, max: 1 }], metrics: [{ kind: METRIC, type: COMPUTE, min: 1.5 }] });
    expect(new Set((both.offers as Doc[]).map(siteOf))).toEqual(new Set(['dear']));
    const none = await ask(broker, { costs: [{ kind: COST, type: MONEY, max: 0.2 }], metrics: [{ kind: METRIC, type: COMPUTE, min: 1.5 }] });
    expect(none.result).toBe('NO');
    const unknown = await ask(broker, { costs: [{ kind: COST, type: 'urn:example:cost:goodwill', max: 0 }] });
    expect(unknown.result).toBe('YES');
    expect((unknown.meta.messages as Doc[]).find((m) => m.kind === 'urn:ignored-limit')).toMatchObject({
      level: 'WARN', message: 'The costs item of type [urn:example:cost:goodwill] is ignored: the broker knows no such type' });
    const cheapest = await ask(broker, { 'srcnet.rank': 'cheapest' });
    expect(siteOf((cheapest.offers as Doc[])[0]!)).toBe('cheap');
    const prices = (cheapest.offers as Doc[]).map((offer) => itemOf(offer.costs, MONEY)?.max as number);
    expect(prices).toEqual([...prices].sort((a, b) => a - b));
    const unranked = await ask(broker, { 'srcnet.rank': 'dearest' });
    expect({ result: unranked.result, messages: unranked.meta.messages }).toMatchObject({ result: 'NO', messages: [{ kind: 'urn:invalid-value', message: 'srcnet.rank must be earliest, cheapest or greenest, not [dearest]' }] });
  }, 60_000);
});

describe('carbon-aware planning (a site whose grid is cleanest six hours from now, by an hourly profile)', () => {
  let broker: TestBroker;
  const greenHour = (new Date().getUTCHours() + 6) % 24;
  const hourly = Array.from({ length: 24 }, (_, h) => (h === greenHour ? 10 : 500));
  beforeAll(async () => {
    broker = await startTestBroker({ config: { sites: [demoSite({ name: 'grid', preparationMs: 0, releasingMs: 0, economics: economics(1, 1, { gramsPerKWh: 400, hourly }) })] } });
  });
  afterAll(async () => { await broker.close(); });

  const window = (): Doc => ({ schedule: { requested: { start: `${new Date().toISOString()}/PT24H`, duration: 'PT1H' } } });

  it('a greenest-ranked request with a 24 h window gets the lowest-carbon start first, and its quote says so', async () => {
    const set = await ask(broker, { ...window(), 'srcnet.rank': 'greenest' });
    expect(set.result).toBe('YES');
    const [first, ...rest] = set.offers as Doc[];
    const start = new Date(first!.schedule.preparing.start as string);
    expect([start.getUTCHours(), start.getUTCMinutes()]).toEqual([greenHour, 0]);
    // One core (10 W) for the hour at 10 gCO2/kWh.
    expect(itemOf(first!.costs, CARBON)).toMatchObject({ max: 0.1 });
    for (const offer of rest) expect(itemOf(offer.costs, CARBON)?.max).toBeGreaterThan(0.1);
  }, 30_000);

  it('by default the earliest start comes first, and the lowest-carbon start is offered beside it', async () => {
    const set = await ask(broker, window());
    const starts = (set.offers as Doc[]).map((offer) => Date.parse(offer.schedule.preparing.start as string));
    expect(starts[0]).toBeLessThan(Date.now() + 120_000);
    const green = (set.offers as Doc[]).find((offer) => new Date(offer.schedule.preparing.start as string).getUTCHours() === greenHour);
    expect(itemOf(green?.costs, CARBON)?.max).toBe(0.1);
    // A carbon limit the earliest start breaks leaves the green start only.
    const limited = await ask(broker, { ...window(), costs: [{ kind: COST, type: CARBON, max: 1 }] });
    expect((limited.offers as Doc[]).map((offer) => itemOf(offer.costs, CARBON)!.max as number).every((grams) => grams <= 1)).toBe(true);
    expect((limited.offers as Doc[]).length).toBeGreaterThan(0);
  }, 30_000);
});

describe('what ended sessions used (a site charging 2 a core-hour and 0.5 a GiB-hour, 400 gCO2/kWh)', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    const base = economics(2, 1);
    broker = await startTestBroker({ config: { sites: [demoSite({ name: 'metered', economics: { ...base, prices: { ...base.prices, memoryGiBHour: 0.5 } } })] } });
  });
  afterAll(async () => { await broker.close(); });

  it('a completed session\'s actual costs lie within its offer\'s quote (min = max = what it used), and /metrics adds them up per site and per user', async () => {
    const used: number[] = [];
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 2 }), fc.constantFrom('PT1M', 'PT10M', 'PT1H'), async (cores, duration) => {
      const request = { ...dockerRequest({ min: cores, max: cores }), schedule: { requested: { duration } } };
      const { offer, session } = await runFirstOffer(broker, request);
      expect(session.phase).toBe('COMPLETED');
      for (const quoted of offer.costs as Doc[]) {
        const actual = itemOf(session.costs, quoted.type as string)!;
        expect(actual.min).toBe(actual.max);
        expect([quoted.type, actual.min >= quoted.min, actual.max <= quoted.max]).toEqual([quoted.type, true, true]);
      }
      // The compute keeps the quote; the metrics are what was offered.
      expect(session.compute.costs).toEqual(offer.compute.costs);
      expect(session.metrics).toEqual(offer.metrics);
      used.push(itemOf(session.costs, MONEY)!.min as number);
    }), { numRuns: 3 });
    const text = (await broker.http.get('/metrics').expect(200)).text;
    const total = (pattern: RegExp): number => Number(pattern.exec(text)?.[1]);
    const sum = used.reduce((a, b) => a + b, 0);
    expect(total(/^eb_site_session_costs_total\{site="metered",type="monetary"\} (\S+)$/m)).toBeCloseTo(sum, 5);
    expect(total(/^eb_user_session_costs_total\{user="anonymous",type="monetary"\} (\S+)$/m)).toBeCloseTo(sum, 5);
    expect(total(/^eb_site_session_costs_total\{site="metered",type="carbon"\} (\S+)$/m)).toBeGreaterThan(0);
  }, 90_000);
});

describe('actual costs by measured CPU time (process runs: the wrapper records the run\'s CPU time; 100 W a core busy, 10 W idle)', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    const base = defaultEconomics(100);
    broker = await startTestBroker({ config: { sites: [demoSite({ name: 'watts', preparationMs: 0, releasingMs: 0, economics: { ...base, power: { ...base.power, coreWatts: 100, idleCoreWatts: 10 } } })] } });
  });
  afterAll(async () => { await broker.close(); });

  /** Runs `shell` on one core to COMPLETED; its energy per hour held, in watts, and the CPU time kept with its run. */
  async function wattsOf(shell: string): Promise<{ watts: number; cpuSeconds: number; energy: Doc; quoted: Doc }> {
    const request = { ...dockerRequest(), executable: { ...(dockerRequest().executable as Doc), command: ['-c', shell] } };
    const { offer, session } = await runFirstOffer(broker, request);
    expect(session.phase).toBe('COMPLETED');
    const run = JSON.parse((await broker.redis.hget(`${broker.config.keyPrefix}:session:${offer.meta.uuid}`, 'run'))!) as Doc;
    const actuals = JSON.parse((await broker.redis.hget(`${broker.config.keyPrefix}:session:${offer.meta.uuid}`, 'actuals'))!) as Doc;
    const tariff = JSON.parse((await broker.redis.hget(`${broker.config.keyPrefix}:session:${offer.meta.uuid}`, 'tariff'))!) as Doc;
    const hours = (actuals.until - tariff.start) / 3_600_000;
    const energy = itemOf(session.costs, 'urn:ivoa:calycopis:cost:energy')!;
    return { watts: energy.min * 1000 / hours, cpuSeconds: run.cpuSeconds, energy, quoted: itemOf(offer.costs, 'urn:ivoa:calycopis:cost:energy')! };
  }

  it('charges a sleeping run near idle power and a busy one near full power, each within its quote', async () => {
    const idle = await wattsOf('sleep 2');
    const busy = await wattsOf('end=$(($(date +%s) + 3)); while [ "$(date +%s)" -lt "$end" ]; do :; done');
    expect(idle.cpuSeconds).toBeLessThan(0.5);
    expect(busy.cpuSeconds).toBeGreaterThan(1);
    expect(idle.watts).toBeLessThan(40); // 10 W idle, and what a sleeping shell uses
    expect(busy.watts).toBeGreaterThan(2 * idle.watts);
    for (const { energy, quoted } of [idle, busy]) expect([energy.min >= quoted.min, energy.max <= quoted.max]).toEqual([true, true]);
  }, 60_000);
});
