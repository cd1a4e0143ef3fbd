import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunHandle, RunSpec, RunStatus } from '../../src/broker/executor.js';
import { ApptainerExecutor } from '../../src/sites/apptainer-executor.js';

const FAKE = fileURLToPath(new URL('../support/fake-apptainer.mjs', import.meta.url));

/**
 * Apptainer is not packaged for this machine's Debian: the executor runs a fake container CLI
 * (test/support/fake-apptainer.mjs) that records what it was asked and runs the entrypoint as a
 * plain process. The arguments are asserted exactly; the processes around them are real.
 */
describe('the apptainer executor, through a fake container CLI', () => {
  const root = mkdtempSync(join(tmpdir(), 'eb-apptainer-'));
  const executor = new ApptainerExecutor({ program: FAKE, scratchRoot: root, publicHost: 'node1.example' });
  const handles: RunHandle[] = [];
  afterAll(async () => { for (const handle of handles) await executor.cancel(handle).catch(() => undefined); });

  let counter = 0;
  const spec = (script: string, extra: Partial<RunSpec> = {}): RunSpec =>
    ({ sessionUuid: `session-${++counter}`, image: 'example.org/tool:1', entrypoint: '/bin/sh', command: ['-c', script], environment: {}, timeLimitMs: 30_000, ...extra });
  const submit = async (run: RunSpec): Promise<RunHandle> => { const handle = await executor.submit(run); handles.push(handle); return handle; };
  const recorded = (handle: RunHandle, sub = ''): { args: string[]; env: Record<string, string>; cwd: string } =>
    JSON.parse(readFileSync(join(handle.dir, 'work', sub, 'fake-apptainer.json'), 'utf8'));

  async function until(handle: RunHandle, done: (status: RunStatus) => boolean, ms = 15_000): Promise<RunStatus> {
    const end = Date.now() + ms;
    let status = await executor.poll(handle);
    while (!done(status) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
      status = await executor.poll(handle);
    }
    return status;
  }

  it('runs `apptainer exec docker://<image>` with the request\'s environment only, never the worker\'s (fake container CLI)', async () => {
    process.env.EB_TEST_SECRET = 'do-not-leak';
    try {
      const handle = await submit(spec('echo "hello $NAME [$EB_TEST_SECRET] $EB_OUTPUTS"', { environment: { NAME: 'a, b' }, workingDirectory: 'sub', mounts: [{ path: '/in', source: '/staged/in' }] }));
      expect(handle.executor).toBe('apptainer');
      expect(await until(handle, (s) => s.state !== 'running')).toEqual({ state: 'exited', exitCode: 0, timedOut: false, cpuSeconds: expect.any(Number) });
      expect((await executor.logs(handle)).text).toBe('hello a, b [] /outputs\n');
      expect(recorded(handle, 'sub')).toEqual({
        args: ['exec', '--cleanenv', '--containall', '--no-home', `--bind=${handle.dir}/outputs:/outputs`, '--bind=/staged/in:/in:ro',
          `--bind=${handle.dir}/work:/work`, '--pwd=/work/sub', 'docker://example.org/tool:1', '/bin/sh', '-c', 'echo "hello $NAME [$EB_TEST_SECRET] $EB_OUTPUTS"'],
        env: { NAME: 'a, b', EB_OUTPUTS: '/outputs' },
        cwd: join(handle.dir, 'work', 'sub'),
      });
    } finally {
      delete process.env.EB_TEST_SECRET;
    }
  });

  it('gives each exposed port a host port, as EB_PORT_<n> and PORT, apptainer sharing the host\'s network (fake container CLI)', async () => {
    const handle = await submit(spec('echo "$PORT $EB_PORT_8888"', { ports: [{ internal: 8888, protocol: 'HTTP' }] }));
    await until(handle, (s) => s.state !== 'running');
    const [published] = handle.ports ?? [];
    expect(published).toEqual({ internal: 8888, external: expect.any(Number), protocol: 'HTTP', host: 'node1.example' });
    expect((await executor.logs(handle)).text).toBe(`${published!.external} ${published!.external}\n`);
  });

  it('reports a failing exit status and enforces the time limit (fake container CLI)', async () => {
    const failing = await submit(spec('echo no >&2; exit 4'));
    expect(await until(failing, (s) => s.state !== 'running')).toEqual({ state: 'exited', exitCode: 4, timedOut: false, cpuSeconds: expect.any(Number) });
    const slow = await submit(spec('sleep 30', { timeLimitMs: 1000 }));
    expect(await until(slow, (s) => s.state !== 'running')).toEqual({ state: 'exited', exitCode: 124, timedOut: true, cpuSeconds: expect.any(Number) });
  });

  it('cancels the CLI and everything under it (fake container CLI)', async () => {
    const handle = await submit(spec('sleep 64'));
    const end = Date.now() + 10_000;
    while (!/^sleep 64$/m.test(execFileSync('ps', ['-eo', 'args']).toString()) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(execFileSync('ps', ['-eo', 'args']).toString()).toMatch(/^sleep 64$/m);
    await executor.cancel(handle);
    expect(execFileSync('ps', ['-eo', 'args']).toString()).not.toMatch(/^sleep 64$/m);
    expect(await executor.poll(handle)).toEqual({ state: 'cancelled' });
    expect(existsSync(join(handle.dir, 'exit-code'))).toBe(false);
  });

  it('refuses what a container cannot take, before running anything', async () => {
    expect(executor.unsupported(spec('true', { image: '-v' }))).toBe('image "-v" is not an image reference');
    await expect(executor.submit(spec('true', { privileged: true }))).rejects.toThrow('the site does not run privileged containers');
  });
});
