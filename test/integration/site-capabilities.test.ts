import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ANONYMOUS } from '../../src/domain/principal.js';
import type { SiteProfile } from '../../src/domain/site-profile.js';
import { checkNodes } from '../../src/protocol/srcnet/site-capabilities-schema.js';
import { RedisSiteCatalogue } from '../../src/store/redis-site-catalogue.js';
import { auditLedger } from '../../src/store/audit-ledger.js';
import { redisKeys } from '../../src/store/redis-keys.js';
import { BROKER_CLIENT, oidcEnv, startIdentityProvider, type TestIdentityProvider } from '../support/oidc-provider.js';
import { demoSite, dockerRequest, startTestBroker, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const EXAMPLE = JSON.parse(readFileSync(new URL('../fixtures/site-capabilities/example-nodes.json', import.meta.url), 'utf8')) as Doc[];
const REFRESH_MS = 400;

/** SCAPI's example catalogue, with the queue limits SCAPI's queues carry (max_cpu_cores, ...). */
function catalogue(): Doc[] {
  const nodes = structuredClone(EXAMPLE);
  const queues = nodes[0]!.sites[0].compute[0].queues as Doc[];
  Object.assign(queues[0]!, { max_cpu_cores: 8, max_memory_gb: 16, max_scratch_gb: 50 });
  Object.assign(queues[1]!, { max_cpu_cores: 2, max_memory_gb: 4, max_scratch_gb: 10 });
  Object.assign(nodes[0]!.sites[1].compute[0].queues[0] as Doc, { max_cpu_cores: 4, max_memory_gb: 8, max_scratch_gb: 20 });
  return nodes;
}

/**
 * The broker's sites from SRCNet's Site Capabilities API, against a stand-in SCAPI (a small HTTP
 * server in this test serving SCAPI's own example catalogue, checked against SCAPI's schemas),
 * refreshed by the repeatable BullMQ job, kept in Redis, through the real engine and site workers.
 */
describe('sites from the site capabilities API (against a stand-in SCAPI)', () => {
  let standIn: Server;
  let served: Doc[] | undefined = catalogue();
  /** An answer that is not a catalogue, served instead while set. */
  let raw: string | undefined;
  let requests = 0;
  let broker: TestBroker;
  let store: RedisSiteCatalogue;
  const bound = (name: string, siteCapabilities: SiteProfile['siteCapabilities']): SiteProfile => demoSite({ name, preparationMs: 0, releasingMs: 0, siteCapabilities });

  beforeAll(async () => {
    standIn = createServer((req, res) => {
      requests++;
      if (req.url !== '/api/v1/nodes?include_inactive=true') { res.writeHead(404).end(); return; }
      if (raw !== undefined) { res.writeHead(200, { 'Content-Type': 'application/json' }).end(raw); return; }
      if (!served) { res.writeHead(503, { 'Content-Type': 'application/json' }).end('{"detail":"down for the test"}'); return; }
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(served));
    });
    await new Promise<void>((ready) => standIn.listen(0, '127.0.0.1', ready));
    broker = await startTestBroker({ config: {
      siteCapabilities: { url: `http://127.0.0.1:${(standIn.address() as AddressInfo).port}/api/v1`, refreshMs: REFRESH_MS },
      sites: [
        bound('alpha', { site: 'TEST_A', compute: 'db1d3ee3-74e4-48aa-afaf-8d7709a2f57c', queue: 'test-queue-1' }),
        bound('beta', { site: 'TEST_A', compute: 'db1d3ee3-74e4-48aa-afaf-8d7709a2f57c', queue: 'test-queue-3' }),
        bound('gamma', { site: 'TEST_B', compute: 'TEST' }),
        bound('delta', { compute: 'db1d3ee3-74e4-48aa-afaf-8d7709a2f57c' }),
        bound('epsilon', { site: 'TEST_A', compute: 'db1d3ee3-74e4-48aa-afaf-8d7709a2f57c' }),
      ],
    } });
    store = new RedisSiteCatalogue(broker.redis, redisKeys(broker.config.keyPrefix));
  });
  afterAll(async () => {
    await broker?.close();
    await new Promise((done) => standIn?.close(done));
  });

  /** Resolves once a refresh has been attempted after now (the refresh after a change in the stand-in). */
  async function nextRefresh(): Promise<void> {
    const after = Date.now();
    for (let i = 0; i < 100; i++) {
      const status = await store.status();
      if ((status.lastAttempt ?? 0) > after) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('no refresh within 5 s');
  }
  const sites = async (): Promise<Record<string, SiteProfile>> =>
    Object.fromEntries((await broker.runtime.api!.listSites(ANONYMOUS)).map(({ site }) => [site.name, site]));
  /** Asks for offers and lets them go at once (the answer is what is looked at; nothing stays held). */
  const ask = async (cores: { min: number; max: number }): Promise<Doc> => {
    const offerSet = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(dockerRequest(cores))).expect(303)).body as Doc;
    for (const offer of (offerSet.offers ?? []) as Doc[]) {
      await broker.http.post(`/sessions/${offer.meta.uuid}`).set('Content-Type', 'application/json')
        .send(JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value: 'REJECTED' })).expect(200);
    }
    return offerSet;
  };
  const messages = (offerSet: Doc): string[] => (offerSet.meta?.messages ?? offerSet.messages ?? []).map((m: Doc) => m.message as string);

  it('serves a stand-in catalogue that SCAPI\'s schemas accept, and refuses one they do not', () => {
    expect(checkNodes(EXAMPLE)).toEqual([]);
    expect(checkNodes(catalogue())).toEqual([]);
    const broken = catalogue();
    broken[0]!.sites[0].compute[0].queues[0].max_cpu_cores = 'eight';
    broken[0]!.sites[1].is_force_disabled = 'no';
    expect(checkNodes(broken)).toEqual([
      '/0/sites/0/compute/0/queues/0/max_cpu_cores: must be number,null',
      '/0/sites/1/is_force_disabled: must be boolean',
    ]);
  });

  it("gives the broker's sites their queue's limits, hardware and storage areas", async () => {
    await nextRefresh();
    const { alpha, gamma, delta, epsilon } = await sites();
    expect(alpha).toMatchObject({ maxCoresPerSession: 8, maxMemoryGiBPerSession: 16, maxScratchGiBPerSession: 50, hardwareCapabilities: [], gpus: {} });
    expect(alpha!.storageElements).toEqual(expect.arrayContaining([
      { name: 'STORM_ND', hosts: ['host.skao.int'], bandwidthMBps: 100, local: true },
      { name: 'f62199c3-62ad-44ee-a6e0-dd34e891d423', hosts: ['host.skao.int'], bandwidthMBps: 100, local: true },
    ]));
    expect(alpha!.storageElements.map((e) => e.name)).not.toContain('f605dd74-7a43-40e5-9229-48845416e30a'); // an ingest area
    expect(gamma).toMatchObject({ maxCoresPerSession: 4, maxMemoryGiBPerSession: 8 });
    // No queue named: the largest of the compute's queues that are not disabled.
    expect(epsilon).toMatchObject({ maxCoresPerSession: 8, maxMemoryGiBPerSession: 16, maxScratchGiBPerSession: 50 });
    // SCAPI's example gives TEST_A's and TEST_B's computes one id: without the site, the binding names neither.
    expect(delta!.disabled).toBe('Site delta: compute db1d3ee3-74e4-48aa-afaf-8d7709a2f57c names 2 computes in the site capabilities catalogue (name the SCAPI site too)');
    const catalogued = await store.load();
    expect(catalogued?.sites.gamma?.services.map((s) => s.type).sort()).toEqual(['echo', 'jupyterhub', 'soda_async', 'soda_sync']);
  });

  it('offers within the queue\'s limits, and never offers a force-disabled queue, saying why', async () => {
    const largest = await ask({ min: 1, max: 32 });
    expect(largest.result).toBe('YES');
    const offers = largest.offers as Doc[];
    expect(offers.length).toBeGreaterThan(0);
    const siteOf = (offer: Doc): string => String(offer.meta.description).replace(/^Offered by site /, '');
    const offered = new Set(offers.map(siteOf));
    expect(offered.has('beta') || offered.has('delta')).toBe(false);
    expect(offered.has('alpha')).toBe(true);
    const limit: Record<string, number> = { alpha: 8, gamma: 4, epsilon: 8 };
    for (const offer of offers) expect(offer.compute.cores.max).toBeLessThanOrEqual(limit[siteOf(offer)]!);
    expect(Math.max(...offers.filter((offer) => siteOf(offer) === 'alpha').map((offer) => offer.compute.cores.max as number))).toBe(8);
    expect(messages(largest)).toEqual(expect.arrayContaining([
      'Site alpha: 32 cores asked at most, capped at the 8 it gives one session',
      'Site beta is force-disabled in the site capabilities catalogue (queue test-queue-3)',
    ]));
    const tooLarge = await ask({ min: 16, max: 16 });
    expect(tooLarge.result).toBe('NO');
    expect(messages(tooLarge)).toEqual(expect.arrayContaining([
      'Site alpha: 16 cores asked, 8 exist',
      'Site beta is force-disabled in the site capabilities catalogue (queue test-queue-3)',
    ]));
  });

  it('sees a change in the stand-in within one refresh: a force-disabled compute, new limits', async () => {
    const changed = catalogue();
    changed[0]!.sites[1].compute[0].is_force_disabled = true;
    changed[0]!.sites[0].compute[0].queues[0].max_cpu_cores = 3;
    served = changed;
    await nextRefresh();
    const { alpha, gamma } = await sites();
    expect(alpha!.maxCoresPerSession).toBe(3);
    expect(gamma!.disabled).toBe('Site gamma is force-disabled in the site capabilities catalogue (compute TEST)');
    const answer = await ask({ min: 4, max: 4 });
    // Within the new limits: the force-disabled compute (gamma) and queue (beta) are never offered; alpha and epsilon (TEST_A's, 3 cores now) are.
    const small = await ask({ min: 2, max: 2 });
    const offeredOn = new Set(((small.offers ?? []) as Doc[]).map((offer) => String(offer.meta.description).replace(/^Offered by site /, '')));
    expect(offeredOn.has('alpha') || offeredOn.has('epsilon')).toBe(true);
    expect([...offeredOn].filter((site) => ['gamma', 'beta', 'delta'].includes(site))).toEqual([]);
    expect(messages(answer)).toEqual(expect.arrayContaining([
      'Site alpha: 4 cores asked, 3 exist',
      'Site gamma is force-disabled in the site capabilities catalogue (compute TEST)',
    ]));
    served = catalogue();
    await nextRefresh();
    expect((await sites()).gamma!.disabled).toBeUndefined();
  });

  it('keeps the last good catalogue when SCAPI cannot be reached, and says so in /health and /metrics', async () => {
    served = undefined;
    await nextRefresh();
    await nextRefresh();
    const status = await store.status();
    expect(status.lastError).toMatch(/answered 503 to GET \/nodes/);
    expect(status.lastSuccess).toBeLessThan(status.lastAttempt!);
    expect((await sites()).alpha!.maxCoresPerSession).toBe(8); // the last good one
    const health = await broker.http.get('/v1/health').expect(200);
    expect(health.body.dependent_services['site-capabilities']).toMatchObject({ status: 'DOWN', error: expect.stringMatching(/503/), catalogue_fetched_at: expect.any(String) });
    const metrics = await broker.http.get('/metrics').expect(200);
    expect(metrics.text).toMatch(/^eb_site_catalogue_up 0$/m);
    // An answer SCAPI's schemas refuse, or no JSON at all, is no catalogue either.
    served = catalogue();
    raw = JSON.stringify([{ ...served[0], sites: [{ ...served[0]!.sites[0], is_force_disabled: 'no' }] }]);
    await nextRefresh();
    expect((await store.status()).lastError).toBe(`the site capabilities API's answer to GET /nodes does not match its schemas: /0/sites/0/is_force_disabled: must be boolean`);
    raw = '<html>';
    await nextRefresh();
    expect((await store.status()).lastError).toMatch(/^the site capabilities API's answer to GET \/nodes is not JSON: /);
    expect((await sites()).alpha!.maxCoresPerSession).toBe(8);
    raw = undefined;
    await nextRefresh();
    expect((await broker.http.get('/v1/health').expect(200)).body.dependent_services['site-capabilities'].status).toBe('UP');
    expect((await broker.http.get('/metrics').expect(200)).text).toMatch(/^eb_site_catalogue_up 1$/m);
    expect(requests).toBeGreaterThan(4);
  });

  describe('downtime is capacity', () => {
    const MINUTE = 60_000;
    type Level = 'site' | 'compute' | 'queue';
    interface Downtime { level: Level; start: number; end: number }
    const range = (d: Downtime): string => `${new Date(d.start).toISOString()} to ${new Date(d.end).toISOString()}`;
    /** The stand-in's catalogue with these downtimes on TEST_A, its compute and alpha's queue (test-queue-1). */
    function withDowntimes(downtimes: readonly Downtime[]): Doc[] {
      const nodes = catalogue();
      const site = nodes[0]!.sites[0] as Doc;
      const of = (level: Level) => downtimes.filter((d) => d.level === level).map((d) => ({ date_range: range(d), type: 'Planned', reason: `test ${level}` }));
      site.downtime = of('site');
      site.compute[0].downtime = of('compute');
      site.compute[0].queues[0].downtime = of('queue');
      expect(checkNodes(nodes)).toEqual([]);
      return nodes;
    }
    const siteOf = (offer: Doc): string => String(offer.meta.description).replace(/^Offered by site /, '');
    /** An offer's whole schedule: preparation to the end of releasing (the test sites prepare and release in no time). */
    const span = (offer: Doc): { start: number; end: number } => {
      expect(offer.schedule.releasing.duration).toBe('PT0S');
      return { start: Date.parse(offer.schedule.preparing.start as string), end: Date.parse(offer.schedule.releasing.start as string) };
    };
    const request = (minutes: number, cores = 1) => ({ ...dockerRequest({ min: cores, max: cores }), schedule: { requested: { duration: `PT${minutes}M` } } });
    const reject = async (offerSet: Doc): Promise<void> => {
      for (const offer of (offerSet.offers ?? []) as Doc[]) {
        await broker.http.post(`/sessions/${offer.meta.uuid}`).set('Content-Type', 'application/json')
          .send(JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value: 'REJECTED' })).expect(200);
      }
    };

    it('holds a declared downtime in the site\'s calendar, so offers come after it, and releases it once it is no longer declared', async () => {
      const now = Date.now();
      const downtime = { level: 'site' as const, start: now - 10 * MINUTE, end: now + 90 * MINUTE };
      served = withDowntimes([downtime]);
      await nextRefresh();
      expect(await broker.heldNow('cores', 'alpha')).toBe(32);
      expect(await broker.heldNow('memory', 'alpha')).toBe(256);
      expect(await broker.heldNow('cores', 'gamma')).toBe(0); // TEST_B has no downtime
      // The catalogue tells it: the downtime under way, nothing free now nor in the first hour, all free after it.
      const listed = (await broker.http.get('/sites?hours=4').expect(200)).body.sites as Doc[];
      const alphaListed = listed.find((entry) => entry.name === 'alpha')!;
      expect(alphaListed.nextDowntime).toEqual({ start: new Date(downtime.start).toISOString().replace('.000', ''), end: new Date(downtime.end).toISOString().replace('.000', ''), type: 'Planned', reason: 'test site', of: 'site TEST_A' });
      expect(alphaListed.free.now).toMatchObject({ cores: 0, memoryGiB: 0 });
      expect(alphaListed.free.hours.map((hour: Doc) => hour.cores)).toEqual([0, 0, 32, 32]);
      expect(alphaListed.catalogue).toMatchObject({ node: 'TEST', site: 'TEST_A', queue: 'test-queue-1', storageAreas: expect.arrayContaining([expect.objectContaining({ type: 'rse' })]) });
      expect(listed.find((entry) => entry.name === 'gamma')!.nextDowntime).toBeUndefined();
      expect(listed.find((entry) => entry.name === 'beta')!.disabled).toMatch(/force-disabled/);
      expect((await broker.http.get('/sites?cores=1').expect(200)).body.sites.map((entry: Doc) => entry.name)).not.toEqual(expect.arrayContaining(['alpha']));
      const offered = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(request(30))).expect(303)).body as Doc;
      const alphas = (offered.offers as Doc[]).filter((offer) => siteOf(offer) === 'alpha');
      expect(alphas.length).toBeGreaterThan(0);
      for (const offer of alphas) expect(span(offer).start).toBeGreaterThanOrEqual(Math.ceil(downtime.end / MINUTE) * MINUTE);
      await reject(offered);
      const audit = await auditLedger(broker.redis, redisKeys(broker.config.keyPrefix), broker.config.sites, Date.now());
      expect({ leaked: audit.leakedHolds, mismatches: audit.calendarMismatches, overbooked: audit.overbookings }).toEqual({ leaked: [], mismatches: [], overbooked: [] });

      served = withDowntimes([]);
      await nextRefresh();
      expect(await broker.heldNow('cores', 'alpha')).toBe(0);
      const after = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(request(30))).expect(303)).body as Doc;
      const soon = (after.offers as Doc[]).filter((offer) => siteOf(offer) === 'alpha');
      expect(Math.min(...soon.map((offer) => span(offer).start))).toBeLessThan(Date.now() + MINUTE);
      await reject(after);
    });

    it('never offers a schedule that overlaps a downtime of its site, whatever the downtimes (property)', async () => {
      const downtime = fc.record({
        level: fc.constantFrom<Level>('site', 'compute', 'queue'),
        startMinute: fc.integer({ min: -120, max: 8 * 60 }),
        minutes: fc.integer({ min: 1, max: 6 * 60 }),
      });
      let offersChecked = 0;
      let pushed = 0;
      await fc.assert(fc.asyncProperty(fc.array(downtime, { maxLength: 4 }), fc.integer({ min: 5, max: 180 }), fc.integer({ min: 1, max: 8 }), async (drawn, minutes, cores) => {
        const now = Date.now();
        const downtimes = drawn.map((d) => ({ level: d.level, start: now + d.startMinute * MINUTE, end: now + (d.startMinute + d.minutes) * MINUTE }));
        served = withDowntimes(downtimes);
        await nextRefresh();
        const offered = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(request(minutes, cores))).expect(303)).body as Doc;
        for (const offer of (offered.offers ?? []) as Doc[]) {
          const site = siteOf(offer);
          // alpha is TEST_A's test-queue-1; epsilon is TEST_A's compute (no queue); the others are TEST_B's or never offered.
          const applies = site === 'alpha' ? downtimes : site === 'epsilon' ? downtimes.filter((d) => d.level !== 'queue') : [];
          const { start, end } = span(offer);
          for (const d of applies) {
            expect({ site, offer: [new Date(start).toISOString(), new Date(end).toISOString()], overlaps: start < d.end && d.start < end, downtime: range(d) })
              .toMatchObject({ overlaps: false });
          }
          if (applies.length) offersChecked++;
          if (applies.some((d) => d.start <= now && d.end > now)) pushed++;
        }
        await reject(offered);
      }), {
        numRuns: 20,
        // Random draws alone leave a downtime under way in only some runs (CI once drew none), so two
        // runs always have one: the site's, and alpha's queue's (which pushes alpha but not epsilon).
        examples: [
          [[{ level: 'site', startMinute: -10, minutes: 70 }], 30, 1],
          [[{ level: 'queue', startMinute: -30, minutes: 120 }, { level: 'compute', startMinute: 200, minutes: 60 }], 45, 2],
        ],
      });
      // Not vacuous: offers on the sites with downtimes were checked, some of them pushed past one under way.
      expect(offersChecked).toBeGreaterThan(10);
      expect(pushed).toBeGreaterThan(0);
      served = catalogue();
      await nextRefresh();
    }, 120_000);
  });
});

