import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, posix } from 'node:path';
import type { Executor, PublishedPort, RunHandle, RunSpec, RunStatus } from '../broker/executor.js';
import type { KindAbility } from '../domain/executable-abilities.js';
import { detectAbilities } from './detect-abilities.js';
import { CONTAINER_OUTPUTS, CONTAINER_WORK, containerPath, containerSpecProblem } from './container-spec-checks.js';
import { GpuClaims } from './gpu-claims.js';
import { AWAIT_LOG_WRITER, removeLogPipe, type LogRead, logPipe, prepareRunLog, readRunLog, START_LOG_WRITER } from './log-file.js';
import { bindAddress, publishPorts } from './publish-ports.js';
import { endGroups, groupAlive, MARK_TIME_OUT, readText, recordedExitCode, timedOut, timedOutFile } from './run-files.js';

export type ContainerCli = 'docker' | 'podman';

export interface ContainerCliOptions {
  runtime: ContainerCli;
  /** The program to call (the runtime's name, found on PATH, unless given). */
  program?: string;
  scratchRoot: string;
  site: string;
  /** The host name clients reach published ports on. */
  publicHost?: string;
  /** The host's GPU devices by model (the site's executor.gpuDevices). */
  gpuDevices?: Readonly<Record<string, readonly string[]>>;
  /** How many processes a container may have at once (the site's limits.processesPerRun). */
  processesPerRun?: number;
  /** The most of a run's log kept on disk (its end). */
  logBytes?: number;
  /** The image notebooks would run in (the site's executor.jupyterImage); without one, notebooks are not run here. */
  jupyterImage?: string;
}

/** Seconds a container has to stop on TERM before the runtime kills it. */
const STOP_SECONDS = 5;
/** How long the attached client may take to copy the last output once the container has ended. */
const FLUSH_MS = 5_000;
const CLI_TIMEOUT_MS = 60_000;

/**
 * The worker's own environment holds the broker's secrets: the runtime's client gets only what it
 * needs to find its engine, its configuration and its registry credentials. (Nothing of the
 * client's environment reaches the container: it gets the request's variables, each as
 * `--env=NAME=value`.)
 */
export function cliEnvironment(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const passed = /^(PATH|HOME|TMPDIR|XDG_RUNTIME_DIR|XDG_CONFIG_HOME|REGISTRY_AUTH_FILE|(DOCKER|CONTAINER|CONTAINERS|APPTAINER|SINGULARITY)_[A-Z0-9_]+)$/;
  const out: Record<string, string> = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
  for (const [name, value] of Object.entries(env)) if (passed.test(name) && value !== undefined) out[name] = value;
  return out;
}

