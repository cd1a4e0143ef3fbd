import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunHandle, RunSpec, RunStatus } from '../../src/broker/executor.js';
import { ContainerCliExecutor } from '../../src/sites/container-cli-executor.js';
import { containersOf, podman, podmanForTests, removeContainers, TEST_IMAGE } from '../support/podman.js';

const ready = await podmanForTests('the podman container executor tests');

/** Real containers through the podman client: the executor of a `containerRuntime: podman` site. */
(ready ? describe : describe.skip)('the container executor, on podman', () => {
  const root = mkdtempSync(join(tmpdir(), 'eb-podman-'));
  const executor = new ContainerCliExecutor({ runtime: 'podman', scratchRoot: root, site: 'test' });
  const sessions: string[] = [];
  afterAll(async () => { await removeContainers(sessions); });

  const spec = (script: string, extra: Partial<RunSpec> = {}): RunSpec => {
    const sessionUuid = `t${Date.now().toString(36)}-${sessions.length}`;
    sessions.push(sessionUuid);
    return { sessionUuid, image: TEST_IMAGE, entrypoint: '/bin/sh', command: ['-c', script], environment: {}, timeLimitMs: 60_000, ...extra };
  };

  async function until(handle: RunHandle, done: (status: RunStatus) => boolean, ms = 30_000, by = executor): Promise<RunStatus> {
    const end = Date.now() + ms;
    let status = await by.poll(handle);
    while (!done(status) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      status = await by.poll(handle);
    }
    return status;
  }

  async function waitFor(check: () => Promise<boolean>, ms = 30_000): Promise<void> {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('runs the image with the request\'s environment, working directory and read-only mounts, and removes the container once it ended', async () => {
    const input = join(mkdtempSync(join(tmpdir(), 'eb-input-')), 'data.txt');
    writeFileSync(input, 'data\n');
    const run = spec('echo "hello $NAME from $(pwd)"; cat /input/data.txt; (echo x > /input/data.txt) 2>/dev/null || echo read-only; echo out > "$EB_OUTPUTS/result.txt"',
      { environment: { NAME: 'world' }, workingDirectory: 'sub', mounts: [{ path: '/input/data.txt', source: input }] });
    const handle = await executor.submit(run);
    expect(handle).toEqual({ executor: 'podman', dir: join(root, run.sessionUuid), id: `eb-${run.sessionUuid}` });
    expect(await until(handle, (s) => s.state !== 'running')).toEqual({ state: 'exited', exitCode: 0, timedOut: false });
    expect((await executor.logs(handle)).text).toBe('hello world from /work/sub\ndata\nread-only\n');
    expect(readFileSync(join(executor.outputs(handle), 'result.txt'), 'utf8')).toBe('out\n');
    expect(readFileSync(input, 'utf8')).toBe('data\n');
    expect(await containersOf([run.sessionUuid])).toEqual([]);
  });

  it('reports a failing exit status, with what the container wrote to stderr', async () => {
    const handle = await executor.submit(spec('echo failing >&2; exit 3'));
    expect(await until(handle, (s) => s.state !== 'running')).toEqual({ state: 'exited', exitCode: 3, timedOut: false });
    expect((await executor.logs(handle)).text).toBe('failing\n');
  });

  it('stops the container once the time limit has passed, and says so', async () => {
    const handle = await executor.submit(spec('trap "echo stopped; exit 0" TERM; echo started; sleep 30 & wait', { timeLimitMs: 1000 }));
    const status = await until(handle, (s) => s.state !== 'running');
    expect(status).toEqual({ state: 'exited', exitCode: 0, timedOut: true });
    expect((await executor.logs(handle)).text).toBe('started\nstopped\n');
  });

  it('kills a container that ignores TERM at its time limit, and says the limit ended it', async () => {
    const handle = await executor.submit(spec('trap "" TERM; echo started; sleep 60', { timeLimitMs: 1000 }));
    expect(await until(handle, (s) => s.state !== 'running', 40_000)).toEqual({ state: 'exited', exitCode: 137, timedOut: true });
    expect((await executor.logs(handle)).text).toBe('started\n');
  }, 60_000);

  it('keeps the time limit while nobody polls (a worker that is down)', async () => {
    const run = spec('trap "echo stopped; exit 0" TERM; echo started; sleep 30 & wait', { timeLimitMs: 1000 });
    const handle = await executor.submit(run);
    // No poll: `timeout` around the client ends the container at the limit.
    await waitFor(async () => {
      const state = await podman(['inspect', '--type=container', '--format={{.State.Status}}', handle.id]);
      return state.code === 0 && state.out.trim() === 'exited';
    }, 15_000);
    expect(await executor.poll(handle)).toEqual({ state: 'exited', exitCode: 0, timedOut: true });
    expect((await executor.logs(handle)).text).toBe('started\nstopped\n');
  });

  it('holds the container to the offered cores and memory (its cgroup limits, v1 or v2)', async () => {
    const handle = await executor.submit(spec('cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; '
      + 'cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us', { cores: 1, memoryMiB: 32 }));
    expect(await until(handle, (s) => s.state !== 'running')).toEqual({ state: 'exited', exitCode: 0, timedOut: false });
    expect((await executor.logs(handle)).text).toMatch(/^33554432\n100000( 100000)?\n$/);
  });

  it('never passes the worker its own environment into the container', async () => {
    process.env.EB_TEST_SECRET = 'do-not-leak';
    try {
      const handle = await executor.submit(spec('echo "[$EB_TEST_SECRET][$REDIS_URL][$EB_OUTPUTS]"'));
      await until(handle, (s) => s.state !== 'running');
      expect((await executor.logs(handle)).text).toBe('[][][/outputs]\n');
    } finally {
      delete process.env.EB_TEST_SECRET;
    }
  });

  it('cancels a running container: podman lists it no more', async () => {
    const run = spec('echo waiting; sleep 60');
    const handle = await executor.submit(run);
    await waitFor(async () => (await executor.logs(handle)).text === 'waiting\n');
    expect((await executor.poll(handle)).state).toBe('running');
    await executor.cancel(handle);
    expect(await containersOf([run.sessionUuid])).toEqual([]);
    expect(await executor.poll(handle)).toEqual({ state: 'cancelled' });
    expect(() => process.kill(-Number(readFileSync(join(handle.dir, 'pid'), 'utf8')), 0)).toThrow(); // the client is gone too
  });

  it('is polled by a new executor after a restart, from the handle alone, and a repeated submit finds the same run', async () => {
    const run = spec('sleep 1; echo done; exit 7');
    const handle = await executor.submit(run);
    const afterRestart = new ContainerCliExecutor({ runtime: 'podman', scratchRoot: root, site: 'test' });
    expect(await afterRestart.submit(run)).toEqual(handle);
    expect(await until(handle, (s) => s.state !== 'running', 30_000, afterRestart)).toEqual({ state: 'exited', exitCode: 7, timedOut: false });
    expect((await afterRestart.logs(handle)).text).toBe('done\n');
  });

  it('says why when the container cannot be run at all', async () => {
    const handle = await executor.submit(spec('true', { image: 'localhost/eb-no-such-image:1' }));
    const status = await until(handle, (s) => s.state !== 'running');
    expect(status.state).toBe('lost');
    expect((status as { reason: string }).reason).toMatch(/^podman could not run the container \(status 125\): .+/);
  });
});
