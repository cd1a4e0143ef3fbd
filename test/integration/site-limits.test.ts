import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLogBytesOnDisk } from '../../src/sites/log-file.js';
import { demoSite, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const update = (value: string) => JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value });
const MiB = 1024 * 1024;

const script = (shell: string, duration = 'PT10M') => ({
  executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/bin/sh', command: ['-c', shell] },
  compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 } },
  schedule: { requested: { duration } },
});

async function accept(broker: TestBroker, body: Doc): Promise<string> {
  const set = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body))).body as Doc;
  const uuid = set.offers[0].meta.uuid as string;
  await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
  return uuid;
}

async function untilEnd(broker: TestBroker, uuid: string, ms = 60_000): Promise<Doc> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    const session = (await broker.http.get(`/sessions/${uuid}`)).body as Doc;
    if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(session.phase)) return session;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`session ${uuid} did not end`);
}

/** `?follow=true` to its end, as one text. */
function follow(broker: TestBroker, uuid: string): Promise<string> {
  return new Promise((resolve, reject) => {
    httpGet(`${broker.baseUrl}/sessions/${uuid}/logs?follow=true`, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => resolve(text));
    }).on('error', reject);
  });
}

/** Limits a site sets (limits.* in the sites file), enforced on plain process runs. */
describe('the limits a site sets', () => {
  let broker: TestBroker;
  let scratch: string;
  const orphan = '0b5e7a1c-0000-4000-8000-000000000001';
  const recent = '0b5e7a1c-0000-4000-8000-000000000002';
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'eb-limits-'));
    // Left by sessions the store does not know: one untouched for long, one just written.
    mkdirSync(join(scratch, orphan, 'outputs'), { recursive: true });
    const old = new Date(Date.now() - 3600_000);
    for (const path of [join(scratch, orphan, 'outputs'), join(scratch, orphan)]) utimesSync(path, old, old);
    mkdirSync(join(scratch, recent));
    writeFileSync(join(scratch, 'not-a-session'), '');
    const site = demoSite({ cores: 16, memoryGiB: 64, preparationMs: 0, releasingMs: 0, scratchDir: scratch, scratchGiB: 1 });
    broker = await startTestBroker({ config: { sites: [{
      ...site, limits: { outputBytes: 2 * MiB, logBytes: MiB, servedLogBytes: 256 * 1024, retentionMs: 60_000 },
    }] } });
  });
  afterAll(async () => {
    await broker.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('serves the end of a 20 MB log, saying how much was dropped, with at most limits.logBytes of it on disk', async () => {
    const uuids = await Promise.all([1, 2, 3].map(() => accept(broker, script('seq 1 2700000; echo THE-END'))));
    const followed = await Promise.all(uuids.map((uuid) => follow(broker, uuid)));
    for (const [i, uuid] of uuids.entries()) {
      expect((await untilEnd(broker, uuid)).phase).toBe('COMPLETED');
      const served = (await broker.http.get(`/sessions/${uuid}/logs`).expect(200)).text;
      expect(served.endsWith('2699999\n2700000\nTHE-END\n')).toBe(true);
      const [first, ...rest] = served.split('\n');
      const dropped = Number(/^\[\.\.\. (\d+) bytes of log dropped/.exec(first ?? '')?.[1]);
      // seq 1 2700000 writes 20,488,896 bytes, THE-END 8 more: the dropped and the kept make them all.
      expect(dropped + Buffer.byteLength(rest.join('\n'))).toBe(20_488_904);
      expect(Buffer.byteLength(rest.join('\n'))).toBeLessThanOrEqual(256 * 1024);
      expect(followed[i]!.endsWith('2700000\nTHE-END\n')).toBe(true);
      expect(followed[i]).toMatch(/^\[\.\.\. \d+ bytes of log dropped/);
      expect(await runLogBytesOnDisk(join(scratch, uuid))).toBeLessThanOrEqual(MiB);
      expect(await runLogBytesOnDisk(join(scratch, uuid))).toBeGreaterThan(MiB / 4);
    }
  }, 120_000);

  it('ends a run that left a process holding its output, the log writer waiting 2 s at most', async () => {
    const started = Date.now();
    const uuid = await accept(broker, script('echo before; (sleep 20; echo late) &'));
    expect((await untilEnd(broker, uuid)).phase).toBe('COMPLETED');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await broker.http.get(`/sessions/${uuid}/logs`).expect(200)).text).toBe('before\n');
    // No FIFO is left to block whoever reads the session's files.
    expect(existsSync(join(scratch, uuid, 'log', 'pipe'))).toBe(false);
  }, 60_000);

  it('stops a run whose outputs pass limits.outputBytes, and fails it saying so', async () => {
    const started = Date.now();
    const uuid = await accept(broker, script('head -c 5000000 /dev/zero > "$EB_OUTPUTS/big"; sleep 60'));
    const session = await untilEnd(broker, uuid);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(session.phase).toBe('FAILED');
    expect(session.meta.messages.at(-1).message).toBe(
      "Site demo stopped the run: its outputs took more than the site's limit of 2.0 MiB (limits.outputBytes); they were removed");
    expect(existsSync(join(scratch, uuid, 'outputs'))).toBe(false);
  }, 60_000);

  it('fails a run that ends having written more outputs than limits.outputBytes', async () => {
    const uuid = await accept(broker, script('head -c 3000000 /dev/zero > "$EB_OUTPUTS/big"'));
    const session = await untilEnd(broker, uuid);
    expect(session.phase).toBe('FAILED');
    expect(session.meta.messages.at(-1).message).toMatch(/limit of 2\.0 MiB \(limits\.outputBytes\)/);
  }, 60_000);

  it('keeps a run whose outputs stay under limits.outputBytes', async () => {
    const uuid = await accept(broker, script('head -c 1000000 /dev/zero > "$EB_OUTPUTS/fine"'));
    expect((await untilEnd(broker, uuid)).phase).toBe('COMPLETED');
    expect((await broker.http.get(`/sessions/${uuid}/outputs`).expect(200)).body.files).toEqual([expect.objectContaining({ path: 'fine', size: 1_000_000 })]);
  }, 60_000);

  it('removes, when its worker starts, directories of sessions the store does not know that have not changed for the retention', async () => {
    for (const end = Date.now() + 10_000; existsSync(join(scratch, orphan)) && Date.now() < end;) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(join(scratch, orphan))).toBe(false);
    expect(existsSync(join(scratch, recent))).toBe(true);
    expect(existsSync(join(scratch, 'not-a-session'))).toBe(true);
  });
});

