import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const WORKER = fileURLToPath(new URL('../../dist/main/worker.js', import.meta.url));

/** A site worker killed with SIGKILL mid-session loses nothing: another one carries the sessions on. */
describe('a site worker killed in the middle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eb-crash-'));
  chmodSync(dir, 0o711); // the sandboxed runs' uid passes through to the scratch directory
  const sitesFile = join(dir, 'sites.yaml');
  writeFileSync(sitesFile, `sites:\n  - { name: demo, cores: 8, memoryGiB: 16, preparation: PT0S, releasing: PT0S, scratchDir: ${join(dir, 'scratch')}, executor: { type: local, containerRuntime: none } }\n`);
  let broker: TestBroker;
  const workers: ChildProcess[] = [];
  const startWorker = (): ChildProcess => {
    const child = spawn(process.execPath, [WORKER], {
      env: { ...process.env, REDIS_URL: broker.config.redisUrl, EB_KEY_PREFIX: broker.config.keyPrefix, BROKER_CONFIG: sitesFile },
      stdio: 'ignore',
    });
    workers.push(child);
    return child;
  };

  beforeAll(async () => {
    broker = await startTestBroker({ parts: { api: true, timers: true }, env: { BROKER_CONFIG: sitesFile } });
  });
  afterAll(async () => {
    for (const child of workers) if (child.exitCode === null) child.kill('SIGKILL');
    await broker.close();
  });

  async function waitFor(check: () => Promise<boolean>, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (await check()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('timed out');
  }
  const phaseOf = async (uuid: string): Promise<string> => (await broker.http.get(`/sessions/${uuid}`)).body.phase as string;

  async function acceptedSession(shell: string, startInSeconds: number): Promise<string> {
    const start = new Date(Date.now() + startInSeconds * 1000).toISOString();
    const body = {
      executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/bin/sh', command: ['-c', shell] },
      compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 2, max: 2 } },
      schedule: { requested: { start: `${start}/PT1M`, duration: 'PT5M' } },
    };
    const set = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body))).body as Doc;
    expect(set.result).toBe('YES');
    const uuid = set.offers[0].meta.uuid as string;
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json')
      .send(JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value: 'ACCEPTED' })).expect(200);
    return uuid;
  }

  it('carries RUNNING and WAITING sessions to COMPLETED after a SIGKILL and a restart, releasing their capacity', async () => {
    const first = startWorker();
    await waitFor(async () => (await broker.http.get('/availability')).text.includes('<available>true</available>'), 15_000);
    const running = await acceptedSession('echo started; sleep 3; echo finished', 0);
    const waiting = await acceptedSession('echo later', 4);
    await waitFor(async () => (await phaseOf(running)) === 'RUNNING', 15_000);
    expect(await phaseOf(waiting)).toBe('WAITING');

    first.kill('SIGKILL');
    await new Promise((done) => first.once('exit', done));
    startWorker();

    await waitFor(async () => ['COMPLETED', 'FAILED'].includes(await phaseOf(running)) && ['COMPLETED', 'FAILED'].includes(await phaseOf(waiting)), 40_000);
    expect(await phaseOf(running)).toBe('COMPLETED');
    expect(await phaseOf(waiting)).toBe('COMPLETED');
    expect((await broker.http.get(`/sessions/${running}/logs`)).text).toBe('started\nfinished\n');
    expect((await broker.http.get(`/sessions/${waiting}/logs`)).text).toBe('later\n');
    expect(await broker.heldNow()).toBe(0);
  }, 90_000);
});