/** The `run` arguments for a spec; every value the request wrote is one argument, joined to its option. */
export function containerRunArguments(spec: RunSpec, run: {
  name: string; dir: string; site: string; ports: readonly PublishedPort[]; bind: string; hostCpus: number;
  /** The container's process limit (`--pids-limit`). */
  pidsLimit?: number;
  /** The GPU devices claimed for the run, and which client asks for them (their options differ). */
  gpus?: { runtime: 'docker' | 'podman'; devices: readonly string[] };
}): string[] {
  const args = [
    'run', `--name=${run.name}`,
    `--label=srcnet.eb.session=${spec.sessionUuid}`, `--label=srcnet.eb.site=${run.site}`,
    // Strangers' code: no capabilities, no gaining privileges (setuid programs), a bounded number of processes.
    '--security-opt=no-new-privileges', '--cap-drop=ALL',
  ];
  if (run.pidsLimit) args.push(`--pids-limit=${run.pidsLimit}`);
  // docker refuses more CPUs than the host has (a demo site may claim more than its machine).
  if (spec.cores) args.push(`--cpus=${Math.min(spec.cores, run.hostCpus)}`);
  if (spec.memoryMiB) args.push(`--memory=${spec.memoryMiB}m`);
  if (run.gpus?.devices.length) {
    // docker's --gpus value is a CSV field list: the quotes keep the comma-separated devices together.
    if (run.gpus.runtime === 'docker') args.push(`--gpus="device=${run.gpus.devices.join(',')}"`);
    else for (const device of run.gpus.devices) args.push(`--device=nvidia.com/gpu=${device}`);
  }
  for (const [name, value] of Object.entries(spec.environment)) args.push(`--env=${name}=${value}`);
  args.push(`--env=EB_OUTPUTS=${CONTAINER_OUTPUTS}`, `--volume=${join(run.dir, 'outputs')}:${CONTAINER_OUTPUTS}`);
  for (const mount of spec.mounts ?? []) args.push(`--volume=${mount.source}:${containerPath(mount.path)}:ro`);
  if (spec.workingDirectory !== undefined) {
    args.push(`--volume=${join(run.dir, 'work')}:${CONTAINER_WORK}`, `--workdir=${posix.join(CONTAINER_WORK, posix.normalize(spec.workingDirectory))}`);
  }
  for (const port of run.ports) {
    args.push(`--publish=${run.bind}:${port.external}:${port.internal}/${port.protocol === 'UDP' ? 'udp' : 'tcp'}`);
  }
  if (spec.entrypoint !== undefined) args.push(`--entrypoint=${spec.entrypoint}`);
  args.push(spec.image ?? '', ...spec.command);
  return args;
}

interface ContainerState { Status?: string; Running?: boolean; ExitCode?: number; OOMKilled?: boolean; FinishedAt?: string }

/**
 * Runs a docker-container executable through the docker or podman client. The client runs
 * attached, detached from the worker in a small shell of its own that passes the container's
 * output to the bounded log (log-file.ts) and records the client's exit status: the log survives
 * a worker restart and is read by byte offset. How the container is doing comes from `inspect`, the truth even
 * when the client is gone; once it has ended the outcome is recorded in `result.json` and the
 * container removed. The time limit is kept twice: `timeout` around the client, and a deadline in
 * the session's directory past which a poll stops the container.
 */
export class ContainerCliExecutor implements Executor {
  private readonly program: string;

  private readonly gpus: GpuClaims;

  get names(): readonly string[] {
    return [this.options.runtime];
  }

  constructor(private readonly options: ContainerCliOptions) {
    this.program = options.program ?? options.runtime;
    this.gpus = new GpuClaims(options.scratchRoot, options.gpuDevices);
  }

  unsupported(spec: RunSpec): string | undefined {
    if (spec.kind !== undefined && spec.kind !== 'executable/docker-container') return `${this.options.runtime} runs docker-container executables, not ${spec.kind}`;
    return containerSpecProblem(spec) ?? this.gpus.problem(spec);
  }

  abilities(): Promise<readonly KindAbility[]> {
    return detectAbilities({
      site: this.options.site, family: 'container', runtime: this.options.runtime, apptainer: false,
      ...(this.options.jupyterImage ? { jupyterImage: this.options.jupyterImage } : {}),
    });
  }

  givesGpus(model: string): boolean {
    return this.gpus.gives(model);
  }