describe('a site with a short retention', () => {
  let broker: TestBroker;
  let scratch: string;
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'eb-retention-'));
    const site = demoSite({ cores: 16, memoryGiB: 64, preparationMs: 0, releasingMs: 0, scratchDir: scratch });
    broker = await startTestBroker({ config: { sites: [{ ...site, limits: { ...site.limits, retentionMs: 2_000 } }] } });
  });
  afterAll(async () => {
    await broker.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('removes a session directory after the retention and answers 410 for its outputs', async () => {
    const uuid = await accept(broker, script('echo kept > "$EB_OUTPUTS/out.txt"'));
    expect((await untilEnd(broker, uuid)).phase).toBe('COMPLETED');
    expect((await broker.http.get(`/sessions/${uuid}/outputs/out.txt`).expect(200)).text).toBe('kept\n');
    expect(existsSync(join(scratch, uuid))).toBe(true);
    for (const end = Date.now() + 10_000; existsSync(join(scratch, uuid)) && Date.now() < end;) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(join(scratch, uuid))).toBe(false);
    const gone = await broker.http.get(`/sessions/${uuid}/outputs`);
    expect(gone.status).toBe(410);
    expect(JSON.stringify(gone.body)).toMatch(/were removed from site demo at .+, PT2S after the session ended/);
    // The session itself is still there to read, and its log.
    expect((await broker.http.get(`/sessions/${uuid}`).expect(200)).body.phase).toBe('COMPLETED');
  }, 60_000);

  it('removes the directory of a session cancelled while it ran', async () => {
    const uuid = await accept(broker, script('sleep 60'));
    for (let i = 0; i < 100 && (await broker.http.get(`/sessions/${uuid}`)).body.phase !== 'RUNNING'; i++) await new Promise((r) => setTimeout(r, 100));
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('CANCELLED')).expect(200);
    expect(existsSync(join(scratch, uuid))).toBe(true);
    for (const end = Date.now() + 10_000; existsSync(join(scratch, uuid, 'log', 'pipe')) && Date.now() < end;) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(join(scratch, uuid, 'log', 'pipe'))).toBe(false);
    for (const end = Date.now() + 15_000; existsSync(join(scratch, uuid)) && Date.now() < end;) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(join(scratch, uuid))).toBe(false);
  }, 60_000);
});
