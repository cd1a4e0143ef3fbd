import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Adler32 } from '../../src/sites/adler32.js';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability/logger.js';
import { oidcEnv, SITE_AUDIENCE, startIdentityProvider, type TestIdentityProvider } from '../support/oidc-provider.js';
import { dumpRedis } from '../support/secret-scan.js';
import { describeWithWebDav } from '../support/webdav-server.js';
import { acceptAndFollow, demoSite, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const update = (value: string) => JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value });
const adler32 = (text: string): string => new Adler32().update(Buffer.from(text)).digest('hex');

interface StandIn { server: Server; url: string; seen: Array<{ method: string; path: string; body: Doc; token?: string }> }

/**
 * A STAND-IN for Rucio's REST API: `POST /replicas/list` answers the replicas of the DIDs asked
 * for as Rucio does (application/x-json-stream, one file a line, a DATASET expanded into its files,
 * each with bytes, adler32, md5 and its PFNs by RSE). The files themselves are on the real WebDAV
 * server (apache2); `replicas` says which PFNs each DID has.
 */
async function rucioStandIn(replicas: (scope: string, name: string) => Doc[] | undefined): Promise<StandIn> {
  const seen: StandIn['seen'] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => { text += chunk.toString(); });
    req.on('end', () => {
      const body = text ? JSON.parse(text) as Doc : {};
      seen.push({ method: req.method ?? '', path: req.url ?? '', body, token: req.headers['x-rucio-auth-token'] as string | undefined });
      if (req.method !== 'POST' || req.url !== '/replicas/list') return void res.writeHead(404).end();
      const lines = (body.dids as Doc[]).flatMap((did) => replicas(did.scope, did.name) ?? []);
      if (lines.length === 0) return void res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ ExceptionClass: 'DataIdentifierNotFound' }));
      res.writeHead(200, { 'content-type': 'application/x-json-stream' }).end(lines.map((line) => `${JSON.stringify(line)}\n`).join(''));
    });
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/**
 * Rucio data resources: the replicas Rucio lists for the DID, the one at the site's own RSE chosen
 * over a nearer-by-priority one elsewhere, fetched over WebDAV from a real apache2, checked against
 * Rucio's adler32; a DATASET of three files lands as a directory of three files.
 */