/** SCAPI wants a token for its audience: the broker gets its own by the client credentials grant. */
describe('the broker\'s token for the site capabilities API (against a stand-in SCAPI and a test issuer)', () => {
  const AUDIENCE = 'https://site-capabilities.test.example';
  let idp: TestIdentityProvider;
  let standIn: Server;
  const seen: Array<{ status: number; sub?: string; aud?: unknown }> = [];
  const brokers: TestBroker[] = [];

  beforeAll(async () => {
    idp = await startIdentityProvider();
    standIn = createServer((req, res) => {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const answer = (status: number, body: unknown, claims: { sub?: string; aud?: unknown } = {}) => {
        seen.push({ status, ...claims });
        res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
      };
      if (!token) { answer(401, { detail: 'Not authenticated' }); return; }
      idp.verify(token, AUDIENCE).then(
        (claims) => answer(200, catalogue(), { sub: String(claims.sub), aud: claims.aud }),
        () => answer(401, { detail: 'Invalid token' }),
      );
    });
    await new Promise<void>((ready) => standIn.listen(0, '127.0.0.1', ready));
  });
  afterAll(async () => {
    for (const broker of brokers) await broker.close();
    await new Promise((done) => standIn?.close(done));
    await idp?.close();
  });

  async function lastRefresh(broker: TestBroker): Promise<Record<string, unknown>> {
    const store = new RedisSiteCatalogue(broker.redis, redisKeys(broker.config.keyPrefix));
    for (let i = 0; i < 100; i++) {
      const status = await store.status();
      if (status.lastAttempt !== undefined) return status as Record<string, unknown>;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('no refresh within 5 s');
  }
  const start = async (audience: string): Promise<TestBroker> => {
    const broker = await startTestBroker({ env: oidcEnv(idp.issuer), config: {
      siteCapabilities: { url: `http://127.0.0.1:${(standIn.address() as AddressInfo).port}/api/v1`, refreshMs: 60_000, audience },
      sites: [demoSite({ name: 'alpha', preparationMs: 0, releasingMs: 0, processRuns: { ...demoSite().processRuns, isolation: 'sandbox' }, siteCapabilities: { site: 'TEST_A', compute: 'db1d3ee3-74e4-48aa-afaf-8d7709a2f57c', queue: 'test-queue-1' } })],
    } });
    brokers.push(broker);
    return broker;
  };

  it('sends a token of the broker\'s own client for SCAPI\'s audience, and says so when SCAPI refuses one', async () => {
    const good = await start(AUDIENCE);
    expect(await lastRefresh(good)).toMatchObject({ lastSuccess: expect.any(Number) });
    expect((await lastRefresh(good)).lastError).toBeUndefined();
    expect(seen.at(-1)).toEqual({ status: 200, sub: BROKER_CLIENT.id, aud: AUDIENCE });
    const wrong = await start('https://another.test.example');
    expect(await lastRefresh(wrong)).toMatchObject({ lastError: expect.stringMatching(/answered 401 to GET \/nodes/) });
    expect(seen.at(-1)).toEqual({ status: 401 });
  });
});
