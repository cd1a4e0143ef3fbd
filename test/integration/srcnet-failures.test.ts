import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { createLogger } from '../../src/observability/logger.js';
import { sessionOfProvision } from '../../src/protocol/srcnet/srcnet-ids.js';
import { demoSite, startTestBroker, type TestBroker } from '../support/test-broker.js';
import { send, smallQuery } from '../support/srcnet.js';

const job = { container: 'x', dataset: 'http://127.0.0.1/x.csv' };
const quick = { sites: [demoSite({ preparationMs: 0, releasingMs: 0 })] };

async function provisionId(broker: TestBroker): Promise<string> {
  const res = await send(broker.http, 'put', '/v1/provision', smallQuery()).expect(200);
  expect(res.body.response_code).toBe(0);
  return res.body.provision_id as string;
}

/** When the broker itself fails, SRCNet's clients get code 3 (its backend) or 255 (anything unexpected), never a 500. */
describe('the SRCNet compute API when the broker fails', () => {
  it('answers 3 when no worker of a site that could serve the request is running', async () => {
    const broker = await startTestBroker({ config: quick, parts: { api: true, timers: true } });
    try {
      const query = await send(broker.http, 'post', '/v1/query', smallQuery()).expect(200);
      expect(query.body).toEqual({ response_code: 3, response_text: 'Internal error: Site demo was skipped: none of its workers is running' });
      const provision = await send(broker.http, 'put', '/v1/provision', smallQuery()).expect(200);
      expect(provision.body).toMatchObject({ response_code: 3, provision_id: null, provision_validity: null });
      expect((await broker.http.get('/v1/health').expect(500)).body.dependent_services).toEqual({ 'permissions-api': { status: 'UP' }, redis: { status: 'UP' }, 'site-workers': { status: 'DOWN' } });
    } finally {
      await broker.close();
    }
  });

  describe('with its Redis gone', () => {
    // A Redis of its own, to stop and start again (real, not a fake).
    let port = 0;
    let redis: ChildProcess | undefined;
    const dir = mkdtempSync(join(tmpdir(), 'eb-srcnet-redis-'));
    const startRedis = async (): Promise<void> => {
      redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      const probe = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      for (let i = 0; i < 100; i++) {
        if (await probe.connect().then(() => probe.ping(), () => undefined) === 'PONG') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      probe.disconnect();
    };
    beforeAll(async () => {
      port = await new Promise<number>((done) => {
        const server = createServer();
        server.listen(0, '127.0.0.1', () => { const { port: free } = server.address() as { port: number }; server.close(() => done(free)); });
      });
      await startRedis();
    });
    afterAll(() => { redis?.kill('SIGKILL'); });

    it('answers 3 to every call, and serves again once Redis is back', async () => {
      const broker = await startTestBroker({ config: quick, env: { REDIS_URL: `redis://127.0.0.1:${port}` } });
      broker.redis.on('error', () => undefined);
      // The broker's clients report every failed reconnection with console.error: keep the output readable.
      const consoleError = console.error;
      console.error = () => undefined;
      try {
        const id = await provisionId(broker);
        redis?.kill('SIGTERM');
        await new Promise((done) => redis?.once('exit', done));
        // The broker's idea of which sites are live is kept for a second: let it lapse.
        await new Promise((r) => setTimeout(r, 1500));
        const backend = 'Internal error: could not connect to the backend';
        expect((await send(broker.http, 'post', '/v1/query', smallQuery())).body).toEqual({ response_code: 3, response_text: backend });
        expect((await send(broker.http, 'put', '/v1/provision', smallQuery())).body).toEqual({ response_code: 3, response_text: backend, provision_id: null, provision_validity: null });
        expect((await send(broker.http, 'put', `/v1/${id}/submit`, job)).body).toEqual({ response_code: 3, response_text: backend, job_id: null });
        expect((await broker.http.get(`/v1/${id}/status`)).body).toEqual({ response_code: 3, response_text: backend, logging: '', output_data: null });
        await startRedis();
        let answer = 3;
        for (let i = 0; i < 100 && answer !== 0; i++) {
          await new Promise((r) => setTimeout(r, 200));
          answer = (await send(broker.http, 'post', '/v1/query', smallQuery())).body.response_code as number;
        }
        expect(answer).toBe(0);
      } finally {
        await broker.close();
        console.error = consoleError;
      }
    }, 60_000);
  });

  it('answers 255 when something unexpected fails: here, records corrupted behind its back', async () => {
    // The broker's structured log, read back.
    const logged: Array<{ level: number; path?: string }> = [];
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => { for (const line of chunk.toString().split('\n')) if (line.trim()) logged.push(JSON.parse(line) as { level: number }); });
    const broker = await startTestBroker({ config: quick, parts: { api: true, siteWorkers: true }, logger: createLogger('test', { destination: sink, level: 'error' }) });
    const prefix = broker.config.keyPrefix;
    try {
      const forStatus = await provisionId(broker);
      await broker.redis.hset(`${prefix}:session:${sessionOfProvision(forStatus)}:log`, 'not', 'a string');
      expect((await broker.http.get(`/v1/provision/${forStatus}/status`)).body).toEqual({ response_code: 255, response_text: 'Unexpected error', logging: '', output_data: null });

      const forSubmit = await provisionId(broker);
      await broker.redis.set(`${prefix}:session:${sessionOfProvision(forSubmit)}:messages`, 'not a list');
      expect((await send(broker.http, 'put', `/v1/provision/${forSubmit}/submit`, job)).body).toEqual({ response_code: 255, response_text: 'Unexpected error', job_id: null });

      // The negotiation queues' meta made unreadable: asking any site fails.
      const metas = await broker.redis.keys(`${prefix}:bull:negotiate-*:meta`);
      expect(metas.length).toBeGreaterThan(0);
      for (const meta of metas) await broker.redis.set(meta, 'not a hash');
      expect((await send(broker.http, 'post', '/v1/query', smallQuery())).body).toEqual({ response_code: 255, response_text: 'Unexpected error' });
      expect((await send(broker.http, 'put', '/v1/provision', smallQuery())).body).toEqual({ response_code: 255, response_text: 'Unexpected error', provision_id: null, provision_validity: null });
      // Each unexpected failure is logged for the operators, with the path.
      expect(logged.filter((line) => line.level >= 50).map((line) => line.path)).toEqual([`/v1/provision/${forStatus}/status`, `/v1/provision/${forSubmit}/submit`, '/v1/query', '/v1/provision']);
    } finally {
      await broker.close();
    }
  });
});
