import type { RunSpec } from '../../src/broker/executor.js';
import { apptainerArguments, apptainerEnvironment, singularityLocationProblem } from '../../src/sites/apptainer-executor.js';
import { cliEnvironment, containerRunArguments } from '../../src/sites/container-cli-executor.js';
import { containerSpecProblem } from '../../src/sites/container-spec-checks.js';
import { bindAddress, portEnvironment } from '../../src/sites/publish-ports.js';

const base: RunSpec = { sessionUuid: 'abc', image: 'example.org/tool:1', command: [], environment: {}, timeLimitMs: 60_000 };
const run = { name: 'eb-abc', dir: '/scratch/abc', site: 'demo', ports: [], bind: '127.0.0.1', hostCpus: 2 };

/** What a container runtime is asked to do, argument by argument. */
describe('container runtime arguments', () => {
  it('runs a singularity-container\'s location as apptainer names it, and refuses a location apptainer would not pull', () => {
    const sif: RunSpec = { ...base, kind: 'executable/singularity-container', image: 'docker://busybox:1.36' };
    expect(apptainerArguments(sif, { dir: '/scratch/abc' })).toEqual(['run', '--cleanenv', '--containall', '--no-home', '--bind=/scratch/abc/outputs:/outputs', 'docker://busybox:1.36']);
    expect(apptainerArguments({ ...sif, image: 'library://alpine:3' }, { dir: '/d' }).at(-1)).toBe('library://alpine:3');
    expect(singularityLocationProblem(sif)).toBeUndefined();
    for (const location of ['/etc/passwd', 'https://example.org/x.sif', '--bind=/:/x']) expect(singularityLocationProblem({ ...sif, image: location })).toMatch(/is not a docker:\/\/, library:\/\/, oras:\/\/ or shub:\/\/ reference/);
    // A docker-container's image still comes from a registry.
    expect(apptainerArguments(base, { dir: '/d' }).at(-1)).toBe('docker://example.org/tool:1');
  });

  it('builds docker and podman `run` arguments, each request value one argument joined to its option', () => {
    const spec: RunSpec = {
      ...base, entrypoint: '/bin/sh', command: ['-c', 'echo "$A" > x; --not-an-option'], environment: { A: 'one, two', B: 'x=y' },
      workingDirectory: 'sub/dir', mounts: [{ path: '/input/cat.csv', source: '/scratch/abc/data/cat' }, { path: 'rel', source: '/scratch/abc/data/r' }],
      ports: [{ internal: 8080, protocol: 'HTTP' }, { internal: 53, protocol: 'UDP' }], cores: 4, memoryMiB: 2048,
    };
    const ports = [{ internal: 8080, external: 40001, protocol: 'HTTP', host: 'h' }, { internal: 53, external: 40002, protocol: 'UDP', host: 'h' }];
    expect(containerRunArguments(spec, { ...run, ports, pidsLimit: 256 })).toEqual([
      'run', '--name=eb-abc', '--label=srcnet.eb.session=abc', '--label=srcnet.eb.site=demo', '--security-opt=no-new-privileges',
      '--cap-drop=ALL', '--pids-limit=256', '--cpus=2', '--memory=2048m',
      '--env=A=one, two', '--env=B=x=y', '--env=EB_OUTPUTS=/outputs', '--volume=/scratch/abc/outputs:/outputs',
      '--volume=/scratch/abc/data/cat:/input/cat.csv:ro', '--volume=/scratch/abc/data/r:/rel:ro',
      '--volume=/scratch/abc/work:/work', '--workdir=/work/sub/dir',
      '--publish=127.0.0.1:40001:8080/tcp', '--publish=127.0.0.1:40002:53/udp',
      '--entrypoint=/bin/sh', 'example.org/tool:1', '-c', 'echo "$A" > x; --not-an-option',
    ]);
  });

  it('leaves the image its own entrypoint, working directory and limits when the spec says nothing of them', () => {
    expect(containerRunArguments({ ...base, command: ['--threshold', '5'] }, run)).toEqual([
      'run', '--name=eb-abc', '--label=srcnet.eb.session=abc', '--label=srcnet.eb.site=demo', '--security-opt=no-new-privileges',
      '--cap-drop=ALL',
      '--env=EB_OUTPUTS=/outputs', '--volume=/scratch/abc/outputs:/outputs', 'example.org/tool:1', '--threshold', '5',
    ]);
  });

  it('gives a container the GPU devices claimed for it, in each runtime\'s own words', () => {
    const spec: RunSpec = { ...base, gpus: { count: 2, model: 'A100' } };
    const withGpus = (runtime: 'docker' | 'podman') => containerRunArguments(spec, { ...run, gpus: { runtime, devices: ['0', 'GPU-3f1c'] } });
    expect(withGpus('docker')).toContain('--gpus="device=0,GPU-3f1c"');
    expect(withGpus('docker').filter((arg) => arg.startsWith('--device'))).toEqual([]);
    expect(withGpus('podman').filter((arg) => arg.startsWith('--device') || arg.startsWith('--gpus'))).toEqual(['--device=nvidia.com/gpu=0', '--device=nvidia.com/gpu=GPU-3f1c']);
    // Offered GPUs but none claimed (no devices named): no GPU options at all.
    expect(containerRunArguments(spec, run).some((arg) => arg.startsWith('--gpus') || arg.startsWith('--device'))).toBe(false);
    expect(apptainerArguments(spec, { dir: '/d', gpus: ['1'] }).slice(0, 5)).toEqual(['run', '--cleanenv', '--containall', '--no-home', '--nv']);
    expect(apptainerEnvironment(spec, [], ['1'])).toMatchObject({ APPTAINERENV_CUDA_VISIBLE_DEVICES: '1', APPTAINERENV_NVIDIA_VISIBLE_DEVICES: '1' });
  });

  it('builds apptainer arguments: exec with an entrypoint, run without, the environment kept out of the arguments', () => {
    const spec: RunSpec = { ...base, entrypoint: '/bin/sh', command: ['-c', 'true'], environment: { A: 'one, two' }, workingDirectory: 'w', mounts: [{ path: '/in', source: '/s/in' }] };
    expect(apptainerArguments(spec, { dir: '/scratch/abc' })).toEqual([
      'exec', '--cleanenv', '--containall', '--no-home', '--bind=/scratch/abc/outputs:/outputs', '--bind=/s/in:/in:ro',
      '--bind=/scratch/abc/work:/work', '--pwd=/work/w', 'docker://example.org/tool:1', '/bin/sh', '-c', 'true',
    ]);
    expect(apptainerArguments({ ...base, command: ['x'] }, { dir: '/d' })).toEqual([
      'run', '--cleanenv', '--containall', '--no-home', '--bind=/d/outputs:/outputs', 'docker://example.org/tool:1', 'x',
    ]);
    expect(apptainerEnvironment(spec, [{ internal: 8888, external: 40003, protocol: 'HTTP', host: 'h' }])).toEqual({
      APPTAINERENV_A: 'one, two', APPTAINERENV_EB_PORT_8888: '40003', APPTAINERENV_PORT: '40003', APPTAINERENV_EB_OUTPUTS: '/outputs',
    });
  });

  it('refuses, saying why, what could read as an option or break a mount or variable', () => {
    expect(containerSpecProblem(base)).toBeUndefined();
    expect(containerSpecProblem({ ...base, image: '--privileged' })).toBe('image "--privileged" is not an image reference');
    expect(containerSpecProblem({ ...base, image: undefined, entrypoint: '/bin/true' })).toBe('a container executable needs an image');
    expect(containerSpecProblem({ ...base, privileged: true })).toBe('the site does not run privileged containers');
    expect(containerSpecProblem({ ...base, environment: { 'A=B': 'x' } })).toBe('environment variable name "A=B" is not allowed');
    expect(containerSpecProblem({ ...base, environment: { '': 'x' } })).toBe('environment variable name "" is not allowed');
    expect(containerSpecProblem({ ...base, command: ['a\0b'] })).toMatch(/NUL/);
    expect(containerSpecProblem({ ...base, mounts: [{ path: '/in:rw', source: '/s' }] })).toMatch(/cannot take/);
    expect(containerSpecProblem({ ...base, mounts: [{ path: '/in', source: '/s,x' }] })).toMatch(/cannot take/);
    expect(containerSpecProblem({ ...base, mounts: [{ path: '/outputs/x', source: '/s' }] })).toBe('volume mount path /outputs/x is taken');
    expect(containerSpecProblem({ ...base, mounts: [{ path: '/../', source: '/s' }] })).toBe('volume mount path / is taken');
    expect(containerSpecProblem({ ...base, workingDirectory: '../up' })).toMatch(/inside the session's work directory/);
  });

  it('gives the runtime\'s client only what it needs of the worker\'s environment, never its secrets', () => {
    expect(cliEnvironment({ PATH: '/p', HOME: '/h', DOCKER_HOST: 'unix:///d', CONTAINERS_CONF: '/c', APPTAINER_CACHEDIR: '/a', REDIS_URL: 'redis://secret', APPTAINERENV_X: 'y', OIDC_CLIENT_SECRET: 's' }))
      .toEqual({ PATH: '/p', HOME: '/h', DOCKER_HOST: 'unix:///d', CONTAINERS_CONF: '/c', APPTAINER_CACHEDIR: '/a' });
  });

  it('tells a process without port mapping where to listen, and binds to loopback only for a loopback public host', () => {
    expect(portEnvironment([{ internal: 80, external: 4000, protocol: 'TCP', host: 'h' }])).toEqual({ EB_PORT_80: '4000', PORT: '4000' });
    expect(portEnvironment([{ internal: 80, external: 4000, protocol: 'TCP', host: 'h' }, { internal: 81, external: 4001, protocol: 'TCP', host: 'h' }]))
      .toEqual({ EB_PORT_80: '4000', EB_PORT_81: '4001' });
    expect([bindAddress('127.0.0.1'), bindAddress('localhost'), bindAddress('broker.example.org')]).toEqual(['127.0.0.1', '127.0.0.1', '0.0.0.0']);
  });
});
