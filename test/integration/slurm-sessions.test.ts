import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoSite, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';
import { describeWithSlurm, slurm } from '../support/describe-with-slurm.js';

type Doc = Record<string, any>;
const update = (value: string) => JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value });
const ENDED = ['COMPLETED', 'FAILED', 'CANCELLED'];

/** Sessions on a Slurm site, through the real broker (API, BullMQ site worker, Redis) and the test run's real Slurm. */
describeWithSlurm('sessions on a Slurm site', (cluster) => {
  let broker: TestBroker;
  let scratchDir = '';
  beforeAll(async () => {
    scratchDir = mkdtempSync(join(tmpdir(), 'eb-slurm-scratch-'));
    const site = demoSite({ name: 'hpc', cores: 2, memoryGiB: 4, preparationMs: 0, releasingMs: 0, scratchDir, executor: { type: 'slurm', slurmConf: cluster().conf } });
    broker = await startTestBroker({ config: { sites: [site] } });
  });
  afterAll(async () => {
    await broker.close();
    rmSync(scratchDir, { recursive: true, force: true });
  });

  const squeue = (...args: string[]) => slurm(cluster(), 'squeue', '--noheader', ...args)?.trim();
  const script = (shell: string) => ({
    executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/bin/sh', command: ['-c', shell], environment: { GREETING: 'hi' } },
    compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 }, memory: { min: 1, max: 1 } },
    schedule: { requested: { duration: 'PT10M' } },
  });
  const get = async (uuid: string): Promise<Doc> => (await broker.http.get(`/sessions/${uuid}`)).body as Doc;
  /** The Slurm job id of a running session, from the run handle its site worker stored. */
  const jobOf = async (uuid: string): Promise<string> =>
    (JSON.parse((await broker.redis.hget(`${broker.config.keyPrefix}:session:${uuid}`, 'run')) ?? '{}') as Doc).id as string;

  async function accept(body: Doc): Promise<string> {
    const set = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body))).body as Doc;
    expect(set.result).toBe('YES');
    const uuid = set.offers[0].meta.uuid as string;
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
    return uuid;
  }

  async function until(uuid: string, done: (session: Doc) => boolean, ms = 60_000): Promise<Doc> {
    const end = Date.now() + ms;
    let session = await get(uuid);
    while (!done(session) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      session = await get(uuid);
    }
    return session;
  }

  it('runs a session as a Slurm job from offer to COMPLETED, with its log and outputs read back', async () => {
    const uuid = await accept(script('echo "$GREETING from $EB_SESSION"; echo result > "$EB_OUTPUTS/out.txt"'));
    const session = await until(uuid, (s) => ENDED.includes(s.phase));
    expect(session.phase).toBe('COMPLETED');
    const job = await jobOf(uuid);
    expect(squeue(`--jobs=${job}`, '--states=all', '--format=%T %j %C %m')).toBe(`COMPLETED eb-${uuid} 1 1G`);
    expect((await broker.http.get(`/sessions/${uuid}/logs`)).text).toBe(`hi from ${uuid}\n`);
    const outputs = /outputs are in (\S+) on site hpc/.exec(session.meta.messages.at(-1).message)?.[1] ?? '';
    expect(outputs).toBe(join(scratchDir, uuid, 'outputs'));
    expect(readFileSync(join(outputs, 'out.txt'), 'utf8')).toBe('result\n');
    expect(await broker.heldNow('cores', 'hpc')).toBe(0);
  });

  it('ends FAILED with the exit status in a message when the job fails', async () => {
    const uuid = await accept(script('echo oops >&2; exit 3'));
    const session = await until(uuid, (s) => ENDED.includes(s.phase));
    expect(session.phase).toBe('FAILED');
    expect(session.meta.messages.at(-1)).toMatchObject({ level: 'ERROR', message: 'The executable exited with status 3' });
    expect(squeue(`--jobs=${await jobOf(uuid)}`, '--states=all', '--format=%T')).toBe('FAILED');
    expect((await broker.http.get(`/sessions/${uuid}/logs`)).text).toBe('oops\n');
    expect(await broker.heldNow('cores', 'hpc')).toBe(0);
  });

  it('kills the Slurm job and releases the capacity when a running session is cancelled', async () => {
    const uuid = await accept(script('echo waiting; sleep 120'));
    await until(uuid, (s) => s.phase === 'RUNNING' || ENDED.includes(s.phase));
    const job = await jobOf(uuid);
    for (let i = 0; i < 300 && squeue(`--jobs=${job}`, '--format=%T') !== 'RUNNING'; i++) await new Promise((r) => setTimeout(r, 100));
    expect(squeue(`--jobs=${job}`, '--format=%T')).toBe('RUNNING');
    // Running for Slurm is not yet running the script: wait for its first words, read back while it runs.
    const log = async () => (await broker.http.get(`/sessions/${uuid}/logs`)).text;
    for (let i = 0; i < 300 && (await log()) === ''; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await log()).toBe('waiting\n');
    expect(await broker.heldNow('cores', 'hpc')).toBe(1);
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('CANCELLED')).expect(200);
    // The API cancels at once; the site worker's stop step then scancels the job and waits it out.
    for (let i = 0; i < 300 && squeue(`--jobs=${job}`) !== ''; i++) await new Promise((r) => setTimeout(r, 100));
    expect(squeue(`--jobs=${job}`)).toBe('');
    expect(squeue(`--jobs=${job}`, '--states=all', '--format=%T')).toBe('CANCELLED');
    expect((await get(uuid)).phase).toBe('CANCELLED');
    expect(await broker.heldNow('cores', 'hpc')).toBe(0);
    expect(await log()).toMatch(/^waiting\n/);
  });
});

/** Needs no Slurm: a site configured for Slurm on a host without its clients. */
describe('a Slurm site whose host has no sbatch', () => {
  it('offers nothing, and says what is missing (an offer is a promise it could not keep)', async () => {
    const site = demoSite({ name: 'hpc', preparationMs: 0, releasingMs: 0, executor: { type: 'slurm', commands: { sbatch: '/nonexistent/sbatch' } } });
    const broker = await startTestBroker({ config: { sites: [site] } });
    try {
      const body = { executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/bin/true' }, schedule: { requested: { duration: 'PT1M' } } };
      const set = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body))).body as Doc;
      expect(set.result).toBe('NO');
      expect((set.meta.messages as Doc[]).map((m) => m.message)).toContain("Site hpc cannot run executables of kind [executable/docker-container]: site hpc cannot run sessions: sbatch (/nonexistent/sbatch) is not found on the worker's host: install the Slurm clients there, or set the site's executor.commands.sbatch");
      expect(await broker.heldNow('cores', 'hpc')).toBe(0);
      const listed = (await broker.http.get('/sites').expect(200)).body.sites[0] as Doc;
      expect(listed).toMatchObject({ online: true, executables: [] });
    } finally {
      await broker.close();
    }
  });
});
