import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { AnonymousAuthenticator } from '../../src/auth/anonymous-authenticator.js';
import type { SessionEvent } from '../../src/broker/ports.js';
import { watchSessions } from '../../src/broker/watch-sessions.js';
import type { BrokerApi } from '../../src/http/broker-api.js';
import { createApp } from '../../src/http/create-app.js';
import { RETRY_AFTER_SECONDS } from '../../src/protocol/error-catalogue.js';
import { SUBSCRIBER_OPTIONS } from '../../src/store/channel-subscription.js';
import { redisKeys } from '../../src/store/redis-keys.js';
import { RedisSessionEvents } from '../../src/store/redis-session-events.js';
import { openEventStream, type EventStreamReader, type ReadEvent } from '../support/event-stream.js';
import { demoSite, dockerRequest, randomPrefix, redisUrl, startTestBroker, type TestBroker } from '../support/test-broker.js';
import { TcpProxy } from '../support/tcp-proxy.js';

type Doc = Record<string, any>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const notice = (uuid: string) => JSON.stringify([{ uuid, owner: 'anonymous', site: 'demo', phase: 'RUNNING', at: Date.now() }]);

/** The id of the pub/sub connection named `name` (from one of `ports`, if given), if there is one. */
async function pubsubClient(redis: Redis, name: string, ports?: Set<number>): Promise<string | undefined> {
  const clients = String(await redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
  const from = (line: string): boolean => !ports || ports.has(Number(/\baddr=[^ ]*:(\d+) /.exec(line)?.[1]));
  const line = clients.split('\n').find((l) => l.includes(` name=${name} `) && from(l));
  return line ? /\bid=(\d+)/.exec(line)![1] : undefined;
}

/** The first event after the `from`-th that matches. */
const after = (stream: EventStreamReader, from: number, match: (event: ReadEvent) => boolean) =>
  stream.waitFor((event) => stream.events.indexOf(event) >= from && match(event), 20_000);

/** What ioredis prints when an error event has no listener: the failure of issue 24. */
function watchUnhandled(): { seen: string[]; restore: () => void } {
  const seen: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => {
    if (args.some((arg) => String(arg).includes('[ioredis] Unhandled error event'))) seen.push(args.map(String).join(' '));
    original.apply(console, args);
  };
  return { seen, restore: () => { console.error = original; } };
}

/** Issue 24: the events connection comes back from any cut, slow Redis or busy machine included. */
describe('session events across reconnections', () => {
  let unhandled: ReturnType<typeof watchUnhandled>;
  beforeAll(() => { unhandled = watchUnhandled(); });
  afterAll(() => { unhandled.restore(); });

  it('subscribes even when its first listener comes while the connection is being set up', async () => {
    const keys = redisKeys(randomPrefix());
    const admin = new Redis(redisUrl());
    // ioredis's defaults (ready check on): the subscription itself waits for `ready`.
    const connection = new Redis(redisUrl(), { maxRetriesPerRequest: null, connectionName: 'eb-events-early' });
    const logs: string[] = [];
    const events = new RedisSessionEvents(connection, keys, { log: (level, message) => logs.push(`${level} ${message}`) });
    try {
      // Between `connect` and `ready`: a SUBSCRIBE written here used to make ioredis's ready check fail.
      await once(connection, 'connect');
      const heard: SessionEvent[] = [];
      await events.subscribe((event) => heard.push(event));
      await admin.publish(keys.sessionEvents, notice('u-early'));
      for (let i = 0; i < 100 && heard.length === 0; i++) await sleep(20);
      expect(heard).toEqual([expect.objectContaining({ uuid: 'u-early' })]);
      expect(await pubsubClient(admin, 'eb-events-early')).toBeDefined();
      expect(logs).toEqual([]); // no failed ready check, no reconnection
      expect(unhandled.seen).toEqual([]);
    } finally {
      await events.close();
      await admin.quit();
    }
  });

  describe('in a running broker, whose Redis is behind a proxy that can stall', () => {
    let proxy: TcpProxy;
    let admin: Redis;
    let broker: TestBroker;
    let busy: ChildProcess | undefined;
    beforeAll(async () => {
      proxy = await TcpProxy.start(Number(new URL(redisUrl()).port || 6379));
      admin = new Redis(redisUrl());
      broker = await startTestBroker({ config: { redisUrl: proxy.url, sites: [demoSite({ preparationMs: 0, releasingMs: 0 })] } });
    });
    afterAll(async () => {
      busy?.kill('SIGKILL');
      proxy.resume();
      await broker.close();
      await admin.quit();
      await proxy.close();
    });

    /**
     * An offer, asked for as a client would: a Redis command slower than REDIS_COMMAND_TIMEOUT (1 s)
     * is a fast 503 with Retry-After by design, which a busy two-core CI machine (a core spun by
     * `busy`, other suites beside) can bring about; the client tries again when told, twice at most.
     */
    const offered = async (): Promise<string> => {
      for (let attempt = 1; ; attempt++) {
        const answer = await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(dockerRequest()));
        if (answer.status === 503 && attempt < 3) {
          expect(answer.headers['retry-after']).toBe(String(RETRY_AFTER_SECONDS));
          await sleep(RETRY_AFTER_SECONDS * 1000);
          continue;
        }
        expect(answer.status).toBe(303);
        return answer.body.offers[0].meta.uuid as string;
      }
    };
    const cut = async (slowMs: number): Promise<void> => {
      const id = await pubsubClient(admin, `eb-events-${broker.config.keyPrefix}`);
      expect(id).toBeDefined();
      await admin.client('KILL', 'ID', id!);
      // Redis slow to answer: the reconnection's set-up and SUBSCRIBE wait, as on a loaded server.
      if (slowMs) {
        proxy.stall();
        setTimeout(() => proxy.resume(), slowMs);
      }
    };

    it('after every cut, plain, with Redis slow to answer, or with the machine busy, the stream gets resync and then the next notices', async () => {
      const stream = await openEventStream(`${broker.baseUrl}/events`);
      try {
        await stream.waitFor((event) => event.event === 'ready');
        const rounds: Array<{ slowMs: number; loaded: boolean }> = [
          { slowMs: 0, loaded: false }, { slowMs: 1500, loaded: false }, { slowMs: 0, loaded: false },
          { slowMs: 0, loaded: true }, { slowMs: 1500, loaded: true }, { slowMs: 0, loaded: true }, { slowMs: 800, loaded: true },
        ];
        for (const { slowMs, loaded } of rounds) {
          if (loaded && !busy) busy = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
          const from = stream.events.length;
          const cutAt = Date.now();
          await cut(slowMs);
          const resync = await after(stream, from, (event) => event.event === 'resync');
          // The stall did hold the reconnection: its set-up and SUBSCRIBE waited for Redis.
          expect(Date.now() - cutAt).toBeGreaterThanOrEqual(slowMs - 20);
          const uuid = await offered();
          const next = await after(stream, from, (event) => event.event === 'session' && (JSON.parse(event.data) as Doc).uuid === uuid);
          expect(stream.events.indexOf(next)).toBeGreaterThan(stream.events.indexOf(resync));
          expect(await pubsubClient(admin, `eb-events-${broker.config.keyPrefix}`)).toBeDefined();
        }
        const metrics = (await broker.http.get('/metrics').expect(200)).text;
        expect(metrics).toContain('eb_redis_subscription_up{subscription="session-events"} 1');
        expect(metrics).toContain('eb_redis_subscription_up{subscription="negotiation-replies"} 1');
        expect(stream.events.filter((event) => event.event === 'resync')).toHaveLength(rounds.length);
        expect(unhandled.seen).toEqual([]);
      } finally {
        stream.close();
        busy?.kill('SIGKILL');
        busy = undefined;
      }
    }, 120_000);

    it('answers negotiations again after its reply subscription was cut', async () => {
      for (let round = 0; round < 3; round++) {
        // Other files' brokers may share the Redis and the name: ours comes through the proxy.
        const id = await pubsubClient(admin, 'eb-negotiation-replies', proxy.upstreamPorts());
        expect(id).toBeDefined();
        await admin.client('KILL', 'ID', id!);
        for (let i = 0; i < 200 && !(await pubsubClient(admin, 'eb-negotiation-replies', proxy.upstreamPorts())); i++) await sleep(20);
        const started = Date.now();
        await offered();
        // Well within the negotiation time-out: the answer came by the reply channel.
        expect(Date.now() - started).toBeLessThan(broker.config.negotiationTimeoutMs);
      }
      expect(unhandled.seen).toEqual([]);
    });
  });

  it('when it cannot subscribe again for a while, ends its streams saying so, refuses new ones, logs it, and comes back by itself', async () => {
    const proxy = await TcpProxy.start(Number(new URL(redisUrl()).port || 6379));
    const keys = redisKeys(randomPrefix());
    const admin = new Redis(redisUrl());
    const logs: string[] = [];
    const events = new RedisSessionEvents(new Redis(proxy.url, { ...SUBSCRIBER_OPTIONS, connectionName: 'eb-events-proxied' }), keys, {
      lostAfterMs: 500, log: (level, message) => logs.push(`${level} ${message}`),
    });
    const api = { watchSessions: (principal, listener) => watchSessions(events, principal, listener) } as Pick<BrokerApi, 'watchSessions'> as BrokerApi;
    const app = createApp(api, { bodyLimitBytes: 1024, authenticator: new AnonymousAuthenticator(), logError: () => undefined });
    const server = await new Promise<Server>((ready) => { const s = app.listen(0, '127.0.0.1', () => ready(s)); });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
    try {
      const stream = await openEventStream(url);
      await stream.waitFor((event) => event.event === 'ready');
      expect(events.up).toBe(true);
      proxy.stall();
      await admin.client('KILL', 'ID', (await pubsubClient(admin, 'eb-events-proxied'))!);
      await stream.waitFor((event) => event.event === 'unavailable', 5000);
      await stream.ended;
      expect(events.up).toBe(false);
      expect(logs.some((line) => /^warn Redis subscription to .*session-events lost/.test(line))).toBe(true);
      const refused = await fetch(url);
      expect(refused.status).toBe(503);
      expect(await refused.text()).toContain('live events');
      proxy.resume();
      for (let i = 0; i < 250 && !events.up; i++) await sleep(20);
      expect(events.up).toBe(true);
      expect(logs.some((line) => /^info Redis subscription to .*session-events restored after \d+ ms/.test(line))).toBe(true);
      const again = await openEventStream(url);
      try {
        await again.waitFor((event) => event.event === 'ready');
        await admin.publish(keys.sessionEvents, notice('u-back'));
        await again.waitFor((event) => event.event === 'session' && event.data.includes('u-back'));
      } finally {
        again.close();
      }
      expect(unhandled.seen).toEqual([]);
    } finally {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
      await events.close();
      await admin.quit();
      await proxy.close();
    }
  });
});
