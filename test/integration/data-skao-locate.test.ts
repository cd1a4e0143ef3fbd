import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability/logger.js';
import { dumpRedis } from '../support/secret-scan.js';
import { DATA_MANAGEMENT_AUDIENCE, oidcEnv, startIdentityProvider, type TestIdentityProvider } from '../support/oidc-provider.js';
import { demoSite, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const update = (value: string) => JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value });
const listen = async (server: Server): Promise<string> => {
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

/**
 * SKAO data resources that list no replicas are located through SRCNet's Data Management API (a
 * STAND-IN here, answering `GET /data/locate/{namespace}/{name}` as the API does, and serving only
 * a token the real test identity provider issued for its audience, exchanged from the user's).
 * The site holding a replica is offered first with no staging time, the other later by its
 * staging estimate; the session stages from the site's own replica and the run reads its bytes.
 */
describe('SKAO data located through the Data Management API (a stand-in)', () => {
  let idp: TestIdentityProvider;
  let broker: TestBroker;
  let dm: Server;
  let data: Server;
  let dmBase = '';
  let dataBase = '';
  const seenAtDm: Array<{ path: string; audienceOk: boolean; sub?: unknown }> = [];
  const seenAtData: string[] = [];
  const logs: string[] = [];
  const content = 'ra,dec\n10,-30\n';
  const MB = 1024 * 1024; // the planner's MB/s counts MiB

  beforeAll(async () => {
    idp = await startIdentityProvider();
    data = createServer((req, res) => { seenAtData.push(req.url ?? ''); res.end(content); });
    dataBase = await listen(data);
    dm = createServer((req, res) => {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
      void idp.verify(token, DATA_MANAGEMENT_AUDIENCE).then(
        (claims) => {
          seenAtDm.push({ path: req.url ?? '', audienceOk: true, sub: claims.sub });
          if (req.url !== '/api/v1/data/locate/survey/catalogue.csv?sort=nearest_by_ip') return void res.writeHead(404).end('{"detail":"not found"}');
          // The far copy first, as an API sorting by the broker's address might; the near site still uses its own.
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([
            { identifier: 'FAR-RSE', associated_storage_area_id: 'a1', replicas: [`${dataBase}/far/survey/catalogue.csv`] },
            { identifier: 'NEAR-RSE', associated_storage_area_id: 'b2', replicas: [`${dataBase}/near/survey/catalogue.csv`] },
          ]));
        },
        () => { seenAtDm.push({ path: req.url ?? '', audienceOk: false }); res.writeHead(401).end(); },
      );
    });
    dmBase = await listen(dm);
    const site = { preparationMs: 0, releasingMs: 0, egressAllow: ['127.0.0.1'], defaultBandwidthMBps: 1 };
    broker = await startTestBroker({
      env: oidcEnv(idp.issuer),
      config: {
        dataManagement: { url: `${dmBase}/api/v1`, audience: DATA_MANAGEMENT_AUDIENCE, egressAllow: ['127.0.0.1'] },
        sites: [
          demoSite({ ...site, name: 'far', storageElements: [] }),
          demoSite({ ...site, name: 'near', storageElements: [{ name: 'NEAR-RSE', hosts: [], bandwidthMBps: 1000, local: true }] }),
        ],
      },
      logger: createLogger('test', { level: 'debug', destination: new Writable({ write(chunk, _encoding, done) { logs.push(String(chunk)); done(); } }) }),
    });
  });
  afterAll(async () => {
    await broker?.close();
    for (const server of [dm, data]) if (server) await new Promise((done) => server.close(done));
    await idp?.close();
  });

  const request = (objectname: string, checksum?: Doc): Doc => ({
    executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/bin/sh', command: ['-c', 'cat input/catalogue.csv'] },
    compute: {
      kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 },
      volumes: [{ kind: `${V1}/volume/simple-volume-mount.yaml`, path: '/input/catalogue.csv', mode: 'READONLY', resource: 'catalogue' }],
    },
    schedule: { requested: { duration: 'PT10M' } },
    data: [{
      kind: `${V1}/data/skao-data-resource.yaml`, meta: { name: 'catalogue' }, ivoa: { ivoid: 'ivo://skao.int/survey?catalogue' },
      skao: { namespace: 'survey', objectname, datasize: 60 * MB, ...(checksum ? { checksum } : {}) },
    }],
  });
  const siteOf = (offer: Doc): string => String(offer.meta.description).replace('Offered by site ', '');
  const startOf = (offer: Doc): number => Date.parse(String(offer.schedule.available.start).split('/')[0] ?? '');
  const ask = async (token: string, body: Doc): Promise<Doc> =>
    (await broker.http.post('/requests').set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/json').send(JSON.stringify(body))).body as Doc;

  async function runOffer(token: string, offer: Doc): Promise<{ session: Doc; log: string }> {
    const auth = `Bearer ${token}`;
    const uuid = offer.meta.uuid as string;
    await broker.http.post(`/sessions/${uuid}`).set('Authorization', auth).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
    let session: Doc = {};
    for (let i = 0; i < 400 && !['COMPLETED', 'FAILED'].includes(session.phase); i++) {
      await new Promise((r) => setTimeout(r, 50));
      session = (await broker.http.get(`/sessions/${uuid}`).set('Authorization', auth)).body as Doc;
    }
    return { session, log: (await broker.http.get(`/sessions/${uuid}/logs`).set('Authorization', auth)).text };
  }

  it('offers the site holding a replica first with no staging time, the other later by its staging estimate', async () => {
    const token = await idp.tokenFor('alice', { ttlSeconds: 3600 });
    const set = await ask(token, request('catalogue.csv'));
    expect({ result: set.result, messages: set.result === 'YES' ? [] : set.meta.messages }).toEqual({ result: 'YES', messages: [] });
    const [first, second] = set.offers as Doc[];
    expect([siteOf(first!), siteOf(second!)]).toEqual(['near', 'far']);
    expect(first!.schedule.preparing.duration).toBe('PT0S');
    // 60 MB at the far site's 1 MB/s: a minute of staging before it can start.
    expect(second!.schedule.preparing.duration).toBe('PT1M');
    expect(startOf(second!) - startOf(first!)).toBeGreaterThanOrEqual(60_000);
    // The offers show where the data was found.
    expect(first!.data[0].skao.replicas).toEqual([
      { rsename: 'FAR-RSE', dataurl: `${dataBase}/far/survey/catalogue.csv` },
      { rsename: 'NEAR-RSE', dataurl: `${dataBase}/near/survey/catalogue.csv` },
    ]);
    // The API got a token for its own audience, exchanged from alice's (not alice's own).
    const exchange = idp.exchanges.find((e) => e.audience === DATA_MANAGEMENT_AUDIENCE && e.subject === 'alice');
    expect(exchange).toBeDefined();
    expect(seenAtDm.at(-1)).toEqual({ path: '/api/v1/data/locate/survey/catalogue.csv?sort=nearest_by_ip', audienceOk: true, sub: 'alice' });

    const { session, log } = await runOffer(token, first!);
    expect([session.phase, log]).toEqual(['COMPLETED', content]);
    expect(seenAtData).toEqual(['/near/survey/catalogue.csv']); // the near site's own replica
    for (const offer of set.offers.slice(1) as Doc[]) expect(offer.meta.uuid).not.toBe(session.meta.uuid);
  });

  it('checks the checksum the request gives, and a wrong one FAILS the session saying so', async () => {
    const token = await idp.tokenFor('alice', { ttlSeconds: 3600 });
    const md5 = createHash('md5').update(content).digest('hex');
    const good = await runOffer(token, (await ask(token, request('catalogue.csv', { type: 'md5', value: md5 }))).offers[0]);
    expect(good.session.phase).toBe('COMPLETED');
    const wrong = await runOffer(token, (await ask(token, request('catalogue.csv', { type: 'md5', value: 'e'.repeat(32) }))).offers[0]);
    expect(wrong.session.phase).toBe('FAILED');
    expect(wrong.session.meta.messages.at(-1).message).toBe(`Staging the data failed: catalogue: md5 checksum ${md5} differs from the ${'e'.repeat(32)} expected`);
  });

  it('answers NO, saying why, when the API does not know the data or the issuer refuses the exchange', async () => {
    const token = await idp.tokenFor('alice', { ttlSeconds: 3600 });
    const unknown = await ask(token, request('nothing.csv'));
    expect(unknown.result).toBe('NO');
    expect(unknown.meta.messages.map((m: Doc) => m.message)).toContain('SKAO data [catalogue] (survey:nothing.csv) could not be located: the Data Management API does not know it');
    idp.refuseExchangesFor.add('bob');
    const refused = await ask(await idp.tokenFor('bob', { ttlSeconds: 3600 }), request('catalogue.csv'));
    expect(refused.result).toBe('NO');
    expect(refused.meta.messages.map((m: Doc) => m.message).join(' | '))
      .toMatch(/SKAO data \[catalogue\] \(survey:catalogue\.csv\) could not be located: the issuer refused the token exchange for https:\/\/data-management\.test\.example \(invalid_grant/);
  });

  it('keeps the user\'s token and the one exchanged for the API out of Redis, logs and documents', async () => {
    const token = await idp.tokenFor('alice', { ttlSeconds: 3600 });
    const before = idp.exchanges.length;
    const set = await ask(token, request('catalogue.csv'));
    expect(set.result).toBe('YES');
    const { session } = await runOffer(token, set.offers[0]);
    expect(session.phase).toBe('COMPLETED');
    const exchanged = idp.exchanges.slice(before).map((e) => e.token);
    expect(exchanged).toHaveLength(1);
    const signature = (jwt: string): string => jwt.split('.')[2] ?? jwt;
    const places: Record<string, string> = {
      redis: await dumpRedis(broker.redis, broker.config.keyPrefix),
      'broker log': logs.join('\n'),
      'offer set and session': JSON.stringify(set) + JSON.stringify(session),
    };
    expect(places['broker log']).not.toBe('');
    for (const [place, text] of Object.entries(places)) {
      for (const secret of [token, ...exchanged].map(signature)) expect({ place, leaked: text.includes(secret) }).toEqual({ place, leaked: false });
    }
  });
});
