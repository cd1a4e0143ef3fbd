import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Executor, RunHandle, RunSpec, RunStatus } from '../broker/executor.js';
import type { KindAbility } from '../domain/executable-abilities.js';
import { detectAbilities, type HostTools } from './detect-abilities.js';
import { AWAIT_LOG_WRITER, removeLogPipe, DEFAULT_LOG_BYTES, type LogRead, prepareRunLog, readRunLog, START_LOG_WRITER } from './log-file.js';
import { MARK_TIME_OUT, timedOut } from './run-files.js';
import { prepareSessionDirectory } from './session-directory.js';
import { commandFound, SlurmCommands, type SlurmCommandPaths, type SlurmJob } from './slurm-commands.js';

/** How a Slurm site is reached, from its `executor` entry in the sites file. */
export interface SlurmSettings {
  partition?: string;
  account?: string;
  commands?: SlurmCommandPaths;
  /** The slurm.conf the commands read (SLURM_CONF); Slurm's default when absent. */
  slurmConf?: string;
}

export interface SlurmExecutorOptions {
  /** How long Slurm may not know a job, or not answer about it, before its run counts as lost. */
  lostAfterMs?: number;
  /** How long a cancelled job may take to leave the queue (Slurm's KillWait and more). */
  cancelWaitMs?: number;
  /** The most of a run's log kept on disk (its end). */
  logBytes?: number;
  /** The site's name, for the reasons its abilities give. */
  site?: string;
  /** Where Jupyter is looked for (the worker's PATH by default; the nodes are taken to have what the worker's host has). */
  tools?: HostTools;
}

/**
 * The job script, the same for every session: no request data in it. The program comes as the
 * script's arguments (kept by slurmctld as they are), the environment through --export-file. It
 * runs the program under coreutils `timeout` (the offered duration, to the second; Slurm's own
 * limit, in whole minutes, is the backstop) and records the exit code in the session's directory,
 * so that how a run ended is known even once Slurm has forgotten the job.
 */
const JOB_SCRIPT = `#!/bin/sh
# Written by the ExecutionBroker. $1: the session's directory; $2: the time limit; then the program.
dir=$1; limit=$2; shift 2
start=$(date +%s)
EB_LOG="$dir/log/pipe"
${START_LOG_WRITER}
timeout --signal=TERM --kill-after=5s "$limit" "$@" > "$EB_LOG" 2>&1
code=$?
EB_TIMED_OUT="$dir/timed-out"
${MARK_TIME_OUT}
${AWAIT_LOG_WRITER}
echo "$code" > "$dir/exit-code.tmp" && mv "$dir/exit-code.tmp" "$dir/exit-code"
exit "$code"
`;

/** Job states of a job that has not ended (squeue's long names). */
const NOT_ENDED = new Set(['PENDING', 'CONFIGURING', 'RUNNING', 'COMPLETING', 'SUSPENDED', 'STOPPED', 'SIGNALING', 'STAGE_OUT',
  'RESIZING', 'REQUEUED', 'REQUEUE_FED', 'REQUEUE_HOLD', 'RESV_DEL_HOLD']);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Runs a session as a Slurm batch job: sbatch to submit, squeue (then sacct, where there is
 * accounting) to follow, scancel to stop. The session's directory (`<scratch>/<session>/`, work,
 * outputs and the log) must be on a file system the compute nodes share with the worker. The
 * entrypoint runs as a program on the node (no container), with only the request's environment;
 * the job asks for the cores, memory and GPUs offered and the offered duration.
 */
export class SlurmExecutor implements Executor {
  private readonly slurm: SlurmCommands;
  private readonly lostAfterMs: number;
  private readonly cancelWaitMs: number;
  private readonly logBytes: number;

  readonly names: readonly string[] = ['slurm'];

  constructor(private readonly scratchRoot: string, private readonly settings: SlurmSettings = {}, private readonly options: SlurmExecutorOptions = {}) {
    this.logBytes = options.logBytes ?? DEFAULT_LOG_BYTES;
    this.slurm = new SlurmCommands(settings.commands, settings.slurmConf ?? process.env.SLURM_CONF);
    this.lostAfterMs = options.lostAfterMs ?? 300_000;
    this.cancelWaitMs = options.cancelWaitMs ?? 120_000;
  }

