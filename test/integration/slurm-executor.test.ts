import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunHandle, RunSpec, RunStatus } from '../../src/broker/executor.js';
import { runLogBytesOnDisk } from '../../src/sites/log-file.js';
import { SlurmExecutor } from '../../src/sites/slurm-executor.js';
import { describeWithSlurm, slurm } from '../support/describe-with-slurm.js';

/** The executor against the private Slurm of the test run: real sbatch, squeue, scancel, slurmd. */
describeWithSlurm('the Slurm executor', (cluster) => {
  const handles: RunHandle[] = [];
  let root = '';
  let executor: SlurmExecutor;
  let counter = 0;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'eb-slurm-executor-'));
    executor = new SlurmExecutor(root, { slurmConf: cluster().conf });
  });
  // Whatever a failing test leaves in the queue is cancelled here, so that no job outlives the run.
  afterAll(async () => {
    for (const handle of handles) await executor.cancel(handle).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });

  const spec = (script: string, extra: Partial<RunSpec> = {}): RunSpec => ({
    sessionUuid: `session-${process.pid}-${++counter}`, entrypoint: '/bin/sh', command: ['-c', script], environment: {},
    timeLimitMs: 60_000, cores: 1, memoryMiB: 100, ...extra,
  });
  const submit = async (s: RunSpec): Promise<RunHandle> => {
    const handle = await executor.submit(s);
    handles.push(handle);
    return handle;
  };
  const squeue = (id: string, ...args: string[]) => slurm(cluster(), 'squeue', '--noheader', `--jobs=${id}`, ...args)?.trim();

  async function until(handle: RunHandle, done: (status: RunStatus) => boolean, ms = 30_000, on = executor): Promise<RunStatus> {
    const end = Date.now() + ms;
    let status = await on.poll(handle);
    while (!done(status) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      status = await on.poll(handle);
    }
    return status;
  }
  const ended = (s: RunStatus) => s.state !== 'running';

  it('runs a job with the offered resources, the request\'s environment and working directory, and reads its log and outputs', async () => {
    const value = 'a,b "c" $d\n\'e\'';
    // Arguments that sbatch must hand to the program as they are, not read as its own options.
    const script = 'printf "%s|" "$VALUE" "$(pwd)" "$1" "$SLURM_CPUS_PER_TASK" "$EB_SESSION"; echo out > "$EB_OUTPUTS/result.txt"';
    const handle = await submit(spec(script, { environment: { VALUE: value }, workingDirectory: 'sub', command: ['-c', script, 'arg0', '--time=1 $(x)'], cores: 2 }));
    const job = slurm(cluster(), 'scontrol', 'show', 'job', handle.id) ?? '';
    expect(job).toMatch(new RegExp(`JobName=eb-session-${process.pid}-\\d+`));
    expect(job).toMatch(/NumCPUs=2 /);
    expect(job).toMatch(/TimeLimit=00:02:00/);
    expect(job).toMatch(/mem=100M/);
    expect(job).toMatch(/Requeue=0 /);
    expect(await until(handle, ended)).toEqual({ state: 'exited', exitCode: 0, timedOut: false });
    const sessionUuid = handle.dir.split('/').at(-1);
    expect((await executor.logs(handle)).text).toBe(`${value}|${join(handle.dir, 'work', 'sub')}|--time=1 $(x)|2|${sessionUuid}|`);
    expect(readFileSync(join(executor.outputs(handle), 'result.txt'), 'utf8')).toBe('out\n');
  });

  it('reports a failing exit status', async () => {
    const handle = await submit(spec('echo failing >&2; exit 3'));
    expect(await until(handle, ended)).toEqual({ state: 'exited', exitCode: 3, timedOut: false });
    // Killed before its limit: 137 like a time-out's KILL, but no time-out (the out-of-memory killer ends a program so).
    const killed = await submit(spec('kill -KILL $$'));
    expect(await until(killed, ended)).toEqual({ state: 'exited', exitCode: 137, timedOut: false });
    expect(squeue(handle.id, '--states=all', '--format=%T')).toBe('FAILED');
    expect((await executor.logs(handle)).text).toBe('failing\n');
  });

  it('keeps the end of a long log, no more than its logBytes on the shared disk', async () => {
    const small = new SlurmExecutor(root, { slurmConf: cluster().conf }, { logBytes: 64 * 1024 });
    const handle = await small.submit(spec('seq 1 300000; echo THE-END'));
    handles.push(handle);
    expect(await until(handle, ended, 60_000, small)).toEqual({ state: 'exited', exitCode: 0, timedOut: false });
    const read = await small.logs(handle, 0, 1000);
    expect(read.text.endsWith('299999\n300000\nTHE-END\n')).toBe(true);
    // seq 1 300000 writes 1,988,895 bytes, THE-END 8 more: all read or left out.
    expect(read.skipped + Buffer.byteLength(read.text)).toBe(1_988_903);
    expect(read.next).toBe(1_988_903);
    expect(await runLogBytesOnDisk(handle.dir)).toBeLessThanOrEqual(64 * 1024);
  });

  it('ends the program at the offered time limit', async () => {
    const handle = await submit(spec('echo started; sleep 30', { timeLimitMs: 1000 }));
    expect(await until(handle, ended)).toEqual({ state: 'exited', exitCode: 124, timedOut: true });
    expect((await executor.logs(handle)).text).toBe('started\n');
  });

  it('never passes the worker its own environment', async () => {
    process.env.EB_TEST_SECRET = 'do-not-leak';
    try {
      const handle = await submit(spec('echo "[$EB_TEST_SECRET][$REDIS_URL]"'));
      await until(handle, ended);
      expect((await executor.logs(handle)).text).toBe('[][]\n');
    } finally {
      delete process.env.EB_TEST_SECRET;
    }
  });

  it('cancels a running job: squeue no longer lists it and its processes are gone', async () => {
    const handle = await submit(spec('echo waiting; sleep 171 & sleep 172; wait'));
    await until(handle, () => squeue(handle.id, '--format=%T') === 'RUNNING');
    // Wait for the second sleep: the first starts a moment earlier, and the check below needs both.
    for (let i = 0; i < 200 && !/^sleep 172$/m.test(execFileSync('ps', ['-eo', 'args']).toString()); i++) await new Promise((r) => setTimeout(r, 100));
    expect(execFileSync('ps', ['-eo', 'args']).toString()).toMatch(/^sleep 172$/m);
    await executor.cancel(handle);
    expect(squeue(handle.id)).toBe('');
    expect(squeue(handle.id, '--states=all', '--format=%T')).toBe('CANCELLED');
    expect(execFileSync('ps', ['-eo', 'args']).toString()).not.toMatch(/^sleep 17[12]$/m);
    expect(await executor.poll(handle)).toEqual({ state: 'cancelled' });
  });

  it('is polled by a new executor after a restart, from the handle alone', async () => {
    const handle = await submit(spec('sleep 1; exit 7'));
    const afterRestart = new SlurmExecutor(root, { slurmConf: cluster().conf });
    expect((await afterRestart.poll(handle)).state).toBe('running');
    expect(await until(handle, ended, 30_000, afterRestart)).toEqual({ state: 'exited', exitCode: 7, timedOut: false });
  });

  it('finds the job it made when a start is retried, instead of submitting another', async () => {
    const twice = spec('sleep 2');
    const first = await submit(twice);
    const second = await submit(twice);
    expect(second.id).toBe(first.id);
    expect(await until(first, ended)).toEqual({ state: 'exited', exitCode: 0, timedOut: false });
  });

  it('reads how a run ended from the job script\'s record once Slurm has forgotten the job', async () => {
    const handle = await submit(spec('exit 5'));
    expect(await until(handle, ended)).toEqual({ state: 'exited', exitCode: 5, timedOut: false });
    // The same directory under an id slurmctld does not know (as after MinJobAge, with no accounting).
    const forgotten = { ...handle, id: '999998' };
    expect(squeue(forgotten.id, '--states=all')).toBeUndefined();
    expect(await executor.poll(forgotten)).toEqual({ state: 'exited', exitCode: 5, timedOut: false });
  });

  it('says a run was lost when its job was cancelled outside the broker', async () => {
    const handle = await submit(spec('sleep 60'));
    await until(handle, () => squeue(handle.id, '--format=%T') === 'RUNNING');
    slurm(cluster(), 'scancel', handle.id);
    const status = await until(handle, ended);
    expect(status).toEqual({ state: 'lost', reason: `Slurm job ${handle.id} was cancelled outside the broker` });
  });

  it('says a run was lost once Slurm has not known its job for longer than the grace', async () => {
    const impatient = new SlurmExecutor(root, { slurmConf: cluster().conf }, { lostAfterMs: 500 });
    const handle = { executor: 'slurm', dir: mkdtempSync(join(root, 'unknown-')), id: '999999' };
    expect(await impatient.poll(handle)).toEqual({ state: 'running' });
    const status = await until(handle, ended, 5000, impatient);
    expect(status.state).toBe('lost');
    expect((status as { reason: string }).reason).toMatch(/^Slurm no longer knows job 999999/);
  });

  it('asks Slurm for the GPUs offered (this cluster has none, so sbatch refuses)', async () => {
    await expect(executor.submit(spec('true', { gpus: { count: 1, model: 'A100' } }))).rejects.toThrow(/^sbatch failed: .*(gres|node configuration)/i);
  });

  it('refuses what it cannot run before submitting', async () => {
    expect(executor.unsupported(spec('true', { entrypoint: undefined, image: 'busybox' }))).toMatch(/names none \(only image busybox\)/);
    await expect(executor.submit(spec('true', { environment: { 'NOT-A-NAME': 'x' } }))).rejects.toThrow(/not a valid name/);
    await expect(executor.submit(spec('true', { workingDirectory: '../../etc' }))).rejects.toThrow(/inside the session/);
  });
});
