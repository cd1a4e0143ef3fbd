import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunHandle, RunStatus } from '../../src/broker/executor.js';
import { LocalProcessExecutor } from '../../src/sites/local-process-executor.js';

/** Real processes on this host: the executor a `containerRuntime: none` site uses. */
describe('the local process executor', () => {
  const root = mkdtempSync(join(tmpdir(), 'eb-executor-'));
  const executor = new LocalProcessExecutor(root);
  let counter = 0;
  // Whatever a failing test leaves running is stopped here, so that no process outlives the run.
  afterAll(async () => {
    for (let i = 1; i <= counter; i++) {
      const dir = join(root, `session-${i}`);
      if (!existsSync(join(dir, 'pid'))) continue;
      await executor.cancel({ executor: 'local-process', dir, id: readFileSync(join(dir, 'pid'), 'utf8') }).catch(() => undefined);
    }
  });
  const spec = (script: string, extra: Partial<Parameters<LocalProcessExecutor['submit']>[0]> = {}) => ({
    sessionUuid: `session-${++counter}`, entrypoint: '/bin/sh', command: ['-c', script], environment: {}, timeLimitMs: 30_000, ...extra,
  });

  async function until(handle: RunHandle, done: (status: RunStatus) => boolean, ms = 10_000): Promise<RunStatus> {
    const end = Date.now() + ms;
    let status = await executor.poll(handle);
    while (!done(status) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 25));
      status = await executor.poll(handle);
    }
    return status;
  }

  it('runs the command with its environment and working directory, and reads its log', async () => {
    const handle = await executor.submit(spec('echo "hello $NAME from $(pwd)"; echo out > "$EB_OUTPUTS/result.txt"', { environment: { NAME: 'world' }, workingDirectory: 'sub' }));
    expect(await until(handle, (s) => s.state !== 'running')).toEqual({ state: 'exited', exitCode: 0, timedOut: false, cpuSeconds: expect.any(Number) });
    expect((await executor.logs(handle)).text).toBe(`hello world from ${join(handle.dir, 'work', 'sub')}\n`);
    expect(readFileSync(join(executor.outputs(handle), 'result.txt'), 'utf8')).toBe('out\n');
  });

  it('reports a failing exit status', async () => {
    const handle = await executor.submit(spec('echo failing >&2; exit 3'));
    expect(await until(handle, (s) => s.state !== 'running')).toEqual({ state: 'exited', exitCode: 3, timedOut: false, cpuSeconds: expect.any(Number) });
    // Killed before its limit: 137 like a time-out's KILL, but no time-out (the out-of-memory killer ends a program so).
    const killed = await executor.submit(spec('kill -KILL $$'));
    expect(await until(killed, (s) => s.state !== 'running')).toEqual({ state: 'exited', exitCode: 137, timedOut: false, cpuSeconds: expect.any(Number) });
    expect((await executor.logs(handle)).text).toBe('failing\n');
  });

  it('enforces the time limit', async () => {
    const handle = await executor.submit(spec('sleep 30', { timeLimitMs: 1000 }));
    expect(await until(handle, (s) => s.state !== 'running', 15_000)).toEqual({ state: 'exited', exitCode: 124, timedOut: true, cpuSeconds: expect.any(Number) });
  });

  it('never passes the worker its own environment', async () => {
    process.env.EB_TEST_SECRET = 'do-not-leak';
    try {
      const handle = await executor.submit(spec('echo "[$EB_TEST_SECRET][$REDIS_URL]"'));
      await until(handle, (s) => s.state !== 'running');
      expect((await executor.logs(handle)).text).toBe('[][]\n');
    } finally {
      delete process.env.EB_TEST_SECRET;
    }
  });

  /** This run's processes (other test runs may share the machine): those that carry its exit-code path. */
  const processesOf = (handle: RunHandle): string[] => execFileSync('ps', ['-eo', 'pid=']).toString().split('\n').map(Number).filter((pid) => {
    try { return readFileSync(`/proc/${pid}/environ`, 'utf8').includes(`EB_EXIT=${join(handle.dir, 'exit-code')}`); } catch { return false; }
  }).map((pid) => { try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim(); } catch { return ''; } });

  it('cancels a run and everything it started, verified in the process table', async () => {
    const handle = await executor.submit(spec('sleep 61 & sleep 62; wait'));
    await until(handle, () => processesOf(handle).filter((args) => /^sleep 6[12]$/.test(args)).length === 2);
    const group = Number(readFileSync(join(handle.dir, 'group'), 'utf8'));
    expect((await executor.poll(handle)).state).toBe('running');
    // `timeout` makes its process group a moment after the wrapper records its pid.
    const groupExists = (): boolean => { try { process.kill(-group, 0); return true; } catch { return false; } };
    for (let i = 0; i < 40 && !groupExists(); i++) await new Promise((r) => setTimeout(r, 25));
    expect(groupExists()).toBe(true);
    await executor.cancel(handle);
    for (const pid of [Number(handle.id), group]) expect(() => process.kill(-pid, 0)).toThrow();
    expect(processesOf(handle)).toEqual([]);
    expect(await executor.poll(handle)).toEqual({ state: 'cancelled' });
  });

  it('is polled by a new executor after a restart, from the handle alone', async () => {
    const handle = await executor.submit(spec('sleep 0.3; exit 7'));
    const afterRestart = new LocalProcessExecutor(root);
    expect((await afterRestart.poll(handle)).state).toBe('running');
    expect(await (async () => {
      const end = Date.now() + 10_000;
      let status = await afterRestart.poll(handle);
      while (status.state === 'running' && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 25));
        status = await afterRestart.poll(handle);
      }
      return status;
    })()).toEqual({ state: 'exited', exitCode: 7, timedOut: false, cpuSeconds: expect.any(Number) });
  });

  it('says a run was lost when it vanished without an exit code', async () => {
    const handle = await executor.submit(spec('sleep 63'));
    // Kill everything from outside, as a host restart would: the command's group (once `timeout`
    // has made it) and the wrapper.
    const group = Number(readFileSync(join(handle.dir, 'group'), 'utf8'));
    await until(handle, () => { try { process.kill(-group, 0); return true; } catch { return false; } });
    process.kill(-Number(handle.id), 'SIGKILL');
    process.kill(-group, 'SIGKILL');
    const status = await until(handle, (s) => s.state !== 'running');
    expect(status.state).toBe('lost');
    expect(existsSync(join(handle.dir, 'exit-code'))).toBe(false);
  });

  it('gives each run GPU devices of its own, and a device again once the run that had it is over', async () => {
    const gpuRoot = mkdtempSync(join(tmpdir(), 'eb-gpus-'));
    const gpuExecutor = new LocalProcessExecutor(gpuRoot, {}, { gpuDevices: { T4: ['0', '1', '2'] } });
    const run = (name: string, script: string, count: number) => gpuExecutor.submit({
      sessionUuid: name, entrypoint: '/bin/sh', command: ['-c', `echo "$CUDA_VISIBLE_DEVICES"; ${script}`], environment: { CUDA_VISIBLE_DEVICES: 'all' },
      timeLimitMs: 30_000, gpus: { count, model: 'T4' },
    });
    const seen = async (handle: RunHandle): Promise<string> => {
      for (let i = 0; i < 200 && !(await gpuExecutor.logs(handle)).text.includes('\n'); i++) await new Promise((r) => setTimeout(r, 10));
      return (await gpuExecutor.logs(handle)).text.trim();
    };
    const [a, b] = await Promise.all([run('gpu-a', 'sleep 30', 2), run('gpu-b', 'sleep 30', 1)]);
    const devices = [...(await seen(a)).split(','), await seen(b)];
    expect(devices.sort()).toEqual(['0', '1', '2']); // no device twice, and the request's own value overridden
    await expect(run('gpu-c', 'true', 1)).rejects.toThrow('only 0 of the 1 T4 GPUs asked for are free on this host (devices 0, 1, 2)');
    await gpuExecutor.cancel(a);
    const c = await run('gpu-c', 'true', 2);
    expect((await seen(c)).split(',').sort()).toEqual((await seen(a)).split(',').sort());
    await gpuExecutor.cancel(b);
  });

  it('refuses a working directory outside the session', async () => {
    await expect(executor.submit(spec('true', { workingDirectory: '../../etc' }))).rejects.toThrow(/inside the session/);
    await expect(executor.submit(spec('true', { workingDirectory: '/etc' }))).rejects.toThrow(/inside the session/);
  });
});