  abilities(): Promise<readonly KindAbility[]> {
    return detectAbilities({ site: this.options.site ?? 'this', family: 'slurm', apptainer: false }, this.options.tools);
  }

  unsupported(spec: RunSpec): string | undefined {
    if (spec.kind !== undefined && spec.kind !== 'executable/docker-container') return `a Slurm site runs docker-container executables' entrypoints, not ${spec.kind}`;
    if (spec.entrypoint) return undefined;
    return `a Slurm site runs the executable's entrypoint as a program on its nodes, without a container, and this executable names none${spec.image ? ` (only image ${spec.image})` : ''}`;
  }

  async submit(spec: RunSpec): Promise<RunHandle> {
    const why = this.unsupported(spec);
    if (why) throw new Error(why);
    const { dir, cwd } = await prepareSessionDirectory(this.scratchRoot, spec);
    // Slurm reads % in --output as a pattern.
    if (dir.includes('%')) throw new Error(`the scratch directory ${this.scratchRoot} holds a %, which Slurm would read as a pattern`);
    const name = `eb-${spec.sessionUuid}`;
    // A start retried after a crash between sbatch and storing the handle finds the job it made.
    const made = await this.slurm.jobNamed(name);
    if (made) return { executor: 'slurm', dir, id: made };
    await prepareRunLog(dir, this.logBytes);
    const script = join(dir, 'job.sh');
    await writeFile(script, JOB_SCRIPT, { mode: 0o700 });
    // NUL-separated NAME=value pairs: values need no quoting. sbatch reads the file when it submits.
    const environment = join(dir, 'environment');
    await writeFile(environment, environmentFile(spec, dir), { mode: 0o600 });
    try {
      const id = await this.slurm.sbatch([...this.sbatchOptions(spec, name, dir, cwd, environment), script, dir, `${Math.max(1, Math.ceil(spec.timeLimitMs / 1000))}s`, spec.entrypoint ?? '', ...spec.command]);
      await writeFile(join(dir, 'job-id'), id);
      return { executor: 'slurm', dir, id };
    } finally {
      await rm(environment, { force: true });
    }
  }

  /** sbatch's options: the job's name, directories, time limit and the resources offered. */
  private sbatchOptions(spec: RunSpec, name: string, dir: string, cwd: string, environment: string): string[] {
    const gpus = spec.gpus?.count ? `${spec.gpus.model ? `${spec.gpus.model}:` : ''}${spec.gpus.count}` : undefined;
    return [
      `--job-name=${name}`, `--chdir=${cwd}`, `--output=${join(dir, 'slurm-job.log')}`, '--open-mode=append',
      // Whole minutes, one more than the offer: the script's `timeout` ends the program on time.
      `--time=${Math.ceil(spec.timeLimitMs / 60_000) + 1}`,
      // A session runs once, in its slot: a job requeued after a node failure would run it again.
      '--nodes=1', '--ntasks=1', '--no-requeue',
      ...(spec.cores ? [`--cpus-per-task=${spec.cores}`] : []),
      ...(spec.memoryMiB ? [`--mem=${spec.memoryMiB}M`] : []),
      ...(gpus ? [`--gpus=${gpus}`] : []),
      ...(this.settings.partition ? [`--partition=${this.settings.partition}`] : []),
      ...(this.settings.account ? [`--account=${this.settings.account}`] : []),
      // Not --export=NONE, which drops --export-file: naming variables exports those and the
      // file's, never the submitting process's environment.
      `--export=EB_SESSION=${spec.sessionUuid}`, `--export-file=${environment}`,
    ];
  }

  async poll(handle: RunHandle): Promise<RunStatus> {
    if (existsSync(join(handle.dir, 'cancelled'))) return { state: 'cancelled' };
    let job: SlurmJob | undefined;
    let unknown = `Slurm no longer knows job ${handle.id} and it recorded no exit code (it ended long ago with no accounting to ask, or slurmctld lost its state)`;
    try {
      job = await this.slurm.squeue(handle.id) ?? await this.slurm.sacct(handle.id);
    } catch (error) {
      unknown = `Slurm did not answer about job ${handle.id}: ${(error as Error).message}`;
    }
    if (job) {
      await rm(join(handle.dir, 'unknown-since'), { force: true });
      return this.ended(handle, job);
    }
    // slurmctld restarting, or a job it has forgotten: the script's record says how it ended, if it did.
    return await this.recorded(handle)
      ?? (await this.unknownFor(handle) >= this.lostAfterMs ? { state: 'lost', reason: unknown } : { state: 'running' });
  }

