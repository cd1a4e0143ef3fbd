import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Executor, PublishedPort, RunHandle, RunSpec, RunStatus } from '../broker/executor.js';
import type { KindAbility } from '../domain/executable-abilities.js';
import { answers, detectAbilities, findApptainer, type HostTools } from './detect-abilities.js';
import { cliEnvironment } from './container-cli-executor.js';
import { CONTAINER_OUTPUTS, CONTAINER_WORK, containerPath, containerSpecProblem } from './container-spec-checks.js';
import { GpuClaims, gpuEnvironment } from './gpu-claims.js';
import { LocalProcessExecutor } from './local-process-executor.js';
import { portEnvironment, publishPorts } from './publish-ports.js';

/** The apptainer run's handle (ports included) and its ports, kept in the session's directory. */
const HANDLE_FILE = 'handle.json';
const PORTS_FILE = 'apptainer-ports.json';

export interface ApptainerOptions {
  /** The program to call (`apptainer`, found on PATH, unless given). */
  program?: string;
  scratchRoot: string;
  publicHost?: string;
  /** The host's GPU devices by model (the site's executor.gpuDevices). */
  gpuDevices?: Readonly<Record<string, readonly string[]>>;
  /** The most of a run's log kept on disk (its end). */
  logBytes?: number;
  /** The site's name, for the reasons its abilities give. */
  site?: string;
  /** Where apptainer is looked for, when `program` is not given (the worker's PATH by default). */
  tools?: HostTools;
  /** The image notebooks would run in (the site's executor.jupyterImage). */
  jupyterImage?: string;
}

/** The image sources apptainer pulls from itself; a singularity-container's location must be one. */
const SINGULARITY_SOURCES = /^(docker|library|oras|shub):\/\/[A-Za-z0-9]/;

const isSingularity = (spec: RunSpec): boolean => spec.kind === 'executable/singularity-container';

/** Why apptainer cannot run this singularity-container location; undefined when it can. */
export function singularityLocationProblem(spec: RunSpec): string | undefined {
  if (!isSingularity(spec)) return undefined;
  if (!SINGULARITY_SOURCES.test(spec.image ?? '')) return `singularity image location ${JSON.stringify((spec.image ?? '').slice(0, 100))} is not a docker://, library://, oras:// or shub:// reference (the only ones this site pulls)`;
  return undefined;
}

/** The `apptainer` arguments for a spec: `exec` with an entrypoint, else `run` (the image's own). */
export function apptainerArguments(spec: RunSpec, run: { dir: string; gpus?: readonly string[] }): string[] {
  const args = [spec.entrypoint !== undefined ? 'exec' : 'run', '--cleanenv', '--containall', '--no-home'];
  // --nv brings in the host's NVIDIA driver; CUDA_VISIBLE_DEVICES (apptainerEnvironment) picks the devices.
  if (run.gpus?.length) args.push('--nv');
  args.push(`--bind=${join(run.dir, 'outputs')}:${CONTAINER_OUTPUTS}`);
  for (const mount of spec.mounts ?? []) args.push(`--bind=${mount.source}:${containerPath(mount.path)}:ro`);
  if (spec.workingDirectory !== undefined) {
    args.push(`--bind=${join(run.dir, 'work')}:${CONTAINER_WORK}`, `--pwd=${posix.join(CONTAINER_WORK, posix.normalize(spec.workingDirectory))}`);
  }
  // A singularity-container names its source itself (docker://, library://, ...); a docker-container's image comes from a registry.
  args.push(isSingularity(spec) ? spec.image ?? '' : `docker://${spec.image ?? ''}`);
  if (spec.entrypoint !== undefined) args.push(spec.entrypoint);
  args.push(...spec.command);
  return args;
}

/**
 * The container's environment as `APPTAINERENV_<name>` variables of apptainer's own process: the
 * one way through `--cleanenv`, and unlike `--env` it takes values with commas as they are.
 */
export function apptainerEnvironment(spec: RunSpec, ports: readonly PublishedPort[], gpus: readonly string[] = []): Record<string, string> {
  const environment = { ...spec.environment, ...portEnvironment(ports), ...gpuEnvironment(gpus), EB_OUTPUTS: CONTAINER_OUTPUTS };
  return Object.fromEntries(Object.entries(environment).map(([name, value]) => [`APPTAINERENV_${name}`, value]));
}

