import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability/logger.js';
import { sessionOfProvision } from '../../src/protocol/srcnet/srcnet-ids.js';
import { finalStatus, send, smallQuery } from '../support/srcnet.js';
import { oidcEnv, SITE_AUDIENCE, startIdentityProvider, type TestIdentityProvider } from '../support/oidc-provider.js';
import { RedisMonitor } from '../support/redis-monitor.js';
import { dumpFiles, dumpRedis } from '../support/secret-scan.js';
import { demoSite, redisUrl, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const update = (value: string) => JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value });

/** A token's signature: random, long, and in any copy of the token, so a search for it finds every leak. */
const signatureOf = (token: string): string => token.split('.')[2] ?? token;

/**
 * A site that acts for the user: its worker exchanges the user's token at the issuer (RFC 8693)
 * for one meant for the site's data server, which checks it against the provider's keys. The
 * user's token rests only sealed in Redis, and only while the session lives.
 */
describe('token exchange for a site that acts for the user', () => {
  let idp: TestIdentityProvider;
  let broker: TestBroker;
  let monitor: RedisMonitor;
  let dataServer: Server;
  let otherHost: Server;
  let dataBase = '';
  let elsewhere = '';
  const seenAtData: Array<{ authorization?: string; verified: boolean; claims?: Record<string, unknown> }> = [];
  const commands: string[] = [];
  /** Secrets watched for in every command any client sends (other test files' included). */
  const watched: string[] = [];
  const leaks: string[] = [];
  const logs: string[] = [];
  const scratchDir = mkdtempSync(join(tmpdir(), 'eb-exchange-'));
  const content = 'ra,dec\n1,2\n';

  beforeAll(async () => {
    idp = await startIdentityProvider();
    // The site's data server: it serves the file only to a token for its own audience, checked with the provider's keys.
    const serve: RequestListener = (req, res) => {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      void (token ? idp.verify(token, SITE_AUDIENCE) : Promise.reject(new Error('no token'))).then(
        (claims) => { seenAtData.push({ authorization: req.headers.authorization, verified: true, claims }); res.writeHead(200).end(content); },
        () => { seenAtData.push({ authorization: req.headers.authorization, verified: false }); res.writeHead(401).end(); },
      );
    };
    dataServer = createServer(serve);
    await new Promise<void>((ready) => dataServer.listen(0, '127.0.0.1', ready));
    dataBase = `http://127.0.0.1:${(dataServer.address() as AddressInfo).port}`;
    // The same data under a host the site does not list for its token.
    otherHost = createServer(serve);
    await new Promise<void>((ready) => otherHost.listen(0, '127.0.0.2', ready));
    elsewhere = `http://127.0.0.2:${(otherHost.address() as AddressInfo).port}`;
    broker = await startTestBroker({
      env: { ...oidcEnv(idp.issuer), TOKEN_KEY: randomBytes(32).toString('base64') },
      config: { sites: [demoSite({
        preparationMs: 0, releasingMs: 0, scratchDir, tokenExchange: { audience: SITE_AUDIENCE, hosts: ['127.0.0.1'] }, egressAllow: ['127.0.0.1', '127.0.0.2'],
        executor: { type: 'local', containerRuntime: 'none', developmentImages: { 'test.example/cat:1': { entrypoint: '/bin/sh', command: ['-c', 'cat data/*', 'cat'] } } },
      })] },
      // Every log line the broker writes, at its most talkative level.
      logger: createLogger('test', { level: 'debug', destination: new Writable({ write(chunk, _encoding, done) { logs.push(String(chunk)); done(); } }) }),
    });
    // Every command sent to Redis from here on: this broker's kept (by its key prefix), every one checked for watched secrets.
    monitor = await RedisMonitor.start(redisUrl(), (line) => {
      if (watched.some((secret) => line.includes(secret))) leaks.push(line.slice(0, 200));
      if (line.includes(broker.config.keyPrefix)) commands.push(line);
    });
  });
  afterAll(async () => {
    await broker?.close();
    monitor?.close();
    await new Promise((done) => dataServer?.close(done));
    await new Promise((done) => otherHost?.close(done));
    await idp?.close();
  });

  const withData = (location: string): Doc => ({
    executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/bin/sh', command: ['-c', 'cat input/catalogue.csv'] },
    compute: {
      kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 },
      volumes: [{ kind: `${V1}/volume/simple-volume-mount.yaml`, path: '/input/catalogue.csv', mode: 'READONLY', resource: 'catalogue' }],
    },
    data: [{ kind: `${V1}/data/simple-data-resource.yaml`, meta: { name: 'catalogue' }, location }],
    schedule: { requested: { duration: 'PT10M' } },
  });

  async function run(token: string, body: Doc, whileRunning?: (uuid: string) => Promise<void>): Promise<Doc> {
    const auth = `Bearer ${token}`;
    const set = (await broker.http.post('/requests').set('Authorization', auth).set('Content-Type', 'application/json').send(JSON.stringify(body)).expect(303)).body as Doc;
    const uuid = set.offers[0].meta.uuid as string;
    await broker.http.post(`/sessions/${uuid}`).set('Authorization', auth).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
    await whileRunning?.(uuid);
    let session: Doc = {};
    for (let i = 0; i < 400 && !['COMPLETED', 'FAILED', 'CANCELLED'].includes(session.phase); i++) {
      await new Promise((r) => setTimeout(r, 50));
      session = (await broker.http.get(`/sessions/${uuid}`).set('Authorization', auth)).body as Doc;
    }
    return session;
  }

  it('exchanges the user\'s token for the site\'s audience, stages with it, and leaves no token in clear anywhere', async () => {
    const userToken = await idp.tokenFor('alice', { ttlSeconds: 3600 });
    watched.push(signatureOf(userToken));
    const consoleLines: string[] = [];
    const levels = ['log', 'info', 'warn', 'error', 'debug'] as const;
    const originals = levels.map((level) => console[level]);
    for (const level of levels) console[level] = (...args: unknown[]) => { consoleLines.push(args.map(String).join(' ')); };
    let sealedWhileLive = '';
    let session: Doc;
    try {
      session = await run(userToken, withData(`${dataBase}/catalogue.csv`), async (uuid) => {
        sealedWhileLive = (await broker.redis.get(`${broker.config.keyPrefix}:session:${uuid}:token`)) ?? '';
      });
    } finally {
      levels.forEach((level, i) => { console[level] = originals[i]!; });
    }
    expect(session.phase).toBe('COMPLETED');
    expect((await broker.http.get(`/sessions/${session.meta.uuid}/logs`).set('Authorization', `Bearer ${userToken}`)).text).toBe(content);

    // The exchange happened at the provider, by the broker's client, for alice, for the site.
    expect(idp.exchanges).toHaveLength(1);
    const exchange = idp.exchanges[0]!;
    expect(exchange).toMatchObject({ clientId: 'execution-broker', subject: 'alice', audience: SITE_AUDIENCE });
    // The data server got that token (not alice's own), and it verified against the provider's keys.
    expect(seenAtData).toEqual([{ authorization: `Bearer ${exchange.token}`, verified: true, claims: expect.objectContaining({ sub: 'alice', aud: SITE_AUDIENCE, act: { sub: 'execution-broker' } }) }]);

    // At rest the user's token was sealed (AES-256-GCM), and it is gone now that the session ended.
    expect(sealedWhileLive).toMatch(/^v1:[\w-]+:[\w-]+:[\w-]+$/);
    expect(await broker.redis.exists(`${broker.config.keyPrefix}:session:${session.meta.uuid}:token`)).toBe(0);

    // No token in clear: not in Redis (keys and values, BullMQ's included), not in any command sent
    // to Redis during the run (job payloads that came and went included), not in logs or on disk.
    const secrets = [userToken, exchange.token].map(signatureOf);
    const places: Record<string, string> = {
      redis: await dumpRedis(broker.redis, broker.config.keyPrefix),
      'redis commands': commands.join('\n'),
      'broker log': logs.join('\n'),
      console: consoleLines.join('\n'),
      'scratch files': dumpFiles(scratchDir),
    };
    expect(places.redis).toContain(`${broker.config.keyPrefix}:bull:site-demo`);
    expect(places['redis commands']).toContain('sessionUuid'); // the monitor saw the job payloads go by
    expect(places['redis commands']).toContain(sealedWhileLive); // ... and the sealed token being stored
    for (const [place, text] of Object.entries(places)) {
      for (const secret of secrets) expect({ place, leaked: text.includes(secret) }).toEqual({ place, leaked: false });
    }
    expect(leaks).toEqual([]);
  });

  it('fails the session, saying why, when the issuer refuses the exchange, and forgets the user\'s token', async () => {
    idp.refuseExchangesFor.add('bob');
    const session = await run(await idp.tokenFor('bob', { ttlSeconds: 3600 }), withData(`${dataBase}/catalogue.csv`));
    expect(session.phase).toBe('FAILED');
    expect(session.meta.messages.at(-1).message).toMatch(/^Site demo cannot act for the user: the issuer refused the token exchange for https:\/\/data\.site-a\.test\.example \(invalid_grant[:)]/);
    expect(idp.exchanges.filter((exchange) => exchange.subject === 'bob')).toEqual([]);
    expect(await broker.redis.exists(`${broker.config.keyPrefix}:session:${session.meta.uuid}:token`)).toBe(0);
    expect(await broker.heldNow()).toBe(0);
  });

  it('exchanges the submitter\'s token for an SRCNet job on the site too', async () => {
    const token = await idp.tokenFor('alice', { ttlSeconds: 3600 });
    const before = idp.exchanges.length;
    const auth = { Authorization: `Bearer ${token}` };
    const provisioned = (await send(broker.http, 'put', '/v1/provision', smallQuery(), auth).expect(200)).body as Doc;
    expect(provisioned.response_code).toBe(0);
    const id = provisioned.provision_id as string;
    expect((await send(broker.http, 'put', `/v1/provision/${id}/submit`, { container: 'test.example/cat:1', dataset: `${dataBase}/catalogue.csv` }, auth).expect(200)).body.response_code).toBe(0);
    const status = await finalStatus(broker.http, id, auth);
    expect(status).toMatchObject({ response_code: 0, logging: content });
    expect(idp.exchanges.slice(before)).toEqual([expect.objectContaining({ clientId: 'execution-broker', subject: 'alice', audience: SITE_AUDIENCE })]);
    expect(seenAtData.at(-1)).toMatchObject({ authorization: `Bearer ${idp.exchanges.at(-1)!.token}`, verified: true });
    expect(await broker.redis.exists(`${broker.config.keyPrefix}:session:${sessionOfProvision(id)}:token`)).toBe(0);
  });

  it('sends the exchanged token to the site\'s hosts only, not to data elsewhere', async () => {
    const before = seenAtData.length;
    const session = await run(await idp.tokenFor('alice', { ttlSeconds: 3600 }), withData(`${elsewhere}/catalogue.csv`));
    expect(session.phase).toBe('FAILED');
    expect(session.meta.messages.at(-1).message).toMatch(/answered 401/);
    expect(seenAtData.slice(before)).toEqual([{ authorization: undefined, verified: false }]);
  });
});
