import type { Server } from 'node:http';
import request from 'supertest';
import { startBrokerRuntime, type BrokerRuntime } from '../../src/main/broker-runtime.js';
import { demoSite, dockerRequest, startTestBroker, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const update = (value: string) => JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value });

/** Two clients must never get the same capacity, whichever API process or site worker they meet. */
describe('concurrency', () => {
  let broker: TestBroker;
  let second: BrokerRuntime;
  let secondServer: Server;
  let secondUrl = '';
  beforeAll(async () => {
    broker = await startTestBroker({ config: { sites: [demoSite({ cores: 20, memoryGiB: 1000 })] } });
    // A second API process with its own site worker, on the same Redis and key prefix.
    second = await startBrokerRuntime(broker.config, { api: true, siteWorkers: true, timers: true });
    secondServer = await new Promise<Server>((ready) => { const s = second.app!.listen(0, '127.0.0.1', () => ready(s)); });
    const address = secondServer.address();
    secondUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });
  afterAll(async () => {
    await new Promise((done) => secondServer.close(done));
    await second.close();
    await broker.close();
  });

  /** The calendar's figure for this minute, and the same recomputed from the hold records. */
  async function heldCores(): Promise<{ ledger: number; holds: number; holdCount: number }> {
    const ledger = await broker.heldNow();
    const keys = await broker.redis.keys(`${broker.config.keyPrefix}:hold:*`);
    let holds = 0;
    for (const key of keys) holds += Number(await broker.redis.hget(key, 'r:cores'));
    return { ledger, holds, holdCount: keys.length };
  }

  it('holds no capacity twice when 200 requests race for a site with room for 20', async () => {
    // A start window of one minute: only 20 ten-minute sessions of one core can start in it.
    const body = JSON.stringify({ ...dockerRequest({ min: 1, max: 1 }, { min: 1, max: 1 }), schedule: { requested: { start: `${new Date().toISOString()}/PT1M`, duration: 'PT10M' } } });
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) =>
      request(i % 2 ? secondUrl : broker.baseUrl).post('/requests').set('Content-Type', 'application/json').send(body)));
    expect(results.filter((res) => res.status !== 303).map((res) => `${res.status} ${res.text.slice(0, 300)}`)).toEqual([]);
    const yes = results.filter((res) => res.body.result === 'YES');
    const offered = yes.flatMap((res) => res.body.offers as Doc[]);
    expect(yes).toHaveLength(20);
    expect(offered).toHaveLength(20);
    expect(new Set(offered.map((o) => o.meta.uuid)).size).toBe(20);
    expect(await heldCores()).toEqual({ ledger: 20, holds: 20, holdCount: 20 });
    const no = results.find((res) => res.body.result === 'NO');
    expect(no?.body.meta.messages.map((m: Doc) => m.kind)).toContain('urn:no-capacity');

    await Promise.all(offered.map((o) => request(broker.baseUrl).post(`/sessions/${o.meta.uuid}`).set('Content-Type', 'application/json').send(update('REJECTED')).expect(200)));
    expect(await heldCores()).toEqual({ ledger: 0, holds: 0, holdCount: 0 });
  });

  it('asks the site for offer sets that arrive together in fewer negotiation jobs than offer sets, and gives each its own answer', async () => {
    const prefix = broker.config.keyPrefix;
    const jobsBefore = new Set(await broker.redis.keys(`${prefix}:negotiation-answer:*`));
    // Sixty requests at once, each of its own size and name: what comes back must be each one's own.
    const asked = Array.from({ length: 60 }, (_, i) => ({ cores: 1 + (i % 4), name: `batch-${i}` }));
    const results = await Promise.all(asked.map(({ cores, name }) => {
      const body = dockerRequest({ min: cores, max: cores }) as Doc;
      body.executable.meta.name = name;
      return request(broker.baseUrl).post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body));
    }));
    expect(results.filter((res) => res.status !== 303).map((res) => `${res.status} ${res.text.slice(0, 300)}`)).toEqual([]);
    results.forEach((res, i) => {
      expect(res.body.result).toBe('YES');
      expect((res.body.offers as Doc[]).length).toBeGreaterThan(0);
      for (const offer of res.body.offers as Doc[]) {
        expect(offer.executable.meta.name).toBe(asked[i]!.name);
        expect(offer.compute.cores).toEqual({ min: asked[i]!.cores, max: asked[i]!.cores });
      }
    });
    const offered = results.flatMap((res) => (res.body.offers as Doc[]).map((o) => o.meta.uuid as string));
    expect(new Set(offered).size).toBe(offered.length);
    // Each negotiation job's reply is kept a minute under its job id: fewer jobs than offer sets.
    const jobs = (await broker.redis.keys(`${prefix}:negotiation-answer:*`)).filter((key) => !jobsBefore.has(key));
    expect(jobs.length).toBeGreaterThan(0);
    expect(jobs.length).toBeLessThan(asked.length);
    // The site had room for 20 cores at once: the rest start later, and all of it comes back.
    await Promise.all(offered.map((uuid) => request(broker.baseUrl).post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('REJECTED')).expect(200)));
    expect(await heldCores()).toEqual({ ledger: 0, holds: 0, holdCount: 0 });
  });

  it('lets exactly one of many racing accepts on one offer set win', async () => {
    for (let round = 0; round < 10; round++) {
      const set = (await request(broker.baseUrl).post('/requests').set('Content-Type', 'application/json')
        .send(JSON.stringify(dockerRequest({ min: 1, max: 2 })))).body as Doc;
      expect(set.offers).toHaveLength(2);
      const uuids = (set.offers as Doc[]).map((o) => o.meta.uuid as string);
      const attempts = await Promise.all(Array.from({ length: 8 }, (_, i) =>
        request(i % 2 ? secondUrl : broker.baseUrl).post(`/sessions/${uuids[i % 2]}`).set('Content-Type', 'application/json').send(update('ACCEPTED'))));
      const wins = attempts.filter((res) => res.status === 200);
      expect(wins).toHaveLength(1);
      expect(attempts.filter((res) => res.status === 409)).toHaveLength(7);
      const winner = wins[0]!.body.meta.uuid as string;
      const loser = uuids.find((uuid) => uuid !== winner)!;
      expect((await request(broker.baseUrl).get(`/sessions/${loser}`)).body.phase).toBe('REJECTED');
      const held = await heldCores();
      expect(held.ledger).toBe(held.holds);
      await request(broker.baseUrl).post(`/sessions/${winner}`).set('Content-Type', 'application/json').send(update('CANCELLED')).expect(200);
    }
    expect(await heldCores()).toEqual({ ledger: 0, holds: 0, holdCount: 0 });
  });
});
