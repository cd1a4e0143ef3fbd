import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { startBrokerRuntime } from '../../src/main/broker-runtime.js';
import { demoSite, dockerRequest, redisUrl, startTestBroker, type TestBroker } from '../support/test-broker.js';
import { until } from '../support/until.js';

type Doc = Record<string, any>;
const WORKER_ENTRY = fileURLToPath(new URL('../../dist/main/worker.js', import.meta.url));

describe('sites and their workers', () => {
  it('is available only while a site worker runs, and says why not otherwise', async () => {
    const broker = await startTestBroker();
    try {
      const up = await broker.http.get('/availability');
      expect(up.type).toBe('text/xml');
      expect(up.text).toContain('<available>true</available>');
      expect(up.text).toContain('demo');
    } finally {
      await broker.close();
    }
    const apiOnly = await startTestBroker({ parts: { api: true } });
    try {
      const down = await apiOnly.http.get('/availability');
      expect(down.text).toContain('<available>false</available>');
      expect(down.text).toContain('No site has a running worker');
    } finally {
      await apiOnly.close();
    }
  });

  it('skips a site without a running worker at once, with a message, instead of waiting', async () => {
    const apiOnly = await startTestBroker({ parts: { api: true }, env: { NEGOTIATION_TIMEOUT: 'PT10S' } });
    try {
      const started = Date.now();
      const res = await apiOnly.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(dockerRequest()));
      expect(Date.now() - started).toBeLessThan(2000);
      expect(res.body.result).toBe('NO');
      expect(res.body.meta.messages.map((m: Doc) => m.message)).toEqual(expect.arrayContaining([
        'Site demo was skipped: none of its workers is running',
        'No site can make an offer for this request now',
      ]));
    } finally {
      await apiOnly.close();
    }
  });

  it('answers NO with a message when a site that seems alive stays silent past the bound', async () => {
    const silent = await startTestBroker({ parts: { api: true }, env: { NEGOTIATION_TIMEOUT: 'PT0.3S' } });
    try {
      // A heartbeat with nobody behind it: the worker hung, or died a moment ago.
      await silent.redis.zadd(`${silent.config.keyPrefix}:workers:demo`, Date.now() + 60_000, 'ghost');
      const res = await silent.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(dockerRequest()));
      expect(res.status).toBe(303);
      expect(res.body.result).toBe('NO');
      expect(res.body.meta.messages.map((m: Doc) => m.message)).toContain('Site demo did not answer within 300 ms');
      // The job no worker took is gone with the answer: a group that never comes back leaves none waiting.
      expect(await silent.redis.keys(`${silent.config.keyPrefix}:bull:negotiate-*:negotiate-*`)).toEqual([]);
    } finally {
      await silent.close();
    }
  });

  it('takes an answer whose reply was lost from the reply the worker keeps when the bound passes', async () => {
    const api = await startTestBroker({ parts: { api: true }, env: { NEGOTIATION_TIMEOUT: 'PT1S' } });
    const prefix = api.config.keyPrefix;
    // Stands in for a site worker whose pub/sub reply never arrived: it takes the job from the
    // group's BullMQ queue and keeps its reply, but publishes nothing.
    const connection = new Redis(redisUrl(), { maxRetriesPerRequest: null });
    const worker = new Worker('negotiate-demo', async (job) => {
      const answer = { site: 'demo', offers: [], messages: [{ kind: 'urn:test', level: 'INFO', template: 'kept by the job', values: {}, message: 'kept by the job' }] };
      await connection.set(`${prefix}:negotiation-answer:${job.id}`, JSON.stringify({ jobId: job.id, answers: [{ answer }] }), 'PX', 60_000);
    }, { connection, prefix: `${prefix}:bull` });
    try {
      await api.redis.zadd(`${prefix}:workers:demo`, Date.now() + 60_000, 'replyless');
      const res = await api.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(dockerRequest()));
      expect(res.body.result).toBe('NO');
      const messages = res.body.meta.messages.map((m: Doc) => m.message);
      expect(messages).toContain('kept by the job');
      expect(messages).not.toContain('Site demo did not answer within 1000 ms');
    } finally {
      await worker.close();
      await connection.quit();
      await api.close();
    }
  });

  it('publishes why a site worker could not evaluate a negotiation to the API that asked', async () => {
    const broker = await startTestBroker();
    const subscriber = new Redis(redisUrl());
    try {
      const channel = `${broker.config.keyPrefix}:negotiation-replies:test`;
      const reply = new Promise<Doc>((resolve) => subscriber.on('message', (_c: string, text: string) => resolve(JSON.parse(text) as Doc)));
      await subscriber.subscribe(channel);
      const queue = new Queue('negotiate-demo', { connection: broker.redis, prefix: `${broker.config.keyPrefix}:bull` });
      // A request without needs: the worker cannot plan it.
      const requests = [{ offerSetUuid: 'broken', site: 'demo', offerIds: ['x'], now: Date.now(), answerBy: Date.now() + 5000, expiresAt: Date.now() + 5000, maxOffers: 1 }];
      await queue.add('negotiate', { replyTo: channel, answerBy: Date.now() + 5000, requests }, { jobId: 'negotiate-broken-demo', removeOnComplete: true });
      const answer = await reply;
      expect(answer).toEqual({ jobId: 'negotiate-broken-demo', answers: [{ site: 'demo', error: expect.stringMatching(/\S/) }] });
      // The reply is kept for an API process whose subscription was cut.
      expect(JSON.parse((await broker.redis.get(`${broker.config.keyPrefix}:negotiation-answer:negotiate-broken-demo`))!)).toEqual(answer);
      await queue.close();
    } finally {
      await subscriber.quit();
      await broker.close();
    }
  });

  it('asks the sites one worker process serves in one job, and sites on separate workers in one job each', async () => {
    const sites = [demoSite({ name: 'north' }), demoSite({ name: 'south' })];
    /** The groups asked for an offer request: each job's worker keeps its reply a minute, under the job's id. */
    const groupsAsked = async (broker: TestBroker): Promise<string[]> => {
      const res = await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(dockerRequest()));
      expect(res.body.result).toBe('YES');
      expect((res.body.meta.messages ?? []).map((m: Doc) => m.message).join('\n')).not.toMatch(/did not answer|failed to answer/);
      const offerSet = String(res.headers.location).split('/').pop();
      const kept = await broker.redis.keys(`${broker.config.keyPrefix}:negotiation-answer:negotiate-${offerSet}-*`);
      return kept.map((key) => key.slice(key.indexOf(`${offerSet}-`) + `${offerSet}-`.length)).sort();
    };
    /** The negotiation jobs left in BullMQ once answered (none: removed as they complete). */
    const jobsLeft = async (broker: TestBroker): Promise<string[]> => broker.redis.keys(`${broker.config.keyPrefix}:bull:negotiate-*:negotiate-*`);
    const together = await startTestBroker({ config: { sites } });
    try {
      expect(await groupsAsked(together)).toEqual(['north,south']);
      expect(await jobsLeft(together)).toEqual([]);
    } finally {
      await together.close();
    }
    const api = await startTestBroker({ config: { sites }, parts: { api: true, timers: true } });
    const workers = await Promise.all(['north', 'south'].map((name) => startBrokerRuntime({ ...api.config }, { siteWorkers: [name] })));
    try {
      expect(await groupsAsked(api)).toEqual(['north', 'south']);
      expect(await jobsLeft(api)).toEqual([]);
    } finally {
      for (const worker of workers) await worker.close();
      await api.close();
    }
  });

  it('negotiates with a site worker running as its own process (npm run worker)', async () => {
    if (!existsSync(WORKER_ENTRY)) throw new Error(`${WORKER_ENTRY} is missing: npm test builds it; run npm run build first`);
    const api = await startTestBroker({ parts: { api: true, timers: true } });
    let child: ChildProcess | undefined;
    try {
      child = spawn(process.execPath, [WORKER_ENTRY], {
        env: { ...process.env, REDIS_URL: api.config.redisUrl, EB_KEY_PREFIX: api.config.keyPrefix },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const alive = await until(async () => (await api.http.get('/availability')).text.includes('<available>true</available>'), 10_000);
      expect(alive).toBe(true);
      const res = await api.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(dockerRequest({ min: 2, max: 2 })));
      expect(res.body.result).toBe('YES');
      expect(await api.heldNow()).toBe(2);
      // Its abilities reach this API process through Redis: what the worker process found on this host.
      const listed = (await api.http.get('/sites').expect(200)).body.sites[0] as Doc;
      expect(listed.executables).toContain('docker-container');
      expect(await api.redis.hlen(`${api.config.keyPrefix}:abilities:demo`)).toBe(1);
      // And the catalogue: what the other process's worker makes runs with, and the calendar its hold is in.
      expect(await api.redis.hlen(`${api.config.keyPrefix}:executors:demo`)).toBe(1);
      expect(listed.executors).toEqual(expect.arrayContaining([expect.stringMatching(/^(processes|docker|podman|apptainer)$/)]));
      expect(listed.free.now.cores).toBe(listed.cores - 2);
      child.kill('SIGTERM');
      const exitCode = await new Promise<number | null>((done) => child!.once('exit', (code) => done(code)));
      expect(exitCode).toBe(0);
      // A worker that stops takes its heartbeat with it.
      expect(await api.redis.zcard(`${api.config.keyPrefix}:workers:demo`)).toBe(0);
      expect(await api.redis.hlen(`${api.config.keyPrefix}:abilities:demo`)).toBe(0);
      expect(await api.redis.hlen(`${api.config.keyPrefix}:executors:demo`)).toBe(0);
    } finally {
      if (child && child.exitCode === null) child.kill('SIGKILL');
      await api.close();
    }
  });
});
