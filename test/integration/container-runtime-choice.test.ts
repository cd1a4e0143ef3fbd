import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startBrokerRuntime } from '../../src/main/broker-runtime.js';
import { createLogger } from '../../src/observability/logger.js';
import { findApptainer } from '../../src/sites/detect-abilities.js';
import { detectContainerRuntime, probeContainerRuntime } from '../../src/sites/detect-container-runtime.js';
import { probeSandbox } from '../../src/sites/sandbox.js';
import { loadConfig } from '../../src/config/load-config.js';
import { demoSite, redisUrl, testConfig } from '../support/test-broker.js';

/** Fake container CLIs whose `info` works, fails, or hangs, to see what `auto` makes of each. */
function fakeClis(): Record<'works' | 'fails' | 'hangs' | 'missing', string> {
  const dir = mkdtempSync(join(tmpdir(), 'eb-clis-'));
  const script = (name: string, body: string): string => {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  };
  return {
    works: script('works', '[ "$1" = info ] && exit 0; exit 2'),
    fails: script('fails', 'echo "Cannot connect to the Docker daemon" >&2; exit 1'),
    hangs: script('hangs', 'exec sleep 5'),
    missing: join(dir, 'not-there'),
  };
}

describe('choosing a container runtime', () => {
  const cli = fakeClis();

  it('takes docker when `docker info` works, else podman when `podman info` works, else none (fake container CLIs)', async () => {
    expect(await probeContainerRuntime({ docker: cli.works, podman: cli.works })).toBe('docker');
    expect(await probeContainerRuntime({ docker: cli.fails, podman: cli.works })).toBe('podman');
    expect(await probeContainerRuntime({ docker: cli.missing, podman: cli.works })).toBe('podman');
    expect(await probeContainerRuntime({ docker: cli.fails, podman: cli.missing })).toBe('none');
  });

  it('gives up on a client that does not answer in time (fake container CLI)', async () => {
    const started = Date.now();
    expect(await probeContainerRuntime({ docker: cli.hangs, podman: cli.fails }, 300)).toBe('none');
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('takes EB_CONTAINER_RUNTIME for what auto stands for, instead of probing; a site that names its runtime keeps it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eb-sites-'));
    const file = join(dir, 'sites.yaml');
    writeFileSync(file, 'sites:\n  - { name: a, cores: 1, memoryGiB: 1 }\n  - { name: b, cores: 1, memoryGiB: 1, executor: { type: local, containerRuntime: podman } }\n');
    const runtimes = (env: NodeJS.ProcessEnv) => loadConfig({ REDIS_URL: redisUrl(), ...env }).sites.map((site) => (site.executor.type === 'local' ? site.executor.containerRuntime : 'slurm'));
    expect(runtimes({})).toEqual(['auto']);
    expect(runtimes({ EB_CONTAINER_RUNTIME: 'none' })).toEqual(['none']);
    expect(runtimes({ BROKER_CONFIG: file, EB_CONTAINER_RUNTIME: 'docker' })).toEqual(['docker', 'podman']);
    expect(() => runtimes({ EB_CONTAINER_RUNTIME: 'auto' })).toThrow('EB_CONTAINER_RUNTIME must be one of docker, podman, apptainer, none, not "auto"');
  });

  it('says at start-up how each site runs its sessions', async () => {
    const lines: string[] = [];
    const config = testConfig({
      sites: [
        demoSite({ name: 'plain', executor: { type: 'local', containerRuntime: 'none' }, processRuns: { isolation: 'none', network: 'egress', runUid: 65534, processesPerRun: 256 } }),
        demoSite({ name: 'boxed', executor: { type: 'local', containerRuntime: 'none' }, processRuns: { isolation: 'sandbox', network: 'none', runUid: 65534, processesPerRun: 100 } }),
        demoSite({ name: 'pods', executor: { type: 'local', containerRuntime: 'podman' } }),
        demoSite({ name: 'hpc', executor: { type: 'local', containerRuntime: 'apptainer' } }),
        demoSite({ name: 'found', executor: { type: 'local', containerRuntime: 'auto' } }),
      ],
    });
    const destination = new Writable({ write(chunk, _encoding, done) { lines.push(...String(chunk).trim().split('\n').map((line) => String(JSON.parse(line).msg))); done(); } });
    const runtime = await startBrokerRuntime(config, { siteWorkers: true }, undefined, createLogger('test', { destination }));
    await runtime.close();
    const detected = await detectContainerRuntime();
    const apptainer = await findApptainer();
    const scratch = demoSite().scratchDir;
    const noSandbox = await probeSandbox();
    const noEgressSandbox = await probeSandbox(undefined, 'egress');
    const sandboxed = (name: string, network: string, processes: number, found = '') => (noSandbox
      ? `site ${name}: CANNOT RUN SESSIONS: isolation: sandbox, and ${noSandbox}`
      : `site ${name}: sessions run as processes in a bubblewrap sandbox${found} (network: ${network}, at most ${processes} processes a run), in ${scratch}`);
    // Runs on the host's network (plain processes, apptainer's, whatever the site's network says) reach
    // Redis: said when it takes connections without a password. Sandboxed runs and containers have a
    // network of their own, which does not reach it.
    const redis = new URL(config.redisUrl);
    const openRedis = (name: string): string[] => (redis.password ? [] : [`site ${name}: WARNING: its runs are on the host's network (plain processes, or apptainer's) and Redis at ${redis.host} `
      + 'takes connections without a password: a run can read and change every record of the broker. Give Redis a password (requirepass, in REDIS_URL), or run the site\'s sessions sandboxed or in docker or podman containers']);
    expect(lines.filter((line) => line.startsWith('site '))).toEqual([
      `site plain: WARNING: sessions run as plain processes WITHOUT ISOLATION (development only: a run can read the worker's secrets and every session's files; the site says isolation: none), in ${scratch}`,
      ...openRedis('plain'),
      sandboxed('boxed', 'none', 100),
      `site pods: sessions run in podman containers, in ${scratch}`,
      `site hpc: sessions run in apptainer containers, in ${scratch}`,
      ...(apptainer ? [] : ['site hpc: WARNING: neither apptainer nor singularity answers on this host: the site offers nothing']),
      ...openRedis('hpc'),
      ...(detected === 'none'
        // auto with egress: a network of its own; without slirp4netns, a sandbox with no network; else plain processes.
        ? (!noEgressSandbox ? [sandboxed('found', 'egress', 256, ' (containerRuntime: auto)'), ...(apptainer ? openRedis('found') : [])]
          : !noSandbox ? [`site found: WARNING: its runs get NO NETWORK (network: none, not egress: ${noEgressSandbox})`, sandboxed('found', 'none', 256, ' (containerRuntime: auto)'), ...(apptainer ? openRedis('found') : [])]
            : [`site found: WARNING: sessions run as plain processes WITHOUT ISOLATION (development only: a run can read the worker's secrets and every session's files; ${noSandbox}) (containerRuntime: auto), in ${scratch}`, ...openRedis('found')])
        : [`site found: sessions run in ${detected} containers (containerRuntime: auto), in ${scratch}`]),
    ]);
    // Five sites' start-up asks podman, apptainer, bubblewrap and Jupyter (Python) what they can do:
    // seconds each on a loaded machine.
  }, 90_000);
});