describeWithWebDav('staging Rucio data (a stand-in Rucio REST server, replicas on a real WebDAV server)', (dav) => {
  let broker: TestBroker;
  let rucio: StandIn;
  const tiles = [1, 2, 3].map((n) => ({ name: `tile-${n}.fits`, text: `tile ${n} pixels\n` }));
  const replica = (name: string, text: string, pfns: Record<string, Doc>, sums: Doc = {}): Doc =>
    ({ scope: 'survey', name, bytes: text.length, adler32: adler32(text), md5: null, pfns, rses: {}, ...sums });

  beforeAll(async () => {
    const root = dav().root;
    mkdirSync(join(root, 'rse', 'survey'), { recursive: true });
    for (const tile of tiles) writeFileSync(join(root, 'rse', 'survey', tile.name), tile.text);
    writeFileSync(join(root, 'rse', 'survey', 'catalogue.csv'), 'a,b\n1,2\n');
    const at = (name: string) => `${dav().base}/rse/survey/${name}`;
    rucio = await rucioStandIn((scope, name) => {
      if (scope !== 'survey') return undefined;
      if (name === 'tiles') {
        // Rucio's priority puts the far copy first; the site holds DAV-RSE, so that one is used.
        return tiles.map((tile) => replica(tile.name, tile.text, {
          [`https://far-away.invalid/survey/${tile.name}`]: { rse: 'FAR-RSE', priority: 1, type: 'DISK' },
          [at(tile.name)]: { rse: 'DAV-RSE', priority: 2, type: 'DISK' },
        }));
      }
      if (name === 'catalogue.csv') return [replica(name, 'a,b\n1,2\n', { [at(name)]: { rse: 'DAV-RSE', priority: 1 } })];
      if (name === 'corrupt.csv') return [replica(name, 'a,b\n1,2\n', { [at('catalogue.csv')]: { rse: 'DAV-RSE', priority: 1 } }, { adler32: '0a0b0c0d' })];
      if (name === 'private.csv') return [replica(name, 'x', { 'davs://10.0.0.1/survey/private.csv': { rse: 'PRIVATE-RSE', priority: 1 } })];
      return undefined;
    });
    broker = await startTestBroker({ config: { sites: [demoSite({
      preparationMs: 0, releasingMs: 0, dataSchemes: ['http', 'https', 'dav', 'davs', 'rucio'], egressAllow: ['127.0.0.1'],
      storageElements: [{ name: 'DAV-RSE', hosts: ['127.0.0.1'], bandwidthMBps: 1000, local: true }],
    })] } });
  });
  afterAll(async () => {
    await broker?.close();
    if (rucio) await new Promise((done) => rucio.server.close(done));
  });

  const request = (object: string, type: string, shell: string): Doc => ({
    executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/bin/sh', command: ['-c', shell] },
    compute: {
      kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 },
      volumes: [{ kind: `${V1}/volume/simple-volume-mount.yaml`, path: '/input/data', mode: 'READONLY', resource: 'data' }],
    },
    schedule: { requested: { duration: 'PT10M' } },
    data: [{ kind: `${V1}/data/rucio-data-resource.yaml`, meta: { name: 'data' }, rucio: { endpoint: rucio.url, scope: 'survey', object, type } }],
  });

  async function run(body: Doc): Promise<{ session: Doc; log: string }> {
    const set = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body))).body as Doc;
    expect({ result: set.result, messages: set.result === 'YES' ? [] : set.meta?.messages }).toEqual({ result: 'YES', messages: [] });
    const uuid = set.offers[0].meta.uuid as string;
    return acceptAndFollow(broker, uuid);
  }

  it('stages a DATASET of three files as a directory of three files, from the site\'s own RSE', async () => {
    const { session, log } = await run(request('tiles', 'DATASET', 'ls input/data; cat input/data/*'));
    expect(session.phase).toBe('COMPLETED');
    expect(log).toBe(`${tiles.map((t) => t.name).join('\n')}\n${tiles.map((t) => t.text).join('')}`);
    const asked = rucio.seen.filter((s) => s.path === '/replicas/list').at(-1);
    expect(asked?.body).toEqual({ dids: [{ scope: 'survey', name: 'tiles' }], schemes: ['davs', 'https', 'dav', 'http'] });
  });

  it('stages a FILE as a file, checked against Rucio\'s adler32', async () => {
    const { session, log } = await run(request('catalogue.csv', 'FILE', 'cat input/data'));
    expect([session.phase, log]).toEqual(['COMPLETED', 'a,b\n1,2\n']);
  });

  it('FAILS the session when the bytes differ from Rucio\'s adler32, saying so', async () => {
    const { session, log } = await run(request('corrupt.csv', 'FILE', 'cat input/data'));
    expect(session.phase).toBe('FAILED');
    expect(session.meta.messages.at(-1).message).toBe(`Staging the data failed: data: adler32 checksum ${adler32('a,b\n1,2\n')} differs from the 0a0b0c0d expected`);
    expect(log).toBe('');
  });

  it('FAILS the session when a replica is at an address the egress policy refuses, naming it', async () => {
    const { session } = await run(request('private.csv', 'FILE', 'cat input/data'));
    expect(session.phase).toBe('FAILED');
    expect(session.meta.messages.at(-1).message).toBe(
      'Staging the data failed: data: davs://10.0.0.1/survey/private.csv is refused by the site\'s egress policy: 10.0.0.1 is a private address');
  });

  it('FAILS the session, saying so, when Rucio knows no such DID', async () => {
    const { session } = await run(request('nothing', 'FILE', 'cat input/data'));
    expect(session.phase).toBe('FAILED');
    expect(session.meta.messages.at(-1).message).toBe(`Staging the data failed: data: ${rucio.url}/replicas/list answered 404`);
  });

  it('answers NO where the site does not read Rucio data', async () => {
    const plain = await startTestBroker({ config: { sites: [demoSite({ preparationMs: 0, releasingMs: 0 })] } });
    try {
      const set = (await plain.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(request('tiles', 'DATASET', 'true')))).body as Doc;
      expect(set.result).toBe('NO');
      expect(set.meta.messages.map((m: Doc) => m.message)).toContain('Site demo cannot fetch data [data] from a [rucio] location');
    } finally {
      await plain.close();
    }
  });

  describe('for a site that acts for the user', () => {
    let idp: TestIdentityProvider;
    let acting: TestBroker;
    const logs: string[] = [];
    beforeAll(async () => {
      idp = await startIdentityProvider();
      acting = await startTestBroker({
        env: { ...oidcEnv(idp.issuer), TOKEN_KEY: randomBytes(32).toString('base64') },
        config: { sites: [demoSite({
          preparationMs: 0, releasingMs: 0, dataSchemes: ['http', 'https', 'dav', 'davs', 'rucio'], egressAllow: ['127.0.0.1'],
          storageElements: [{ name: 'DAV-RSE', hosts: ['127.0.0.1'], bandwidthMBps: 1000, local: true }],
          tokenExchange: { audience: SITE_AUDIENCE, hosts: ['127.0.0.1'] },
        })] },
        logger: createLogger('test', { level: 'debug', destination: new Writable({ write(chunk, _encoding, done) { logs.push(String(chunk)); done(); } }) }),
      });
    });
    afterAll(async () => {
      await acting?.close();
      await idp?.close();
    });

    it('sends Rucio the token exchanged for the site as X-Rucio-Auth-Token, and leaves it nowhere else', async () => {
      const token = await idp.tokenFor('alice', { ttlSeconds: 3600 });
      const auth = `Bearer ${token}`;
      const set = (await acting.http.post('/requests').set('Authorization', auth).set('Content-Type', 'application/json').send(JSON.stringify(request('catalogue.csv', 'FILE', 'cat input/data')))).body as Doc;
      expect(set.result).toBe('YES');
      const uuid = set.offers[0].meta.uuid as string;
      await acting.http.post(`/sessions/${uuid}`).set('Authorization', auth).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
      let session: Doc = {};
      for (let i = 0; i < 400 && !['COMPLETED', 'FAILED'].includes(session.phase); i++) {
        await new Promise((r) => setTimeout(r, 50));
        session = (await acting.http.get(`/sessions/${uuid}`).set('Authorization', auth)).body as Doc;
      }
      expect(session.phase).toBe('COMPLETED');
      const exchange = idp.exchanges.find((e) => e.subject === 'alice' && e.audience === SITE_AUDIENCE);
      expect(exchange).toBeDefined();
      const sent = rucio.seen.filter((s) => s.path === '/replicas/list').at(-1)?.token;
      expect(sent).toBe(exchange!.token);
      await expect(idp.verify(sent!, SITE_AUDIENCE)).resolves.toMatchObject({ sub: 'alice', aud: SITE_AUDIENCE });
      const signature = (jwt: string): string => jwt.split('.')[2] ?? jwt;
      const places = { redis: await dumpRedis(acting.redis, acting.config.keyPrefix), log: logs.join('\n'), session: JSON.stringify(session) };
      for (const [place, text] of Object.entries(places)) {
        for (const secret of [token, exchange!.token].map(signature)) expect({ place, leaked: text.includes(secret) }).toEqual({ place, leaked: false });
      }
    });
  });
});
