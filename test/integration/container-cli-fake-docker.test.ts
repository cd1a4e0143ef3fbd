import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunHandle, RunSpec, RunStatus } from '../../src/broker/executor.js';
import { ContainerCliExecutor, containerRunArguments } from '../../src/sites/container-cli-executor.js';

/**
 * The machine has a docker client but no engine: a fake container CLI stands in for `docker`. It
 * records every call and answers `run`, `inspect`, `stop` and `rm` the way docker does (or, in
 * `hang` mode, never gets past `run`, like a pull that hangs). Its container finished when `run`
 * wrote its state: as with docker, the executor then waits (a while) for the client to hand over
 * the last of the output, which a finish time long past would tell it not to. The executor's real podman tests
 * are in container-cli-executor.test.ts; these check what a docker site asks of docker.
 */
function fakeDocker(dir: string, mode: 'exit' | 'hang'): { program: string; calls: () => string[][] } {
  const log = join(dir, 'calls');
  const state = join(dir, 'state');
  const program = join(dir, 'docker');
  writeFileSync(program, `#!/bin/sh
# One write per call: a poll's inspect runs beside the run, and line by line their records could interleave.
call=$(for arg in "$@"; do printf '%s\\n' "$arg"; done; echo '--')
printf '%s\\n' "$call" >> '${log}'
case "$1" in
  run) ${mode === 'hang' ? 'exec sleep 67' : `echo "hello from the fake"; echo 3 > '${state}'; exit 3`} ;;
  inspect) [ -f '${state}' ] || { echo "Error: No such container: $4" >&2; exit 1; }
    printf '{"Status":"exited","Running":false,"ExitCode":%s,"OOMKilled":false,"FinishedAt":"%s"}\\n' "$(cat '${state}')" "$(date -u -r '${state}' +%Y-%m-%dT%H:%M:%S.%3NZ)" ;;
  rm) rm -f '${state}' ;;
esac
`);
  chmodSync(program, 0o755);
  const calls = (): string[][] => (existsSync(log) ? readFileSync(log, 'utf8') : '').split('--\n').filter(Boolean).map((call) => call.trimEnd().split('\n'));
  return { program, calls };
}

describe('the container executor on a docker site, through a fake container CLI', () => {
  const spec = (sessionUuid: string, extra: Partial<RunSpec> = {}): RunSpec => ({
    sessionUuid, image: 'docker.io/library/busybox:1.36', entrypoint: '/bin/sh', command: ['-c', 'echo hi'], environment: { A: 'b' },
    timeLimitMs: 60_000, cores: 1, memoryMiB: 1024, ports: [{ internal: 8080, protocol: 'HTTP' }], ...extra,
  });

  async function until(executor: ContainerCliExecutor, handle: RunHandle, done: (status: RunStatus) => boolean, ms = 15_000): Promise<RunStatus> {
    const end = Date.now() + ms;
    let status = await executor.poll(handle);
    while (!done(status) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
      status = await executor.poll(handle);
    }
    return status;
  }

  it('runs `docker run` with the arguments built for the spec, inspects it, and removes the container once it has ended (fake container CLI)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eb-fake-docker-'));
    const docker = fakeDocker(dir, 'exit');
    const executor = new ContainerCliExecutor({ runtime: 'docker', program: docker.program, scratchRoot: join(dir, 'scratch'), site: 'demo' });
    const run = spec('s1');
    const handle = await executor.submit(run);
    expect(handle).toEqual({ executor: 'docker', dir: join(dir, 'scratch', 's1'), id: 'eb-s1', ports: [{ internal: 8080, external: expect.any(Number), protocol: 'HTTP', host: '127.0.0.1' }] });
    expect(await until(executor, handle, (s) => s.state !== 'running')).toEqual({ state: 'exited', exitCode: 3, timedOut: false });
    expect((await executor.logs(handle)).text).toBe('hello from the fake\n');
    const calls = docker.calls();
    // The client starts detached (under `timeout`), so a first poll's inspect may be recorded before its run.
    const runCall = calls.find((call) => call[0] === 'run');
    expect(runCall).toEqual(containerRunArguments(run, { name: 'eb-s1', dir: handle.dir, site: 'demo', ports: handle.ports!, bind: '127.0.0.1', hostCpus: availableParallelism() }));
    expect(runCall).toContain(`--publish=127.0.0.1:${handle.ports![0]!.external}:8080/tcp`);
    expect(calls.slice(0, -1).filter((call) => call !== runCall).every((call) => call.join(' ') === 'inspect --type=container --format={{json .State}} eb-s1')).toBe(true);
    expect(calls.at(-1)).toEqual(['rm', '--force', 'eb-s1']);
    // Later polls read the recorded outcome; docker is not asked again.
    expect(await executor.poll(handle)).toEqual({ state: 'exited', exitCode: 3, timedOut: false });
    expect(docker.calls()).toHaveLength(calls.length);
  });

  it('gives a GPU run the devices claimed for it, and refuses one for a model it names no devices of (fake container CLI)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eb-fake-docker-'));
    const docker = fakeDocker(dir, 'exit');
    const executor = new ContainerCliExecutor({ runtime: 'docker', program: docker.program, scratchRoot: join(dir, 'scratch'), site: 'demo', gpuDevices: { T4: ['0', '1'] } });
    expect(executor.givesGpus('T4')).toBe(true);
    expect(executor.givesGpus('A100')).toBe(false);
    const handle = await executor.submit(spec('g1', { gpus: { count: 1, model: 'T4' } }));
    expect(await until(executor, handle, (s) => s.state !== 'running')).toEqual({ state: 'exited', exitCode: 3, timedOut: false });
    expect(docker.calls().find((call) => call[0] === 'run')).toContain('--gpus="device=0"');
    expect(executor.unsupported(spec('g2', { gpus: { count: 1, model: 'A100' } }))).toBe('the site names no A100 devices its containers can be given (executor.gpuDevices in the sites file)');
    await expect(executor.submit(spec('g2', { gpus: { count: 1, model: 'A100' } }))).rejects.toThrow(/names no A100 devices/);
  });

  it('gives up on a container that has not started when the offered duration ends, and ends its client (fake container CLI)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eb-fake-docker-'));
    const docker = fakeDocker(dir, 'hang');
    const executor = new ContainerCliExecutor({ runtime: 'docker', program: docker.program, scratchRoot: join(dir, 'scratch'), site: 'demo' });
    const handle = await executor.submit(spec('s2', { timeLimitMs: 500 }));
    const status = await until(executor, handle, (s) => s.state !== 'running');
    expect(status).toEqual({ state: 'lost', reason: 'the container eb-s2 had not started when the offered duration ended' });
    expect(docker.calls().map((call) => call.slice(0, 2).join(' '))).toEqual(expect.arrayContaining(['stop -t', 'rm --force']));
    expect(() => process.kill(-Number(readFileSync(join(handle.dir, 'pid'), 'utf8')), 0)).toThrow();
    expect(execFileSync('ps', ['-eo', 'args']).toString()).not.toMatch(/^sleep 67$/m);
  });
});
