import { randomBytes } from 'node:crypto';
import { createServer as createNetServer } from 'node:net';
import { Redis } from 'ioredis';
import type { Logger } from '../../src/observability/logger.js';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';
import { DEMO_SITE_FILE, loadConfig, type Config } from '../../src/config/load-config.js';
import type { SiteProfile } from '../../src/domain/site-profile.js';
import { startBrokerRuntime, type BrokerRuntime, type RuntimeParts } from '../../src/main/broker-runtime.js';
import { createHttpServer, listen } from '../../src/http/http-server.js';
import type { Clock } from '../../src/domain/clock.js';
import { BUCKET_MS } from '../../src/domain/capacity-calendar.js';
import { RedisCapacityLedger } from '../../src/store/redis-capacity-ledger.js';
import { redisKeys } from '../../src/store/redis-keys.js';

export const redisUrl = (): string => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test file uses, so that files can share one Redis. */
/** A TCP port free on loopback a moment ago (for processes a test starts on a port of its own). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createNetServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export const randomPrefix = (): string => `test-${randomBytes(6).toString('hex')}`;

export interface TestBroker {
  runtime: BrokerRuntime;
  http: TestAgent;
  redis: Redis;
  config: Config;
  /** http://127.0.0.1:<port> of the listening test server. */
  baseUrl: string;
  /** How much of a resource is held on a site in the current minute. */
  heldNow(resource?: string, site?: string): Promise<number>;
  /** Removes every key of this broker and closes everything. */
  close(): Promise<void>;
}

export function testConfig(overrides: Partial<Config> = {}, env: NodeJS.ProcessEnv = {}): Config {
  return { ...loadConfig({ REDIS_URL: redisUrl(), EB_KEY_PREFIX: randomPrefix(), ...env }), ...overrides };
}

/**
 * The demo site, running sessions as plain processes: its `containerRuntime: auto` would pick
 * docker or podman on machines that have one, and tests must not depend on the machine. Tests of
 * containers ask for a runtime themselves.
 */
export function demoSite(overrides: Partial<SiteProfile> = {}): SiteProfile {
  const base = loadConfig({ REDIS_URL: redisUrl() }).sites[0] as SiteProfile;
  return { ...base, executor: { type: 'local', containerRuntime: 'none' }, ...overrides };
}

export { DEMO_SITE_FILE };

export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/** The broker as `npm start` runs it (API, site workers, timers), on a private key prefix. */
export async function startTestBroker(options: { config?: Partial<Config>; env?: NodeJS.ProcessEnv; parts?: RuntimeParts; clock?: Clock; logger?: Logger } = {}): Promise<TestBroker> {
  const config = testConfig(options.config, options.env);
  const runtime = await startBrokerRuntime(config, options.parts ?? { api: true, siteWorkers: true, timers: true }, options.clock, options.logger);
  const redis = new Redis(config.redisUrl);
  const app = runtime.app;
  if (!app) throw new Error('the test broker needs its API');
  // One listening server, so that absolute URLs in answers stay the same across requests.
  const server = await listen(createHttpServer(app, config), 0, '127.0.0.1');
  const address = server.address();
  const baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    runtime,
    http: request(baseUrl) as unknown as TestAgent,
    redis,
    config,
    baseUrl,
    heldNow: (resource = 'cores', site = 'demo') =>
      new RedisCapacityLedger(redis, redisKeys(config.keyPrefix)).usageAt(site, resource, Math.floor(Date.now() / BUCKET_MS)),
    async close() {
      runtime.beginShutdown(); // event streams end, as in a real stop
      await new Promise((done) => server.close(done));
      await runtime.close();
      await deleteKeys(redis, config.keyPrefix);
      await redis.quit();
    },
  };
}

export const V1 = 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds';

/** A small docker request in the v1.0 family. */
export function dockerRequest(cores: { min?: number; max?: number } = { min: 1, max: 1 }, memory: { min?: number; max?: number } = { min: 1, max: 1 }): Record<string, unknown> {
  return {
    executable: { kind: `${V1}/executable/docker-container.yaml`, meta: { name: 'job' }, image: { locations: ['docker.io/library/busybox:1.36'] }, entrypoint: '/bin/sh', command: ['-c', 'echo hello'] },
    compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores, memory },
    schedule: { requested: { duration: 'PT10M' } },
  };
}

/**
 * Accepts an offer and follows its session until it COMPLETES or FAILS (20 s at most), calling
 * `whilePreparing` at each look while it is PREPARING; the session as last read and its log.
 */
export async function acceptAndFollow(broker: TestBroker, uuid: string, whilePreparing?: () => void): Promise<{ session: Record<string, any>; log: string }> {
  const accept = JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value: 'ACCEPTED' });
  await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(accept).expect(200);
  let session: Record<string, any> = {};
  for (let i = 0; i < 400 && !['COMPLETED', 'FAILED'].includes(session.phase); i++) {
    await new Promise((r) => setTimeout(r, 50));
    session = (await broker.http.get(`/sessions/${uuid}`)).body as Record<string, any>;
    // At every look while PREPARING: on a loaded machine the downloader may start a while after the phase.
    if (session.phase === 'PREPARING') whilePreparing?.();
  }
  return { session, log: (await broker.http.get(`/sessions/${uuid}/logs`)).text };
}
