import { performance } from 'node:perf_hooks';
import { dockerRequest, demoSite, redisUrl, startTestBroker, type TestBroker } from '../support/test-broker.js';
import { smallQuery } from '../support/srcnet.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/** What the issue asks: with Redis stalled or refusing, every route answers within this; and again once it is back. */
const BOUND_MS = 2_000;
const quick = { sites: [demoSite({ preparationMs: 0, releasingMs: 0 })] };

interface Answer { path: string; status: number; ms: number; headers: Headers; text: string }

async function call(base: string, method: string, path: string, options: { body?: unknown; type?: string; accept?: string; headersOnly?: boolean } = {}): Promise<Answer> {
  const started = performance.now();
  const controller = new AbortController();
  const giveUp = setTimeout(() => controller.abort(), 15_000);
  try {
    const headers: Record<string, string> = { Accept: options.accept ?? 'application/json' };
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['Content-Type'] = options.type ?? 'application/json';
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    }
    const res = await fetch(`${base}${path}`, { method, headers, body, signal: controller.signal, redirect: 'manual' });
    const ms = performance.now() - started;
    const text = options.headersOnly ? '' : await res.text();
    if (options.headersOnly) controller.abort();
    return { path: `${method} ${path}`, status: res.status, ms: options.headersOnly ? ms : performance.now() - started, headers: res.headers, text };
  } finally {
    clearTimeout(giveUp);
  }
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Every route, once each, all at the same time. */
function everyRoute(base: string, ids: { offerSet: string; session: string; provision: string }): Promise<Answer[]> {
  const { offerSet, session, provision } = ids;
  return Promise.all([
    call(base, 'GET', '/availability'),
    call(base, 'GET', '/v1/health'),
    call(base, 'POST', '/requests', { body: dockerRequest() }),
    call(base, 'POST', '/requests', { body: '<offers-request/>', type: 'application/xml', accept: 'application/xml' }).then((a) => ({ ...a, path: 'POST /requests (XML)' })),
    call(base, 'POST', '/direct', { body: dockerRequest() }),
    call(base, 'GET', `/offersets/${offerSet}`),
    call(base, 'GET', `/sessions/${session}`, { accept: 'application/yaml' }).then((a) => ({ ...a, path: 'GET /sessions/{uuid} (YAML)' })),
    call(base, 'POST', `/sessions/${session}`, { body: { kind: 'uri:enum-value-update', path: '/phase', value: 'ACCEPTED' } }),
    call(base, 'GET', '/sessions'),
    call(base, 'GET', `/sessions/${session}/logs`),
    call(base, 'GET', `/sessions/${session}/history`),
    call(base, 'GET', `/sessions/${session}/outputs`),
    call(base, 'GET', '/sites'),
    call(base, 'GET', '/sites/demo/timeline'),
    call(base, 'GET', '/metrics'),
    call(base, 'GET', '/events', { headersOnly: true }),
    call(base, 'POST', '/v1/query', { body: smallQuery() }),
    call(base, 'PUT', '/v1/provision', { body: smallQuery() }),
    call(base, 'PUT', `/v1/${provision}/submit`, { body: { container: 'x', dataset: 'http://127.0.0.1/x.csv' } }),
    call(base, 'GET', `/v1/${provision}/status`),
  ]);
}

const slowOnes = (answers: Answer[]): string[] => answers.filter((a) => a.ms > BOUND_MS).map((a) => `${a.path}: ${Math.round(a.ms)} ms`);

/**
 * Every route while Redis cannot be reached, asked a second time when some answer was slow: a
 * route that waits on Redis is slow every time, while a burst of load elsewhere on the machine
 * (two Jest workers, other work) does not come back at once.
 */
async function everyRouteWhileDown(base: string, ids: { offerSet: string; session: string; provision: string }): Promise<Answer[]> {
  const answers = await everyRoute(base, ids);
  const slow = slowOnes(answers);
  if (!slow.length) return answers;
  console.warn(`slow while Redis was down, asking again: ${slow.join(', ')}`);
  return everyRoute(base, ids);
}

