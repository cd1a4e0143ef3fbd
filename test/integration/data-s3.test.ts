import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { SecretToken } from '../../src/domain/secret-token.js';
import { createLogger } from '../../src/observability/logger.js';
import { startS3StandIn, type S3StandIn } from '../support/s3-stand-in.js';
import { dumpFiles, dumpRedis, processTexts } from '../support/secret-scan.js';
import { acceptAndFollow, demoSite, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;

const ACCESS_KEY = 'AKIAEBTESTS3KEY00001';
const SECRET_KEY = 'eb-s3-secret/NeverLogged+kR9vQ2wX7zL4pT8mY1nB6cD3fG5h';

/**
 * S3 data resources through the AWS SDK's S3 client, against a STAND-IN S3 server (test/support/
 * s3-stand-in.ts) that checks every request's SigV4 signature: an object lands as a file, a blank
 * object as the whole bucket as a directory; the site's credentials come from its configuration
 * and appear in no log, message, Redis value, file or process argument.
 */
describe('staging S3 data (a stand-in S3 server checking SigV4)', () => {
  let s3: S3StandIn;
  let broker: TestBroker;
  const logs: string[] = [];
  const scratchDir = mkdtempSync(join(tmpdir(), 'eb-s3-'));
  const objects = {
    'catalogue.csv': 'ra,dec\n10,-30\n',
    'readme.txt': 'survey data\n',
    'tiles/tile-1.txt': 'tile 1\n',
    'tiles/tile-2.txt': 'tile 2\n',
    'slow.csv': 'slow,bytes\n',
  };

  const credential = (secret = SECRET_KEY) => [{ endpoint: s3.endpoint, accessKeyId: new SecretToken(ACCESS_KEY), secretAccessKey: new SecretToken(secret) }];
  const site = { preparationMs: 0, releasingMs: 0, dataSchemes: ['http', 'https', 's3'] };

  beforeAll(async () => {
    s3 = await startS3StandIn({ survey: objects }, { [ACCESS_KEY]: SECRET_KEY }, { delayMs: (key) => (key === 'slow.csv' ? 1500 : 0) });
    broker = await startTestBroker({
      config: { sites: [demoSite({ ...site, scratchDir, egressAllow: ['127.0.0.1'], s3: credential() })] },
      logger: createLogger('test', { level: 'debug', destination: new Writable({ write(chunk, _encoding, done) { logs.push(String(chunk)); done(); } }) }),
    });
  });
  afterAll(async () => {
    await broker?.close();
    await s3?.close();
  });

  const request = (object: string | undefined, shell: string): Doc => ({
    executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/bin/sh', command: ['-c', shell] },
    compute: {
      kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 },
      volumes: [{ kind: `${V1}/volume/simple-volume-mount.yaml`, path: '/input/data', mode: 'READONLY', resource: 'data' }],
    },
    schedule: { requested: { duration: 'PT10M' } },
    data: [{ kind: `${V1}/data/S3-data-resource.yaml`, meta: { name: 'data' }, endpoint: s3.endpoint, bucket: 'survey', ...(object ? { object } : {}) }],
  });

  async function run(on: TestBroker, body: Doc, whilePreparing?: () => void): Promise<{ session: Doc; log: string }> {
    const set = (await on.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body))).body as Doc;
    expect({ result: set.result, messages: set.result === 'YES' ? [] : set.meta?.messages }).toEqual({ result: 'YES', messages: [] });
    const uuid = set.offers[0].meta.uuid as string;
    return acceptAndFollow(on, uuid, whilePreparing);
  }

  it('stages an object as a file, every request signed with the site\'s key for the endpoint', async () => {
    const before = s3.seen.length;
    const { session, log } = await run(broker, request('catalogue.csv', 'cat input/data'));
    expect([session.phase, log]).toEqual(['COMPLETED', objects['catalogue.csv']]);
    expect(s3.seen.slice(before)).toEqual([{ method: 'GET', url: '/survey/catalogue.csv?x-id=GetObject', accessKeyId: ACCESS_KEY, signatureOk: true }]);
  });

  it('stages a whole bucket (no object) as a directory of its objects, across listing pages', async () => {
    const { session, log } = await run(broker, request(undefined, 'cd input/data && find . -type f | sort && cat catalogue.csv tiles/tile-2.txt'));
    expect(session.phase).toBe('COMPLETED');
    expect(log).toBe(`./catalogue.csv\n./readme.txt\n./slow.csv\n./tiles/tile-1.txt\n./tiles/tile-2.txt\n${objects['catalogue.csv']}${objects['tiles/tile-2.txt']}`);
    expect(s3.seen.filter((s) => s.url.includes('list-type=2')).length).toBeGreaterThanOrEqual(3); // 5 keys, 2 a page
    expect(s3.seen.every((s) => s.signatureOk)).toBe(true);
  });

  it('FAILS the session with S3\'s answer when the site\'s key is wrong, or the object missing', async () => {
    const wrongKey = await startTestBroker({ config: { sites: [demoSite({ ...site, egressAllow: ['127.0.0.1'], s3: credential('not-the-secret') })] } });
    try {
      const { session } = await run(wrongKey, request('catalogue.csv', 'cat input/data'));
      expect(session.phase).toBe('FAILED');
      expect(session.meta.messages.at(-1).message).toBe(`Staging the data failed: data: S3 at ${s3.endpoint} answered 403 SignatureDoesNotMatch for survey/catalogue.csv`);
    } finally {
      await wrongKey.close();
    }
    const { session } = await run(broker, request('nothing.csv', 'cat input/data'));
    expect(session.meta.messages.at(-1).message).toBe(`Staging the data failed: data: S3 at ${s3.endpoint} answered 404 NoSuchKey for survey/nothing.csv`);
  });

  it('FAILS the session, naming it, when the endpoint is at an address the egress policy refuses', async () => {
    const strict = await startTestBroker({ config: { sites: [demoSite({ ...site, egressAllow: [], s3: credential() })] } });
    try {
      const before = s3.seen.length;
      const { session } = await run(strict, request('catalogue.csv', 'cat input/data'));
      expect(session.phase).toBe('FAILED');
      expect(session.meta.messages.at(-1).message).toBe(`Staging the data failed: data: ${s3.endpoint} is refused by the site's egress policy: 127.0.0.1 is a loopback address`);
      // A name is judged on the address the connection would use (the SDK's agents look up through the guard).
      const named = s3.endpoint.replace('127.0.0.1', 'localhost');
      const body = request('catalogue.csv', 'cat input/data');
      body.data[0].endpoint = named;
      const byName = (await run(strict, body)).session;
      expect(byName.phase).toBe('FAILED');
      expect(byName.meta.messages.at(-1).message).toBe(`Staging the data failed: data: ${named} is refused by the site's egress policy: localhost (127.0.0.1) is a loopback address`);
      expect(s3.seen.length).toBe(before);
    } finally {
      await strict.close();
    }
  });

  it('keeps the S3 keys out of every log, message, Redis value, file and process argument', async () => {
    let processes = '';
    const { session, log } = await run(broker, request('slow.csv', 'cat input/data'), () => { processes += processTexts(); });
    expect([session.phase, log]).toEqual(['COMPLETED', objects['slow.csv']]);
    expect(processes).toContain('stage-files.js'); // the downloader was caught while it worked
    const places: Record<string, string> = {
      'process arguments and environments': processes,
      redis: await dumpRedis(broker.redis, broker.config.keyPrefix),
      'broker log': logs.join('\n'),
      'session documents': JSON.stringify((await broker.http.get('/sessions')).body),
      'scratch files': dumpFiles(scratchDir),
    };
    expect(places['broker log']).not.toBe('');
    for (const [place, text] of Object.entries(places)) {
      for (const secret of [SECRET_KEY, ACCESS_KEY]) expect({ place, leaked: text.includes(secret) }).toEqual({ place, leaked: false });
    }
    // A site profile printed or serialised shows no key either.
    expect(JSON.stringify(broker.config.sites)).not.toContain(SECRET_KEY);
  });
});
