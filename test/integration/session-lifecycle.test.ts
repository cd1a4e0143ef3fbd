import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoSite, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const update = (value: string) => JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value });

/** Accepted sessions run for real on the demo site's local executor (plain processes here). */
describe('sessions that run', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startTestBroker({ config: { sites: [demoSite({ cores: 16, memoryGiB: 64, preparationMs: 0, releasingMs: 0 })] } });
  });
  afterAll(async () => { await broker.close(); });

  const script = (shell: string, duration = 'PT10M') => ({
    executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/bin/sh', command: ['-c', shell], environment: { GREETING: 'hi' } },
    compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 2, max: 2 } },
    schedule: { requested: { duration } },
  });

  async function runUntilEnd(body: Doc, cancelWhenRunning = false): Promise<Doc> {
    const set = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body))).body as Doc;
    const uuid = set.offers[0].meta.uuid as string;
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
    let session: Doc = {};
    for (let i = 0; i < 300; i++) {
      session = (await broker.http.get(`/sessions/${uuid}`)).body as Doc;
      if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(session.phase)) break;
      if (cancelWhenRunning && session.phase === 'RUNNING') {
        const run = JSON.parse((await broker.redis.hget(`${broker.config.keyPrefix}:session:${uuid}`, 'run')) ?? '{}') as Doc;
        expect(() => process.kill(-Number(run.id), 0)).not.toThrow();
        await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('CANCELLED')).expect(200);
        await new Promise((r) => setTimeout(r, 500));
        expect(() => process.kill(-Number(run.id), 0)).toThrow(); // the process group is gone
        cancelWhenRunning = false;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return session;
  }

  it('runs from accept to COMPLETED, with the log read back and the capacity released', async () => {
    const session = await runUntilEnd(script('echo "$GREETING from the session"; echo result > "$EB_OUTPUTS/out.txt"'));
    expect(session.phase).toBe('COMPLETED');
    expect(session.executable.phase).toBe('COMPLETED');
    expect((await broker.http.get(`/sessions/${session.meta.uuid}/logs`)).text).toBe('hi from the session\n');
    expect(session.meta.messages.at(-1).message).toMatch(/exited with status 0; outputs are in .+\/outputs on site demo/);
    expect(session.meta.options).toBeUndefined();
    expect(session.connectors).toEqual([{ kind: 'urn:srcnet:connector:logs', status: 'FINISHED', protocol: 'HTTP', location: `${broker.baseUrl}/sessions/${session.meta.uuid}/logs` }]);
    expect(await broker.heldNow()).toBe(0);
  });

  it('ends FAILED with the exit status in a message when the executable fails', async () => {
    const session = await runUntilEnd(script('echo oops >&2; exit 42'));
    expect(session.phase).toBe('FAILED');
    expect(session.meta.messages.at(-1)).toMatchObject({ level: 'ERROR', message: 'The executable exited with status 42' });
    expect((await broker.http.get(`/sessions/${session.meta.uuid}/logs`)).text).toBe('oops\n');
    expect(await broker.heldNow()).toBe(0);
  });

  it('stops a session when its offered duration ends', async () => {
    const session = await runUntilEnd(script('echo started; sleep 30', 'PT1S'));
    expect(session.phase).toBe('COMPLETED');
    expect(session.meta.messages.at(-1).message).toMatch(/offered duration ended/);
  });

  it('kills the process and releases the capacity when a running session is cancelled', async () => {
    const session = await runUntilEnd(script('echo waiting; sleep 60'), true);
    expect(session.phase).toBe('CANCELLED');
    expect(await broker.heldNow()).toBe(0);
    expect((await broker.http.get(`/sessions/${session.meta.uuid}/logs`)).text).toBe('waiting\n');
  });

  it('fails a session it cannot run, saying why, instead of leaving it stuck', async () => {
    const body = script('true');
    delete (body.executable as Doc).entrypoint;
    const session = await runUntilEnd(body);
    expect(session.phase).toBe('FAILED');
    expect(session.meta.messages.at(-1).message).toBe('Site demo cannot run this executable: the executable needs an entrypoint to run without a container runtime');
  });

  it('fails a session whose start keeps failing on the site, after its retries, instead of leaving it stuck', async () => {
    // A scratch "directory" that is a file: the executor cannot create the session's directory.
    const notADirectory = join(mkdtempSync(join(tmpdir(), 'eb-scratch-')), 'file');
    writeFileSync(notADirectory, 'x');
    const broken = await startTestBroker({ config: { sites: [demoSite({ preparationMs: 0, releasingMs: 0, scratchDir: notADirectory })] } });
    try {
      const set = (await broken.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(script('true')))).body as Doc;
      const uuid = set.offers[0].meta.uuid as string;
      await broken.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
      let session: Doc = {};
      for (let i = 0; i < 200 && session.phase !== 'FAILED'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        session = (await broken.http.get(`/sessions/${uuid}`)).body as Doc;
      }
      expect(session.phase).toBe('FAILED');
      expect(session.meta.messages.at(-1).message).toMatch(/^Site demo could not start the session: .*(ENOTDIR|EEXIST)/);
      expect(await broken.heldNow()).toBe(0);
    } finally {
      await broken.close();
    }
  });

  it('answers 404 for the log of an unknown session', async () => {
    expect((await broker.http.get('/sessions/00000000-0000-0000-0000-000000000000/logs')).status).toBe(404);
  });
});