  async submit(spec: RunSpec): Promise<RunHandle> {
    const problem = this.unsupported(spec);
    if (problem) throw new Error(problem);
    const dir = join(this.options.scratchRoot, spec.sessionUuid);
    // A start retried after a crash finds the run it already made, rather than a second container.
    const made = await readFile(join(dir, 'handle.json'), 'utf8').catch(() => undefined);
    if (made) return JSON.parse(made) as RunHandle;
    await mkdir(join(dir, 'outputs'), { recursive: true });
    await prepareRunLog(dir, this.options.logBytes);
    if (spec.workingDirectory !== undefined) await mkdir(join(dir, 'work', posix.normalize(spec.workingDirectory)), { recursive: true });
    const host = this.options.publicHost ?? '127.0.0.1';
    const ports = await publishPorts(spec.ports, host);
    const name = `eb-${spec.sessionUuid}`;
    const devices = await this.gpus.forRun(spec);
    const args = containerRunArguments(spec, {
      name, dir, site: this.options.site, ports, bind: bindAddress(host), hostCpus: availableParallelism(),
      ...(this.options.processesPerRun ? { pidsLimit: this.options.processesPerRun } : {}),
      ...(devices.length ? { gpus: { runtime: this.options.runtime, devices } } : {}),
    });
    await writeFile(join(dir, 'deadline'), String(Date.now() + spec.timeLimitMs));
    // The client runs under `timeout`, so that the limit holds even while no worker polls: at the
    // limit it gets TERM, which it passes to the container (--sig-proxy, on by default). A
    // container that ignores it is stopped by the next poll past the deadline.
    const seconds = Math.max(1, Math.ceil(spec.timeLimitMs / 1000));
    const wrapper = `program=$1; limit=$2; shift 2; start=$(date +%s); ${START_LOG_WRITER}; `
      + 'timeout --foreground --signal=TERM --kill-after=10s "$limit" "$program" "$@" > "$EB_LOG" 2>&1; code=$?; '
      + `${MARK_TIME_OUT}; ${AWAIT_LOG_WRITER}; `
      + 'echo "$code" > "$EB_EXIT.tmp" && mv "$EB_EXIT.tmp" "$EB_EXIT"';
    const child = spawn('/bin/sh', ['-c', wrapper, 'eb-container', this.program, `${seconds}s`, ...args], {
      cwd: dir,
      detached: true,
      stdio: 'ignore',
      env: { ...cliEnvironment(), EB_LOG: logPipe(dir), EB_EXIT: join(dir, 'exit-code'), EB_TIMED_OUT: timedOutFile(dir) },
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid ?? 0));
      child.once('error', reject);
    });
    child.unref();
    await writeFile(join(dir, 'pid'), String(pid));
    const handle: RunHandle = { executor: this.options.runtime, dir, id: name, ...(ports.length ? { ports } : {}) };
    await writeFile(join(dir, 'handle.json'), JSON.stringify(handle));
    return handle;
  }

  poll(handle: RunHandle): Promise<RunStatus> {
    return this.look(handle, false);
  }

  /** `retried`: a second look, after the first found no container but an ended client. */
  private async look(handle: RunHandle, retried: boolean): Promise<RunStatus> {
    if (existsSync(join(handle.dir, 'cancelled'))) return { state: 'cancelled' };
    const recorded = await readFile(join(handle.dir, 'result.json'), 'utf8').catch(() => undefined);
    if (recorded) return JSON.parse(recorded) as RunStatus;
    let state = await this.inspect(handle.id);
    if (!state) return this.noContainer(handle, retried);
    if (!ended(state)) {
      if (!this.pastDeadline(handle)) return { state: 'running' };
      await writeFile(timedOutFile(handle.dir), new Date().toISOString());
      await this.cli(['stop', '-t', String(STOP_SECONDS), handle.id]);
      state = await this.inspect(handle.id);
      if (!state) return this.noContainer(handle, retried);
      if (!ended(state)) return { state: 'running' };
    }
    // The client copies the container's last output after it ends: wait for it, for a while.
    const finished = Date.parse(state.FinishedAt ?? '');
    if (await recordedExitCode(handle.dir) === undefined && this.clientAlive(handle) && !(Date.now() - finished > FLUSH_MS)) {
      return { state: 'running' };
    }
    return this.record(handle, {
      state: 'exited',
      exitCode: state.ExitCode ?? -1,
      timedOut: timedOut(handle.dir),
      ...(state.OOMKilled ? { oomKilled: true } : {}),
    });
  }

  /** No container by the run's name: still being made (an image pull), or it never started. */
  private async noContainer(handle: RunHandle, retried: boolean): Promise<RunStatus> {
    const code = await recordedExitCode(handle.dir);
    if (code === undefined && this.clientAlive(handle)) {
      if (!this.pastDeadline(handle)) return { state: 'running' };
      // Still no container at the time limit (an image pull that hangs): give up on it.
      await this.stop(handle);
      return this.record(handle, { state: 'lost', reason: `the container ${handle.id} had not started when the offered duration ended` });
    }
    // Look again: the client may have ended between the two looks.
    const ended = code ?? await recordedExitCode(handle.dir);
    if (ended === undefined) return { state: 'lost', reason: `the container ${handle.id} is gone and its client ended without a word (killed from outside, or the host restarted)` };
    // The container may have been made, run and ended since `poll` found none: then it says how.
    if (!retried && await this.inspect(handle.id)) return this.look(handle, true);
    if (timedOut(handle.dir)) {
      // `timeout` ended the client while it was still making the container (an image pull that hung).
      await this.stop(handle);
      return this.record(handle, { state: 'lost', reason: `the container ${handle.id} had not started when the offered duration ended` });
    }
    const last = (await this.logs(handle, 0, 4096)).text.trim().split('\n').at(-1)?.slice(0, 300) ?? '';
    return this.record(handle, { state: 'lost', reason: `${this.options.runtime} could not run the container (status ${ended})${last ? `: ${last}` : ''}` });
  }

  /** Keeps how the run ended, then removes the container: later polls read the record. */
  private async record(handle: RunHandle, status: RunStatus): Promise<RunStatus> {
    await writeFile(join(handle.dir, 'result.json.tmp'), JSON.stringify(status));
    await rename(join(handle.dir, 'result.json.tmp'), join(handle.dir, 'result.json'));
    await this.cli(['rm', '--force', handle.id]).catch(() => undefined);
    return status;
  }

  private pastDeadline(handle: RunHandle): boolean {
    return Date.now() >= Number(readText(join(handle.dir, 'deadline')));
  }

  private clientAlive(handle: RunHandle): boolean {
    return groupAlive(Number(readText(join(handle.dir, 'pid'))), handle.dir);
  }

  /** The container's state; undefined when there is no such container. */
  private async inspect(name: string): Promise<ContainerState | undefined> {
    try {
      const out = await this.cli(['inspect', '--type=container', '--format={{json .State}}', name]);
      return JSON.parse(out) as ContainerState;
    } catch (error) {
      if (/no such (container|object)/i.test(String((error as Error).message))) return undefined;
      throw error;
    }
  }

  async cancel(handle: RunHandle): Promise<void> {
    await writeFile(join(handle.dir, 'cancelled'), new Date().toISOString());
    // Cancelled is cancelled: nothing of the run is left running a moment later (no grace to stop).
    await this.stop(handle, 0);
    await removeLogPipe(handle.dir);
  }

  /** Stops (TERM, and KILL after `seconds`) and removes the container, and ends its client. */
  private async stop(handle: RunHandle, seconds = STOP_SECONDS): Promise<void> {
    await this.cli(['stop', '-t', String(seconds), handle.id]).catch(() => undefined);
    await this.cli(['rm', '--force', handle.id]).catch(() => undefined);
    const client = Number(readText(join(handle.dir, 'pid')));
    if (Number.isInteger(client) && client > 0) await endGroups([client], STOP_SECONDS * 1000);
    // A client stopped while it was still making the container may have left one behind.
    await this.cli(['rm', '--force', handle.id]).catch(() => undefined);
  }

  logs(handle: RunHandle, offset?: number, limit?: number): Promise<LogRead> {
    return readRunLog(handle.dir, offset, limit);
  }

  outputs(handle: RunHandle): string {
    return join(handle.dir, 'outputs');
  }

  private cli(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.program, args, { env: cliEnvironment(), timeout: CLI_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`${this.options.runtime} ${args[0]} failed: ${String(stderr).trim() || error.message}`));
        else resolve(String(stdout));
      });
    });
  }
}

const ended = (state: ContainerState): boolean =>
  state.Running !== true && ['exited', 'stopped', 'dead'].includes(String(state.Status ?? '').toLowerCase());
