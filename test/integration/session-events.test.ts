import type { Server } from 'node:http';
import { Redis } from 'ioredis';
import type { AddressInfo } from 'node:net';
import type { Authenticator, SessionNotice } from '../../src/broker/ports.js';
import { BrokerError } from '../../src/domain/errors.js';
import { SecretToken } from '../../src/domain/secret-token.js';
import type { BrokerApi } from '../../src/http/broker-api.js';
import { createApp } from '../../src/http/create-app.js';
import { startBrokerRuntime, type BrokerRuntime } from '../../src/main/broker-runtime.js';
import { openEventStream, type ReadEvent } from '../support/event-stream.js';
import { demoSite, dockerRequest, startTestBroker, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const update = (value: string) => JSON.stringify({ kind: 'uri:enum-value-update', path: '/phase', value });
const about = (uuid: string, phase: string) => (event: ReadEvent): boolean =>
  event.event === 'session' && (JSON.parse(event.data) as Doc).uuid === uuid && (JSON.parse(event.data) as Doc).phase === phase;

async function listen(app: import('express').Express): Promise<{ server: Server; url: string }> {
  const server = await new Promise<Server>((ready) => { const s = app.listen(0, '127.0.0.1', () => ready(s)); });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** GET /events: the Lua steps' notices, fanned out by every API process to its streams. */
describe('session events', () => {
  let broker: TestBroker;
  beforeAll(async () => { broker = await startTestBroker({ config: { sites: [demoSite({ preparationMs: 0, releasingMs: 0 })] } }); });
  afterAll(async () => { await broker.close(); });

  const accepted = async (command = 'echo hi'): Promise<string> => {
    const body = { ...dockerRequest(), executable: { ...dockerRequest().executable as Doc, command: ['-c', command] } };
    const offers = await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body)).expect(303);
    const uuid = offers.body.offers[0].meta.uuid as string;
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
    return uuid;
  };

  it('streams every phase change of a session, from OFFERED to COMPLETED, as small notices', async () => {
    const stream = await openEventStream(`${broker.baseUrl}/events`);
    try {
      expect(stream.status).toBe(200);
      expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      expect(stream.headers.get('cache-control')).toBe('no-cache, no-transform');
      await stream.waitFor((event) => event.event === 'ready');
      const uuid = await accepted();
      const completed = await stream.waitFor(about(uuid, 'COMPLETED'));
      const mine = stream.events.filter((event) => event.event === 'session').map((event) => JSON.parse(event.data) as Doc).filter((notice) => notice.uuid === uuid);
      expect(mine.map((notice) => notice.phase)).toEqual(['OFFERED', 'ACCEPTED', 'WAITING', 'PREPARING', 'AVAILABLE', 'RUNNING', 'RELEASING', 'COMPLETED']);
      expect(Object.keys(JSON.parse(completed.data) as Doc).sort()).toEqual(['at', 'owner', 'phase', 'site', 'uuid']);
      expect(JSON.parse(completed.data)).toMatchObject({ owner: 'anonymous', site: 'demo' });
      const history = (await broker.http.get(`/sessions/${uuid}/history`).expect(200)).body as Doc;
      expect(mine.map((notice) => notice.at)).toEqual(history.history.map((change: Doc) => change.at));
    } finally {
      stream.close();
    }
  });

  it('publishes one message per step: an offer set\'s offers together, an accept with its siblings\' rejections', async () => {
    const subscriber = new Redis(broker.config.redisUrl);
    const messages: unknown[] = [];
    try {
      await subscriber.subscribe(`${broker.config.keyPrefix}:session-events`);
      subscriber.on('message', (_channel: string, text: string) => messages.push(JSON.parse(text)));
      const offers = await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(dockerRequest({ min: 1, max: 4 }))).expect(303);
      const uuids = (offers.body.offers as Doc[]).map((offer) => offer.meta.uuid as string);
      expect(uuids.length).toBeGreaterThan(1);
      await broker.http.post(`/sessions/${uuids[0]}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
      for (let i = 0; i < 100 && messages.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      const steps = messages.slice(0, 2) as Doc[][];
      expect(steps[0]!.map((notice) => [notice.uuid, notice.phase])).toEqual(uuids.map((uuid) => [uuid, 'OFFERED']));
      expect(steps[1]!.map((notice) => [notice.uuid, notice.phase])).toEqual([[uuids[0], 'ACCEPTED'], ...uuids.slice(1).map((uuid) => [uuid, 'REJECTED'])]);
      await broker.http.post(`/sessions/${uuids[0]}`).set('Content-Type', 'application/json').send(update('CANCELLED')).expect(200);
    } finally {
      await subscriber.quit();
    }
  });

  it('delivers the notices of changes made through one API process to the streams of another sharing its Redis', async () => {
    let other: BrokerRuntime | undefined;
    let server: Server | undefined;
    try {
      other = await startBrokerRuntime(broker.config, { api: true });
      const listening = await listen(other.app!);
      server = listening.server;
      const stream = await openEventStream(`${listening.url}/events`);
      const local = await openEventStream(`${broker.baseUrl}/events`);
      try {
        await stream.waitFor((event) => event.event === 'ready');
        await local.waitFor((event) => event.event === 'ready');
        const uuid = await accepted('sleep 0.2');
        await stream.waitFor(about(uuid, 'ACCEPTED'));
        await stream.waitFor(about(uuid, 'COMPLETED'));
      } finally {
        stream.close();
        local.close();
      }
    } finally {
      other?.beginShutdown();
      if (server) await new Promise((done) => server!.close(done));
      await other?.close();
    }
  });

  it('tells its streams to read everything again once its subscription was cut and is back', async () => {
    const stream = await openEventStream(`${broker.baseUrl}/events`);
    try {
      await stream.waitFor((event) => event.event === 'ready');
      const clients = String(await broker.redis.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
      const ours = clients.split('\n').find((line) => line.includes(` name=eb-events-${broker.config.keyPrefix} `));
      expect(ours).toBeDefined();
      await broker.redis.client('KILL', 'ID', /\bid=(\d+)/.exec(ours!)![1]!);
      await stream.waitFor((event) => event.event === 'resync');
      // And notices flow again after it.
      const uuid = await accepted();
      await stream.waitFor(about(uuid, 'COMPLETED'));
    } finally {
      stream.close();
    }
  });

  describe('a stream on its own', () => {
    const listeners = new Set<(event: SessionNotice | 'resync') => void>();
    const api = { watchSessions: async (_principal: unknown, listener: (event: SessionNotice | 'resync') => void) => { listeners.add(listener); return () => { listeners.delete(listener); }; } } as unknown as BrokerApi;
    const tokens: Record<string, number> = {};
    const authenticator: Authenticator = {
      required: true,
      authenticate: async (token) => {
        if (!token || !(token in tokens)) throw new BrokerError('authentication-required', { values: { issuer: 'https://issuer.test.example' } });
        return { subject: token, authenticated: true, operator: false, token: new SecretToken(token, tokens[token]) };
      },
    };
    const shutdown = new AbortController();
    let url = '';
    let server: Server;
    beforeAll(async () => {
      const app = createApp(api, { bodyLimitBytes: 1024, authenticator, logError: () => undefined, shutdown: shutdown.signal, eventHeartbeatMs: 100 });
      ({ server, url } = await listen(app));
    });
    afterAll(async () => { server.closeAllConnections(); await new Promise((done) => server.close(done)); });

    it('needs a token, and sends a heartbeat comment while nothing happens', async () => {
      expect((await fetch(`${url}/events`)).status).toBe(401);
      tokens.carol = Date.now() + 60_000;
      const stream = await openEventStream(`${url}/events`, { Authorization: 'Bearer carol' });
      try {
        expect(stream.status).toBe(200);
        await new Promise((r) => setTimeout(r, 450));
        expect(stream.comments.filter((comment) => comment === 'heartbeat').length).toBeGreaterThanOrEqual(2);
        expect(listeners.size).toBe(1);
      } finally {
        stream.close();
      }
      await new Promise((r) => setTimeout(r, 100));
      expect(listeners.size).toBe(0); // a client that goes away stops its subscription
    });

    it('ends when the token expires, saying so', async () => {
      tokens.dave = Date.now() + 300;
      const stream = await openEventStream(`${url}/events`, { Authorization: 'Bearer dave' });
      await stream.waitFor((event) => event.event === 'expired', 3000);
      await stream.ended;
      expect(listeners.size).toBe(0);
    });

    it('ends every stream at once when the process begins to stop, and takes no new one', async () => {
      tokens.erin = Date.now() + 60_000;
      const streams = await Promise.all([1, 2, 3].map(() => openEventStream(`${url}/events`, { Authorization: 'Bearer erin' })));
      for (const listener of listeners) listener({ uuid: 'u', owner: 'erin', site: 's', phase: 'RUNNING', at: 0 });
      for (const stream of streams) await stream.waitFor((event) => event.event === 'session');
      const before = Date.now();
      shutdown.abort();
      await Promise.all(streams.map((stream) => stream.ended));
      expect(Date.now() - before).toBeLessThan(1000);
      expect(listeners.size).toBe(0);
      expect((await fetch(`${url}/events`, { headers: { Authorization: 'Bearer erin' } })).status).toBe(503);
    });
  });
});