/** What every answer must be while Redis cannot be reached. */
function expectFastFailures(answers: Answer[]): void {
  expect(slowOnes(answers)).toEqual([]);
  const byPath = new Map(answers.map((a) => [a.path, a]));
  const availability = byPath.get('GET /availability')!;
  expect(availability.text).toContain('<available>false</available>');
  const health = byPath.get('GET /v1/health')!;
  expect(health.status).toBe(500);
  expect(JSON.parse(health.text).dependent_services.redis).toEqual({ status: 'DOWN' });
  // A 503 with Retry-After, in the client's own format, through the one error model.
  for (const path of ['POST /requests', 'POST /direct', 'GET /sessions']) {
    const answer = byPath.get(path)!;
    expect([path, answer.status, answer.headers.get('retry-after')]).toEqual([path, 503, '2']);
    expect(JSON.parse(answer.text)).toMatchObject({ code: 'service-unavailable', status: 503 });
  }
  const xml = byPath.get('POST /requests (XML)')!;
  expect([xml.status, xml.headers.get('content-type')]).toEqual([503, 'application/problem+xml; charset=utf-8']);
  expect(xml.text).toContain('<code>service-unavailable</code>');
  const yaml = byPath.get('GET /sessions/{uuid} (YAML)')!;
  expect([yaml.status, yaml.text]).toEqual([503, expect.stringContaining('code: "service-unavailable"')]);
  // SRCNet's clients read a response code in a 200 body: 3, "could not connect to the backend".
  const query = byPath.get('POST /v1/query')!;
  expect([query.status, JSON.parse(query.text).response_code, query.headers.get('retry-after')]).toEqual([200, 3, '2']);
  // Nothing answered 500 but the health probe, whose 500 is SRCNet's way of saying DOWN.
  expect(answers.filter((a) => a.status >= 500 && a.status !== 503 && a.path !== 'GET /v1/health').map((a) => `${a.path} ${a.status} ${a.text}`)).toEqual([]);
}

/** From now, how long until an offer request gets offers again and /availability and /v1/health say so. */
async function timeToRecover(base: string): Promise<number> {
  const started = performance.now();
  for (;;) {
    const [offers, availability, health] = await Promise.all([
      call(base, 'POST', '/requests', { body: dockerRequest() }),
      call(base, 'GET', '/availability'),
      call(base, 'GET', '/v1/health'),
    ]);
    if (offers.status === 303 && availability.text.includes('<available>true</available>') && health.status === 200) return performance.now() - started;
    if (performance.now() - started > 15_000) throw new Error(`not recovered: ${offers.status} ${offers.text.slice(0, 300)}`);
    await sleep(50);
  }
}

describe('the broker when its Redis stalls or refuses connections', () => {
  let proxy: TcpProxy;
  let broker: TestBroker;
  let ids: { offerSet: string; session: string; provision: string };
  const consoleError = console.error;

  beforeAll(async () => {
    // Every connection the broker makes goes through a proxy that can stall or refuse.
    proxy = await TcpProxy.start(Number(new URL(redisUrl()).port || 6379));
    broker = await startTestBroker({ config: quick, env: { REDIS_URL: proxy.url } });
    broker.redis.on('error', () => undefined);
    console.error = () => undefined; // ioredis reports every failed reconnection there
    const offers = await broker.http.post('/requests').send(dockerRequest()).expect(303);
    const offerSet = String(offers.headers.location).split('/').pop()!;
    const set = await broker.http.get(`/offersets/${offerSet}`).expect(200);
    const provision = await broker.http.put('/v1/provision').send(smallQuery()).expect(200);
    ids = { offerSet, session: set.body.offers[0].meta.uuid as string, provision: provision.body.provision_id as string };
    // An event stream is subscribed before the faults, so that /events has a subscription to lose.
    await call(broker.baseUrl, 'GET', '/events', { headersOnly: true });
  }, 60_000);

  afterAll(async () => {
    proxy.resume();
    await proxy.accept().catch(() => undefined);
    await broker.close();
    await proxy.close();
    console.error = consoleError;
  }, 60_000);

  it('answers every route within 2 s while the path to Redis is stalled, and normally within 2 s once it flows again', async () => {
    proxy.stall();
    try {
      expectFastFailures(await everyRouteWhileDown(broker.baseUrl, ids));
      // Longer than the connections' socket time-out: they are dropped and made again, still stalled.
      await sleep(3_500);
      expectFastFailures(await everyRouteWhileDown(broker.baseUrl, ids));
    } finally {
      proxy.resume();
    }
    expect(await timeToRecover(broker.baseUrl)).toBeLessThan(BOUND_MS);
  }, 60_000);

  it('answers every route within 2 s while Redis refuses connections, and normally within 2 s once it accepts them', async () => {
    await proxy.refuse();
    try {
      expectFastFailures(await everyRouteWhileDown(broker.baseUrl, ids));
      await sleep(1_000);
      expectFastFailures(await everyRouteWhileDown(broker.baseUrl, ids));
    } finally {
      await proxy.accept();
    }
    expect(await timeToRecover(broker.baseUrl)).toBeLessThan(BOUND_MS);
  }, 60_000);
});
