import { PassThrough } from 'node:stream';
import { createLogger } from '../../src/observability/logger.js';
import { startBrokerRuntime } from '../../src/main/broker-runtime.js';
import { demoSite, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';
import { until } from '../support/until.js';

type Doc = Record<string, any>;
const update = (value: string) => JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value });

/** Prometheus metrics at /metrics, structured logs, and a request id that follows a session. */
describe('metrics and logs', () => {
  let broker: TestBroker;
  const lines: Doc[] = [];
  beforeAll(async () => {
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Doc);
    });
    broker = await startTestBroker({
      config: { sites: [demoSite({ preparationMs: 0, releasingMs: 0 })], offerLifetimeMs: 1500 },
      logger: createLogger('test', { destination: sink, level: 'info' }),
    });
  });
  afterAll(async () => { await broker.close(); });

  const job = (shell: string) => JSON.stringify({
    executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/bin/sh', command: ['-c', shell] },
    compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 } },
    schedule: { requested: { duration: 'PT5M' } },
  });

  const series = (text: string, name: string, labels: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
    if (!line) throw new Error(`no ${name}{${labels}} in /metrics`);
    return Number(line.split(' ').pop());
  };

  it('after a scripted session, /metrics shows requests, negotiation, offers, sessions by phase, queues and workers', async () => {
    const before = (await broker.http.get('/metrics')).text;
    expect(() => series(before, 'eb_offers_total', 'event="made"')).not.toThrow();

    const offers = (await broker.http.post('/requests').set('Content-Type', 'application/json').set('X-Request-Id', 'script-offers-1').send(job('echo metrics'))).body as Doc;
    const uuid = offers.offers[0].meta.uuid as string;
    const accept = await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').set('X-Request-Id', 'script-accept-1').send(update('ACCEPTED'));
    expect(accept.headers['x-request-id']).toBe('script-accept-1');
    let phase = '';
    for (let i = 0; i < 200 && phase !== 'COMPLETED'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      phase = ((await broker.http.get(`/sessions/${uuid}`)).body as Doc).phase as string;
    }
    expect(phase).toBe('COMPLETED');
    // One more offer set, left to expire.
    await broker.http.post('/requests').set('Content-Type', 'application/json').send(job('true'));
    await new Promise((r) => setTimeout(r, 2500));

    const res = await broker.http.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.text;
    expect(series(text, 'eb_http_requests_total', 'method="POST",route="/requests",status="303"')).toBe(2);
    expect(series(text, 'eb_http_requests_total', 'method="POST",route="/sessions/:uuid",status="200"')).toBe(1);
    expect(series(text, 'eb_negotiation_duration_seconds_count', 'site="demo",outcome="offers"')).toBe(2);
    expect(series(text, 'eb_offers_total', 'event="made"')).toBe(2);
    expect(series(text, 'eb_offers_total', 'event="accepted"')).toBe(1);
    expect(series(text, 'eb_offers_total', 'event="expired"')).toBe(1);
    expect(series(text, 'eb_sessions_ended_total', 'phase="COMPLETED"')).toBe(1);
    expect(series(text, 'eb_sessions', 'phase="RUNNING"')).toBe(0);
    expect(series(text, 'eb_sessions', 'phase="OFFERED"')).toBe(0);
    expect(series(text, 'eb_queue_jobs', 'queue="site-demo",state="waiting"')).toBe(0);
    expect(series(text, 'eb_queue_jobs', 'queue="timers",state="failed"')).toBe(0);
    expect(series(text, 'eb_site_workers', 'site="demo"')).toBe(1);
  });

  it('shows holds the offer expiry sweep is late for: none while timers run, one that a broker without timers leaves, gone once a timer process sweeps', async () => {
    const overdue = async (http: TestBroker['http']): Promise<number> => {
      const line = (await http.get('/metrics').expect(200)).text.split('\n').find((l) => l.startsWith('eb_offer_holds_overdue '));
      if (!line) throw new Error('no eb_offer_holds_overdue in /metrics');
      return Number(line.split(' ').pop());
    };
    // This broker runs timers: an offer that lapses is swept, and nothing is overdue.
    const offers = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(job('echo lapse'))).body as Doc;
    const uuid = offers.offers[0].meta.uuid as string;
    expect(await until(async () => (await broker.redis.hget(`${broker.config.keyPrefix}:session:${uuid}`, 'phase')) === 'EXPIRED', 10_000)).toBe(true);
    expect(await overdue(broker.http)).toBe(0);
    // A broker whose processes run no timers: a hold whose offer expired a minute ago stays, and shows.
    const lonely = await startTestBroker({ config: { sites: [demoSite()] }, parts: { api: true, siteWorkers: true } });
    try {
      await lonely.redis.zadd(`${lonely.config.keyPrefix}:offer-expiry`, Date.now() - 60_000, 'forgotten-hold');
      expect(await overdue(lonely.http)).toBe(1);
      const timers = await startBrokerRuntime(lonely.config, { timers: true });
      try {
        expect(await until(async () => (await overdue(lonely.http)) === 0, 10_000)).toBe(true);
      } finally {
        await timers.close();
      }
    } finally {
      await lonely.close();
    }
  });

  it('counts a running session in its phase while it runs', async () => {
    const offers = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(job('sleep 20'))).body as Doc;
    const uuid = offers.offers[0].meta.uuid as string;
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED'));
    let phase = '';
    for (let i = 0; i < 200 && phase !== 'RUNNING'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      phase = ((await broker.http.get(`/sessions/${uuid}`)).body as Doc).phase as string;
    }
    expect(series((await broker.http.get('/metrics')).text, 'eb_sessions', 'phase="RUNNING"')).toBe(1);
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('CANCELLED'));
    const after = (await broker.http.get('/metrics')).text;
    expect(series(after, 'eb_sessions', 'phase="RUNNING"')).toBe(0);
    expect(series(after, 'eb_sessions_ended_total', 'phase="CANCELLED"')).toBe(1);
    await new Promise((r) => setTimeout(r, 500)); // the stop step ends the run
  });

  it('logs every request as JSON with its id, and the accept\'s id on every step of the session it started', async () => {
    const requests = lines.filter((l) => l.msg === 'request');
    expect(requests.find((l) => l.requestId === 'script-offers-1')).toMatchObject({ method: 'POST', route: '/requests', status: 303, service: 'srcnet-eb' });
    const steps = lines.filter((l) => l.msg === 'step done' && l.requestId === 'script-accept-1').map((l) => l.job);
    expect(steps).toEqual(expect.arrayContaining(['activate', 'prepare', 'start']));
    // A made-up id that is not a plain token is replaced, not echoed.
    const res = await broker.http.get('/availability').set('X-Request-Id', 'bad id\twith spaces');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('never writes a credential into the logs, whoever logs it', () => {
    const sink = new PassThrough();
    let written = '';
    sink.on('data', (chunk: Buffer) => { written += chunk.toString(); });
    const logger = createLogger('test', { destination: sink });
    logger.info({ authorization: 'Bearer secret-1', token: 'secret-2', headers: { authorization: 'Bearer secret-3' }, exchange: { access_token: 'secret-4' } }, 'with credentials');
    expect(written).toContain('with credentials');
    expect(written).not.toMatch(/secret-\d/);
  });
});

/** METRICS_TOKEN: /metrics for the scrapers that bear it, and nobody else. */
describe('metrics behind a token', () => {
  const token = 'metrics-0123456789abcdef';
  let broker: TestBroker;
  const lines: string[] = [];
  beforeAll(async () => {
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => { lines.push(chunk.toString()); });
    broker = await startTestBroker({ config: { metricsToken: token }, logger: createLogger('test', { destination: sink, level: 'info' }) });
  });
  afterAll(async () => { await broker.close(); });

  it('answers 401 with a Bearer challenge without the token or with another, and the metrics with it', async () => {
    const none = await broker.http.get('/metrics').set('Accept', 'application/json').expect(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(none.body.detail).toBe('/metrics needs the metrics token as a bearer token');
    const wrong = await broker.http.get('/metrics').set('Authorization', `Bearer ${token}x`).set('Accept', 'application/json').expect(401);
    expect(wrong.headers['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/);
    const right = await broker.http.get('/metrics').set('Authorization', `Bearer ${token}`).expect(200);
    expect(right.text).toContain('eb_http_requests_total');
    // Everything else is as before: the token is for /metrics only, and is never logged.
    await broker.http.get('/availability').expect(200);
    expect(lines.join('')).not.toContain(token);
  });
});