/**
 * Runs a docker-container executable with apptainer, which needs no daemon: `apptainer exec
 * docker://<image>` is an ordinary process, so it runs the way the local process executor runs
 * any program (detached, its own process groups, under `timeout`, its exit code in a file).
 * `--cleanenv` keeps the worker's environment out of the container, which gets the request's
 * variables only (as `APPTAINERENV_*`). Apptainer shares the host's network: each port the executable listens on gets a
 * free host port, given to it as `EB_PORT_<internal>` (and `PORT` when there is one).
 */
export class ApptainerExecutor implements Executor {
  private readonly processes: LocalProcessExecutor;

  private readonly gpus: GpuClaims;

  readonly names: readonly string[] = ['apptainer'];

  /** Its runs are on the host's network (no network namespace of their own: see the class's comment). */
  readonly sharesHostNetwork = true;

  constructor(private readonly options: ApptainerOptions) {
    this.processes = new LocalProcessExecutor(options.scratchRoot, {}, options.logBytes === undefined ? {} : { logBytes: options.logBytes });
    this.gpus = new GpuClaims(options.scratchRoot, options.gpuDevices);
  }

  unsupported(spec: RunSpec): string | undefined {
    if (spec.kind !== undefined && spec.kind !== 'executable/docker-container' && !isSingularity(spec)) return `apptainer runs docker-container and singularity-container executables, not ${spec.kind}`;
    return singularityLocationProblem(spec) ?? containerSpecProblem(spec) ?? this.gpus.problem(spec);
  }

  /** apptainer answering `--version` (the program given, else apptainer or singularity on the PATH). */
  async abilities(): Promise<readonly KindAbility[]> {
    const program = this.options.program;
    const present = program !== undefined ? await answers(program, ['--version'], this.options.tools) : (await findApptainer(this.options.tools)) !== undefined;
    return detectAbilities({
      site: this.options.site ?? 'this', family: 'apptainer', apptainer: present,
      ...(this.options.jupyterImage ? { jupyterImage: this.options.jupyterImage } : {}),
    }, this.options.tools);
  }

  givesGpus(model: string): boolean {
    return this.gpus.gives(model);
  }

  async submit(spec: RunSpec): Promise<RunHandle> {
    const problem = this.unsupported(spec);
    if (problem) throw new Error(problem);
    const dir = join(this.options.scratchRoot, spec.sessionUuid);
    // A start retried after a crash finds the run it already made (its handle, ports included, is kept below).
    const made = await readFile(join(dir, HANDLE_FILE), 'utf8').catch(() => undefined);
    const madeHandle = made ? JSON.parse(made) as RunHandle : undefined;
    if (madeHandle?.executor === 'apptainer') return madeHandle;
    // The ports are kept before the run starts: one made by a start that died before keeping its handle has them.
    const kept = madeHandle ? await readFile(join(dir, PORTS_FILE), 'utf8').catch(() => undefined) : undefined;
    const ports = kept ? JSON.parse(kept) as PublishedPort[] : await publishPorts(spec.ports, this.options.publicHost ?? '127.0.0.1');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, PORTS_FILE), JSON.stringify(ports));
    const gpus = await this.gpus.forRun(spec);
    const handle = await this.processes.submit({
      sessionUuid: spec.sessionUuid,
      entrypoint: this.options.program ?? 'apptainer',
      command: apptainerArguments(spec, { dir, gpus }),
      // What apptainer itself needs (its cache, its configuration), which --cleanenv keeps from the
      // container, and the container's own variables.
      environment: { ...cliEnvironment(), ...apptainerEnvironment(spec, ports, gpus) },
      ...(spec.workingDirectory !== undefined ? { workingDirectory: spec.workingDirectory } : {}),
      timeLimitMs: spec.timeLimitMs,
      // The offered cores and memory bound apptainer and its container (cgroups, where the worker may make them).
      ...(spec.cores ? { cores: spec.cores } : {}),
      ...(spec.memoryMiB ? { memoryMiB: spec.memoryMiB } : {}),
    });
    const run: RunHandle = { ...handle, executor: 'apptainer', ...(ports.length ? { ports } : {}) };
    await writeFile(join(dir, HANDLE_FILE), JSON.stringify(run));
    return run;
  }

  poll(handle: RunHandle): Promise<RunStatus> {
    return this.processes.poll(handle);
  }

  cancel(handle: RunHandle): Promise<void> {
    return this.processes.cancel(handle);
  }

  logs(handle: RunHandle, offset?: number, limit?: number): ReturnType<Executor['logs']> {
    return this.processes.logs(handle, offset, limit);
  }

  outputs(handle: RunHandle): string {
    return this.processes.outputs(handle);
  }
}