  /** The run's status from what Slurm says of its job. */
  private async ended(handle: RunHandle, job: SlurmJob): Promise<RunStatus> {
    if (NOT_ENDED.has(job.state)) return { state: 'running' };
    if (job.state === 'COMPLETED') return { state: 'exited', exitCode: 0, timedOut: false };
    if (job.state === 'TIMEOUT' || job.state === 'DEADLINE') return { state: 'exited', exitCode: (await this.recorded(handle))?.exitCode ?? 124, timedOut: true };
    // Cancelled by the broker would have left the marker poll looks at first.
    if (job.state === 'CANCELLED') return { state: 'lost', reason: `Slurm job ${handle.id} was cancelled outside the broker` };
    const recorded = await this.recorded(handle);
    // OUT_OF_MEMORY kills with KILL: its 137 is no time-out.
    if (recorded) return job.state === 'FAILED' ? recorded : { ...recorded, timedOut: false };
    if (job.exitCode) return { state: 'exited', exitCode: job.exitCode, timedOut: false };
    return { state: 'lost', reason: `Slurm job ${handle.id} ended ${job.state} without an exit status` };
  }

  /** How the program ended, from the exit code the job script wrote; undefined while there is none. */
  private async recorded(handle: RunHandle): Promise<(RunStatus & { state: 'exited' }) | undefined> {
    const text = await readFile(join(handle.dir, 'exit-code'), 'utf8').catch(() => undefined);
    if (text === undefined || !/^\d+$/.test(text.trim())) return undefined;
    const exitCode = Number(text.trim());
    return { state: 'exited', exitCode, timedOut: timedOut(handle.dir) };
  }

  /** How long (ms) Slurm has not known the job, counted from the first poll that found so (kept on disk). */
  private async unknownFor(handle: RunHandle): Promise<number> {
    const file = join(handle.dir, 'unknown-since');
    const since = Number(await readFile(file, 'utf8').catch(() => ''));
    if (since > 0) return Date.now() - since;
    await writeFile(file, String(Date.now()));
    return 0;
  }

  async cancel(handle: RunHandle): Promise<void> {
    await writeFile(join(handle.dir, 'cancelled'), new Date().toISOString());
    await this.slurm.scancel(handle.id);
    // scancel only asks: the job is gone once squeue no longer lists it (COMPLETING included).
    const end = Date.now() + this.cancelWaitMs;
    while (await this.slurm.listed(handle.id)) {
      if (Date.now() > end) throw new Error(`Slurm job ${handle.id} is still in the queue ${Math.round(this.cancelWaitMs / 1000)} s after scancel`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await removeLogPipe(handle.dir);
  }

  logs(handle: RunHandle, offset?: number, limit?: number): Promise<LogRead> {
    return readRunLog(handle.dir, offset, limit);
  }

  outputs(handle: RunHandle): string {
    return join(handle.dir, 'outputs');
  }
}

/** A Slurm site's executor, or why there can be none on this host (no sbatch to run). */
export function createSlurmExecutor(scratchRoot: string, settings: SlurmSettings, options: SlurmExecutorOptions = {}): SlurmExecutor | { unavailable: string } {
  const sbatch = settings.commands?.sbatch ?? 'sbatch';
  if (!commandFound(sbatch)) return { unavailable: `sbatch (${sbatch}) is not found on the worker's host: install the Slurm clients there, or set the site's executor.commands.sbatch` };
  return new SlurmExecutor(scratchRoot, settings, options);
}

/** The job's whole environment: the request's, a PATH and HOME, and where outputs go. */
function environmentFile(spec: RunSpec, dir: string): string {
  const entries = Object.entries({ PATH: '/usr/local/bin:/usr/bin:/bin', HOME: dir, ...spec.environment, EB_OUTPUTS: join(dir, 'outputs') })
    .filter(([name]) => name !== 'EB_SESSION');
  for (const [name, value] of entries) {
    if (!ENV_NAME.test(name)) throw new Error(`environment variable name ${JSON.stringify(name)} is not a valid name`);
    if (String(value).includes('\0')) throw new Error(`environment variable ${name} holds a NUL character`);
  }
  return entries.map(([name, value]) => `${name}=${String(value)}\0`).join('');
}
