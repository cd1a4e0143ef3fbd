import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Adler32 } from '../../src/sites/adler32.js';
import { describeWithWebDav } from '../support/webdav-server.js';
import { acceptAndFollow, demoSite, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const adler32 = (text: string): string => new Adler32().update(Buffer.from(text)).digest('hex');

/**
 * WebDAV (`dav://`, `davs://`: SRCNet's storage elements) as a staging scheme, against Debian's
 * apache2 with mod_dav_fs started by the test: a file, a collection as a directory of its files,
 * checksums (adler32 as Rucio records them, md5) checked, and the egress policy applied.
 */
describeWithWebDav('staging data from a real WebDAV server', (dav) => {
  let broker: TestBroker;
  let strict: TestBroker;
  const catalogue = 'ra,dec\n10.5,-30.25\n11.0,-31.5\n';

  beforeAll(async () => {
    const root = dav().root;
    mkdirSync(join(root, 'survey', 'tiles'), { recursive: true });
    writeFileSync(join(root, 'survey', 'catalogue.csv'), catalogue);
    for (const n of [1, 2, 3]) writeFileSync(join(root, 'survey', 'tiles', `tile-${n}.txt`), `tile ${n}\n`);
    mkdirSync(join(root, 'survey', 'tiles', 'nested'));
    const site = { preparationMs: 0, releasingMs: 0, dataSchemes: ['http', 'https', 'dav', 'davs'] };
    broker = await startTestBroker({ config: { sites: [demoSite({ ...site, egressAllow: ['127.0.0.1'] })] } });
    strict = await startTestBroker({ config: { sites: [demoSite({ ...site, egressAllow: [] })] } });
  });
  afterAll(async () => {
    await broker?.close();
    await strict?.close();
  });

  const request = (data: Doc, shell: string, path = '/input/data'): Doc => ({
    executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/bin/sh', command: ['-c', shell] },
    compute: {
      kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 },
      volumes: [{ kind: `${V1}/volume/simple-volume-mount.yaml`, path, mode: 'READONLY', resource: 'data' }],
    },
    schedule: { requested: { duration: 'PT10M' } },
    data: [{ meta: { name: 'data' }, ...data }],
  });
  const simple = (location: string): Doc => ({ kind: `${V1}/data/simple-data-resource.yaml`, location });
  const skao = (dataurl: string, checksum: Doc): Doc => ({
    kind: `${V1}/data/skao-data-resource.yaml`, ivoa: { ivoid: 'ivo://test/survey' },
    skao: { namespace: 'survey', objectname: 'catalogue.csv', checksum, replicas: [{ rsename: 'DAV-RSE', dataurl }] },
  });

  async function run(on: TestBroker, body: Doc): Promise<{ session: Doc; log: string }> {
    const set = (await on.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body))).body as Doc;
    expect({ result: set.result, messages: set.result === 'YES' ? [] : set.meta?.messages }).toEqual({ result: 'YES', messages: [] });
    const uuid = set.offers[0].meta.uuid as string;
    return acceptAndFollow(on, uuid);
  }

  it('stages a file from a dav:// URL and the run reads its bytes', async () => {
    const { session, log } = await run(broker, request(simple(`${dav().base}/survey/catalogue.csv`), 'cat input/data'));
    expect([session.phase, log]).toEqual(['COMPLETED', catalogue]);
  });

  it('stages a collection (a dav:// URL ending in /) as a directory of its files', async () => {
    const { session, log } = await run(broker, request(simple(`${dav().base}/survey/tiles/`), 'ls input/data; cat input/data/*'));
    expect(session.phase).toBe('COMPLETED');
    expect(log).toBe('tile-1.txt\ntile-2.txt\ntile-3.txt\ntile 1\ntile 2\ntile 3\n');
  });

  it('checks an adler32 or md5 checksum, and a wrong one FAILS the session saying so', async () => {
    const good = await run(broker, request(skao(`${dav().base}/survey/catalogue.csv`, { type: 'adler32', value: adler32(catalogue) }), 'cat input/data'));
    expect([good.session.phase, good.log]).toEqual(['COMPLETED', catalogue]);
    const wrong = await run(broker, request(skao(`${dav().base}/survey/catalogue.csv`, { type: 'adler32', value: '0badc0de' }), 'cat input/data'));
    expect(wrong.session.phase).toBe('FAILED');
    expect(wrong.session.meta.messages.at(-1).message).toBe(`Staging the data failed: data: adler32 checksum ${adler32(catalogue)} differs from the 0badc0de expected`);
    expect(wrong.log).toBe(''); // the run never started
    const md5 = await run(broker, request(skao(`${dav().base}/survey/catalogue.csv`, { type: 'md5', value: 'f'.repeat(32) }), 'cat input/data'));
    expect(md5.session.meta.messages.at(-1).message).toMatch(/^Staging the data failed: data: md5 checksum [0-9a-f]{32} differs from the f{32} expected$/);
  });

  it('answers NO to a dav:// URL at an address the site\'s egress policy refuses', async () => {
    const set = (await strict.http.post('/requests').set('Content-Type', 'application/json')
      .send(JSON.stringify(request(simple(`${dav().base}/survey/catalogue.csv`), 'cat input/data')))).body as Doc;
    expect(set.result).toBe('NO');
    expect(set.meta.messages.map((m: Doc) => m.message).join(' | ')).toContain(`Site demo does not fetch data [data] from [${dav().base}/survey/catalogue.csv]: 127.0.0.1 is a loopback address`);
  });

  it('fails the session when a dav:// name resolves to a refused address', async () => {
    const location = `dav://localhost:${dav().port}/survey/catalogue.csv`;
    const { session } = await run(strict, request(simple(location), 'cat input/data'));
    expect(session.phase).toBe('FAILED');
    expect(session.meta.messages.at(-1).message).toBe(`Staging the data failed: data: ${location} is refused by the site's egress policy: localhost (127.0.0.1) is a loopback address`);
  });
});

describe('adler32', () => {
  it('matches the RFC 1950 values zlib gives', () => {
    expect(new Adler32().digest('hex')).toBe('00000001');
    expect(new Adler32().update(Buffer.from('Wikipedia')).digest('hex')).toBe('11e60398');
    // Over the 5552-byte block, in pieces, as bytes arrive.
    const big = Buffer.alloc(100_000, 0xff);
    const pieces = new Adler32();
    for (let i = 0; i < big.length; i += 777) pieces.update(big.subarray(i, i + 777));
    expect(pieces.digest('hex')).toBe(new Adler32().update(big).digest('hex'));
    expect(new Adler32().update(big).digest('hex')).toBe('149a302c'); // zlib.adler32(b'\xff' * 100000)
  });
});
