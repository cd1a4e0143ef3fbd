import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createServer, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoSite, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const update = (value: string) => JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value });

/**
 * While PREPARING, a session shows how far its staging has come (bytes done and expected, as its
 * last message); a staging that stops receiving bytes fails the session once it is past its
 * planned preparation, saying so, and its downloader is stopped; within the plan it may wait.
 */
describe('staging progress and stalls', () => {
  let server: Server;
  let base = '';
  let broker: TestBroker;
  const scratchDir = mkdtempSync(join(tmpdir(), 'eb-progress-'));
  /** Responses held after their first part, by path, until the test lets them go (or forever). */
  const held = new Map<string, ServerResponse>();
  const total = 400_000;

  beforeAll(async () => {
    server = createServer((req, res) => {
      // The first quarter at once, the rest when the test says (never, for /stalls).
      res.writeHead(200, { 'content-length': String(total) });
      res.write(Buffer.alloc(total / 4, 0x61));
      held.set(req.url ?? '', res);
    });
    await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    broker = await startTestBroker({ config: { sites: [demoSite({
      preparationMs: 0, releasingMs: 0, scratchDir, egressAllow: ['127.0.0.1'], stagingStallMs: 1000,
      // A replica at HERE costs nothing to stage by the plan; one ELSEWHERE comes at 0.01 MB/s (400 kB: about 38 s).
      storageElements: [{ name: 'HERE', hosts: [], bandwidthMBps: 10_000, local: true }], defaultBandwidthMBps: 0.01,
    })] } });
  });
  afterAll(async () => {
    await broker?.close();
    for (const res of held.values()) res.destroy();
    await new Promise((done) => server?.close(done));
  });

  const request = (path: string, rsename: 'HERE' | 'ELSEWHERE'): Doc => ({
    executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/bin/sh', command: ['-c', 'wc -c < input/data'] },
    compute: {
      kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 },
      volumes: [{ kind: `${V1}/volume/simple-volume-mount.yaml`, path: '/input/data', mode: 'READONLY', resource: 'data' }],
    },
    schedule: { requested: { duration: 'PT10M' } },
    data: [{ kind: `${V1}/data/skao-data-resource.yaml`, meta: { name: 'data' }, ivoa: { ivoid: 'ivo://test/x' }, skao: { namespace: 'test', objectname: path, datasize: total, replicas: [{ rsename, dataurl: `${base}${path}` }] } }],
  });

  async function accept(body: Doc): Promise<string> {
    const set = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body))).body as Doc;
    expect(set.result).toBe('YES');
    const uuid = set.offers[0].meta.uuid as string;
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
    return uuid;
  }
  async function until(uuid: string, done: (session: Doc) => boolean, tries = 300): Promise<Doc> {
    let session: Doc = {};
    for (let i = 0; i < tries; i++) {
      session = (await broker.http.get(`/sessions/${uuid}`)).body as Doc;
      if (done(session)) return session;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`the session never got there: ${JSON.stringify({ phase: session.phase, messages: session.meta?.messages })}`);
  }
  const progressOf = (session: Doc): Doc | undefined => (session.meta.messages ?? []).find((m: Doc) => m.kind === 'urn:staging-progress');

  it('shows bytes done and expected while PREPARING, and stops showing them once staged', async () => {
    const uuid = await accept(request('/progress', 'ELSEWHERE'));
    const preparing = await until(uuid, (s) => s.phase === 'PREPARING' && progressOf(s)?.values?.done === String(total / 4));
    expect(progressOf(preparing)).toEqual({
      kind: 'urn:staging-progress', level: 'INFO', template: 'Staging the data: {done} of {expected} bytes',
      values: { done: String(total / 4), expected: String(total) }, message: `Staging the data: ${total / 4} of ${total} bytes`,
    });
    expect(preparing.meta.messages.at(-1)).toEqual(progressOf(preparing)); // the last message
    held.get('/progress')!.end(Buffer.alloc(total - total / 4, 0x62));
    // Staged: AVAILABLE until its offered start (which counted the planned staging), the bytes all there.
    const available = await until(uuid, (s) => s.phase !== 'PREPARING');
    expect(available.phase).toBe('AVAILABLE');
    expect(progressOf(available)).toBeUndefined(); // shown only while PREPARING
    expect(statSync(join(scratchDir, uuid, 'data', 'data')).size).toBe(total);
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('CANCELLED')).expect(200);
  });

  it('fails a staging that stalls past its planned preparation, saying so, and stops its downloader', async () => {
    const uuid = await accept(request('/stalls', 'HERE'));
    const failed = await until(uuid, (s) => ['COMPLETED', 'FAILED'].includes(s.phase), 200);
    expect(failed.phase).toBe('FAILED');
    expect(failed.meta.messages.at(-1).message).toMatch(new RegExp(
      `^Staging the data stalled: no bytes since \\S+Z, past the planned end of preparing at \\S+Z; ${total / 4} of ${total} bytes had arrived$`));
    const pidFile = join(scratchDir, uuid, 'staging', 'pid');
    expect(existsSync(pidFile)).toBe(true);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await new Promise((r) => setTimeout(r, 200));
    expect(() => process.kill(pid, 0)).toThrow(); // the downloader is gone
  });

  it('stops the downloader of a session cancelled while PREPARING, which closes its connection', async () => {
    const uuid = await accept(request('/cancelled-while-staging', 'ELSEWHERE'));
    await until(uuid, (s) => s.phase === 'PREPARING' && progressOf(s)?.values?.done === String(total / 4));
    const pid = Number(readFileSync(join(scratchDir, uuid, 'staging', 'pid'), 'utf8'));
    expect(() => process.kill(pid, 0)).not.toThrow(); // downloading
    const response = held.get('/cancelled-while-staging')!;
    const closed = new Promise<void>((done) => response.once('close', () => done()));
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('CANCELLED')).expect(200);
    await Promise.race([closed, new Promise((_, fail) => setTimeout(() => fail(new Error('the download went on after the cancel')), 10_000))]);
    // Gone: its sockets closed as it was killed; it is reaped (no longer a zombie) a moment later.
    const alive = (): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };
    for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive()).toBe(false);
    expect(statSync(join(scratchDir, uuid, 'data', 'data'), { throwIfNoEntry: false })?.size ?? 0).toBeLessThan(total);
  });

  it('lets a stalled staging wait while its planned preparation has not ended', async () => {
    const uuid = await accept(request('/slow-but-planned', 'ELSEWHERE'));
    const session = await until(uuid, (s) => s.phase === 'PREPARING' && progressOf(s) !== undefined);
    expect(session.schedule.preparing.duration).toMatch(/^PT3[78](\.\d+)?S$/); // 400 kB at 0.01 MB/s
    await new Promise((r) => setTimeout(r, 2500)); // well past the site's one-second stall
    expect((await broker.http.get(`/sessions/${uuid}`)).body.phase).toBe('PREPARING');
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('CANCELLED')).expect(200);
  });
});
