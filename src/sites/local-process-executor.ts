import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { Executor, RunHandle, RunSpec, RunStatus } from '../broker/executor.js';
import type { KindAbility } from '../domain/executable-abilities.js';
import { detectAbilities, type HostTools } from './detect-abilities.js';
import { AWAIT_LOG_WRITER, removeLogPipe, type LogRead, logPipe, prepareRunLog, readRunLog, START_LOG_WRITER } from './log-file.js';
import { prepareSessionDirectory } from './session-directory.js';
import { readableCopies } from './readable-copies.js';
import { bindAddress, portEnvironment, publishPorts } from './publish-ports.js';
import { detectJupyterOnce, type JupyterAvailability } from './detect-jupyter.js';
import { notebookFailure, notebookRun, requestNotebookStop, serverAnswers } from './notebook-run.js';
import { GpuClaims, gpuEnvironment } from './gpu-claims.js';
import { ENTER_CGROUPS, LEAVE_CGROUPS, makeRunCgroups, oomKilled, RECORD_CGROUP_CPU, removeRunCgroups, sweepRunCgroups } from './run-cgroup.js';
import { asRoot, giveToRun, optionsFile, runAs, SANDBOX_OPTIONS, SANDBOX_STATUS, sandboxCommand, sandboxFailure, sandboxInit, sandboxOptions, type SandboxSettings } from './sandbox.js';
import { makeNetworkFifos, networkDescriptors, prepareRunNetwork, removeRunNetwork, startNetwork, stopNetwork } from './run-network.js';
import { CPU_NS_FILE, CPU_TIMES_FILE, endGroups, endProcess, groupAlive, MARK_TIME_OUT, readText, recordedCpuSeconds, recordedExitCode, timedOut, timedOutFile } from './run-files.js';

const GRACE_MS = 5_000;
/** The handle of the run made for a session, kept in its directory once the run is started. */
const HANDLE_FILE = 'handle.json';
/** The ports published for the run, kept before it starts. */
const PORTS_FILE = 'ports.json';

/**
 * The run already made in a session's directory, if any: its stored handle, or, for a worker that
 * died after starting the wrapper and before storing the handle, one made from the pid the
 * wrapper wrote first thing (and the ports kept before it started).
 */
async function madeRun(dir: string): Promise<RunHandle | undefined> {
  const stored = await readFile(join(dir, HANDLE_FILE), 'utf8').catch(() => undefined);
  if (stored) return JSON.parse(stored) as RunHandle;
  const pid = Number(readText(join(dir, 'pid')));
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const ports = JSON.parse(readText(join(dir, PORTS_FILE)) ?? '[]') as NonNullable<RunHandle['ports']>;
  return { executor: 'local-process', dir, id: String(pid), ...(ports.length ? { ports } : {}) };
}
/** How long a cancelled notebook server has to stop and save its notebook before it is killed. */
const NOTEBOOK_STOP_MS = 15_000;
/** In the session's directory (which the run does not see): the run is a notebook, and which mode. */
const NOTEBOOK_MARK = 'notebook';

/** A container image a site without a container runtime stands in for with a local program. */
export interface DevelopmentImage { entrypoint: string; command?: string[] }

/**
 * Runs the entrypoint and command as a process on the worker's host, with no container
 * (`containerRuntime: none`, for development). The process runs detached, in its own process
 * group, under coreutils `timeout`, inside a small shell that records its exit code in a file: it
 * outlives a worker killed with SIGKILL, and a worker started later learns from the file how it
 * ended. Only the request's environment (plus PATH and HOME) is passed on: never the worker's own,
 * which holds the broker's secrets. With no container to map ports, each port the executable
 * listens on gets a free host port, passed as `EB_PORT_<internal>` (and `PORT` when there is one).
 */
export class LocalProcessExecutor implements Executor {
  /**
   * `developmentImages`: container images this site, having no container runtime, runs as a
   * local program instead (image name -> program and leading arguments), so that requests written
   * for a container (the SRCNet API's, say) can run on a development machine.
   */
  constructor(
    private readonly scratchRoot: string,
    private readonly developmentImages: Readonly<Record<string, DevelopmentImage>> = {},
    private readonly options: {
      publicHost?: string;
      gpuDevices?: Readonly<Record<string, readonly string[]>>;
      /** The most of a run's log kept on disk (its end: the site's limits.logBytes). */
      logBytes?: number;
      /** Runs go in a bubblewrap sandbox so set; without, they are plain processes of the worker's user (`isolation: none`). */
      sandbox?: SandboxSettings;
      /** The site's name, for the reasons its abilities give. */
      site?: string;
      /** Where Jupyter is looked for (the worker's PATH by default). */
      tools?: HostTools;
      /** Runs singularity-container executables (apptainer, found on the host); without it, they are not run here. */
      singularity?: Executor;
      /** Whether the host has Jupyter for notebook runs (detect-jupyter.ts, once per process by default). */
      jupyter?: () => Promise<JupyterAvailability>;
    } = {},
  ) {
    this.gpus = new GpuClaims(scratchRoot, options.gpuDevices);
    void sweepRunCgroups(scratchRoot).catch(() => undefined);
  }

  private readonly gpus: GpuClaims;

  get names(): readonly string[] {
    return this.options.singularity ? ['processes', 'apptainer'] : ['processes'];
  }

  /** Plain processes and apptainer's runs are on the host's network; sandboxed runs have their own (run-network.ts). */
  get sharesHostNetwork(): boolean {
    return !this.options.sandbox || this.options.singularity !== undefined;
  }

  /**
   * Sandboxed runs serve ports only with egress (no network, nothing to reach), and then TCP only:
   * slirp4netns forwards a UDP datagram in, but drops the reply, which goes to its gateway, the
   * host's loopback, which the run may not reach.
   */
  refusesPorts(protocols: readonly string[], kind: string): string | undefined {
    // apptainer's runs are on the host's network (apptainer-executor.ts).
    if (kind === 'executable/singularity-container' && this.options.singularity) return this.options.singularity.refusesPorts?.(protocols, kind);
    if (this.options.sandbox?.network === 'none') return 'this site\'s runs have no network (network: none in the sites file), so no port of theirs can be reached';
    if (this.ownNetwork && protocols.some((protocol) => /^udp$/i.test(protocol))) return 'this site forwards TCP ports to its sandboxed runs, not UDP';
    return undefined;
  }

  /** A sandboxed run with egress: a network namespace of its own, behind slirp4netns. */
  private get ownNetwork(): boolean {
    return this.options.sandbox?.network === 'egress';
  }

  private jupyter(): Promise<JupyterAvailability> {
    return this.options.jupyter ? this.options.jupyter() : detectJupyterOnce();
  }

  abilities(): Promise<readonly KindAbility[]> {
    return detectAbilities({ site: this.options.site ?? 'this', family: 'process', apptainer: this.options.singularity !== undefined }, this.options.tools);
  }

  /** The executor for singularity images, for a spec or a handle of one. */
  private singularityFor(spec: RunSpec): Executor | undefined {
    return spec.kind === 'executable/singularity-container' ? this.options.singularity : undefined;
  }

  private delegateOf(handle: RunHandle): Executor | undefined {
    return handle.executor !== 'local-process' ? this.options.singularity : undefined;
  }

  unsupported(spec: RunSpec): string | undefined | Promise<string | undefined> {
    if (spec.kind === 'executable/singularity-container') {
      return this.options.singularity ? this.options.singularity.unsupported?.(spec) : 'singularity images run here only through apptainer, which this site\'s worker did not find';
    }
    const portsRefused = spec.ports?.length ? this.refusesPorts(spec.ports.map((port) => port.protocol), spec.kind ?? 'executable/docker-container') : undefined;
    if (portsRefused) return portsRefused;
    if (spec.notebook) return this.jupyter().then((found) => (found.available ? undefined : found.reason));
    if (spec.entrypoint || (spec.image && Object.hasOwn(this.developmentImages, spec.image))) return undefined;
    const known = Object.keys(this.developmentImages);
    return `without a container runtime the executable needs an entrypoint${known.length ? ` or one of the site's development images (${known.join(', ')})` : ''}, and image ${spec.image ?? '(none)'} is not one`;
  }

  /** The program and its arguments: the entrypoint asked for, or what a development image stands for. */
  private program(spec: RunSpec): string[] {
    if (spec.entrypoint) return [spec.entrypoint, ...spec.command];
    const image = spec.image && Object.hasOwn(this.developmentImages, spec.image) ? this.developmentImages[spec.image] : undefined;
    if (!image) throw new Error(`without a container runtime the executable needs an entrypoint or one of the site's development images, and image ${spec.image ?? '(none)'} is not one`);
    return [image.entrypoint, ...(image.command ?? []), ...spec.command];
  }

  async submit(spec: RunSpec): Promise<RunHandle> {
    const singularity = this.singularityFor(spec);
    if (singularity) return singularity.submit(spec);
    // A start retried after a crash finds the run it already made, rather than make a second one
    // that no handle would lead to (the first would run on, unstoppable, outside the capacity).
    const made = await madeRun(join(this.scratchRoot, spec.sessionUuid));
    if (made) return made;
    // What cannot run is refused before anything is made on the site.
    let program = spec.notebook ? [] : this.program(spec);
    // Without a container, a mount at /input appears as ./input in the working directory.
    const { dir, cwd } = await prepareSessionDirectory(this.scratchRoot, spec);
    await prepareRunLog(dir, this.options.logBytes);
    const publicHost = this.options.publicHost ?? '127.0.0.1';
    const ports = await publishPorts(spec.ports, publicHost);
    await writeFile(join(dir, PORTS_FILE), JSON.stringify(ports));
    const gpus = await this.gpus.forRun(spec);
    const seconds = Math.max(1, Math.ceil(spec.timeLimitMs / 1000));
    const sandbox = this.options.sandbox;
    let notebookEnvironment: Record<string, string> = {};
    if (spec.notebook) {
      const found = await this.jupyter();
      if (!found.available) throw new Error(found.reason);
      // In a network of its own, the server listens on the run's address, where slirp4netns forwards its port.
      const listen = this.ownNetwork ? '0.0.0.0' : bindAddress(publicHost);
      const run = notebookRun(spec.notebook, { work: join(dir, 'work'), outputs: join(dir, 'outputs'), seconds, listen, python: found.python });
      program = run.program;
      notebookEnvironment = run.environment;
      await writeFile(join(dir, NOTEBOOK_MARK), spec.notebook.mode);
    }
    const environment = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: sandbox ? join(dir, 'work') : dir,
      ...spec.environment,
      ...notebookEnvironment,
      ...portEnvironment(ports),
      ...gpuEnvironment(gpus),
      EB_SESSION: spec.sessionUuid,
      EB_OUTPUTS: join(dir, 'outputs'),
    };
    // As root, the run's cgroups bound its memory and CPU to what was offered.
    const cgroups = await makeRunCgroups(dir, spec.sessionUuid, { ...(spec.cores ? { cores: spec.cores } : {}), ...(spec.memoryMiB ? { memoryMiB: spec.memoryMiB } : {}) });
    const control = {
      EB_LOG: logPipe(dir), EB_EXIT: join(dir, 'exit-code'), EB_TIMED_OUT: timedOutFile(dir), EB_GROUP: join(dir, 'group'), EB_CGROUPS: cgroups.join('\n'),
    };
    let command = program;
    if (sandbox) {
      await giveToRun(dir, sandbox.uid);
      // As root the run is another uid: a development image's files it could not reach where the
      // operator keeps them (a checkout under /root) are copied into the session's directory.
      const imageFiles = this.imageFiles(spec);
      const copies = asRoot() ? await readableCopies(imageFiles, join(dir, 'image'), sandbox.uid) : new Map<string, string>();
      program = program.map((part) => copies.get(part) ?? part);
      const readOnly = [...(spec.mounts ?? []).map((mount) => mount.source), ...imageFiles.map((file) => copies.get(file) ?? file)];
      if (this.ownNetwork) await prepareRunNetwork(dir, asRoot() ? sandbox.uid : undefined);
      await writeFile(join(dir, SANDBOX_OPTIONS), optionsFile(sandboxOptions(sandbox, { dir, cwd, environment, readOnly })), { mode: 0o600 });
      command = sandboxCommand(sandbox, 3, program);
    }
    // Once the run has ended the wrapper removes the sandbox's options, which hold the run's
    // environment (a notebook server's token among it). The wrapper, outside any sandbox, keeps the run's control files in the session's directory,
    // which a sandboxed run does not see: its pid, the process group `timeout` makes (which
    // bwrap is in), and the exit status it observed itself. It calls its programs by absolute
    // path, whatever PATH the request sets; the control variables are not passed on.
    // The output goes through the bounded log writer (log-file.ts), which keeps its end; it starts
    // first, so that it is in none of the run's cgroups. The wrapper enters the run's cgroups
    // before it starts anything else, and once the run is started keeps itself out of the
    // out-of-memory killer's choice (the run's processes stay in it).
    // With a network of its own (run-network.ts) bwrap waits, once the sandbox is made, until the
    // wrapper has slirp4netns up and the ports forwarded; slirp4netns ends with the run.
    const ownNetwork = sandbox !== undefined && this.ownNetwork;
    const wrapper = `echo $$ > "\${EB_GROUP%/*}/pid"; ${START_LOG_WRITER}; ${ENTER_CGROUPS}limit=$1; shift; start=$(/bin/date +%s); ${ownNetwork ? makeNetworkFifos(dir) : ''}`
      + `/usr/bin/timeout --signal=TERM --kill-after=5s "$limit" /usr/bin/env -u EB_LOG -u EB_EXIT -u EB_TIMED_OUT -u EB_GROUP "$@" > "$EB_LOG" 2>&1 ${sandbox ? `3< "${join(dir, SANDBOX_OPTIONS)}" 4> "${join(dir, SANDBOX_STATUS)}" ` : ''}${ownNetwork ? networkDescriptors(dir) : ''}& `
      + `eb_run=$!; echo $eb_run > "$EB_GROUP"; ${cgroups.length ? 'echo -1000 > /proc/$$/oom_score_adj; ' : ''}${ownNetwork ? startNetwork(dir, ports, runAs(sandbox), bindAddress(publicHost)) : ''}`
      + `wait $eb_run; code=$?; ${ownNetwork ? stopNetwork(dir) : ''}times > "${join(dir, CPU_TIMES_FILE)}"; ${cgroups.length ? RECORD_CGROUP_CPU(join(dir, CPU_NS_FILE)) : ''}${sandbox ? `/bin/rm -f "${join(dir, SANDBOX_OPTIONS)}"; ` : ''}${MARK_TIME_OUT}; ${LEAVE_CGROUPS}${AWAIT_LOG_WRITER}; `
      + 'echo "$code" > "$EB_EXIT.tmp" && /bin/mv "$EB_EXIT.tmp" "$EB_EXIT"';
    const child = spawn('/bin/sh', ['-c', wrapper, 'eb-run', `${seconds}s`, ...command], {
      cwd: sandbox ? dir : cwd,
      detached: true,
      stdio: 'ignore',
      // Sandboxed, the run's environment is in its options file; the wrapper gets only its own.
      env: sandbox ? { PATH: '/usr/bin:/bin', ...control } : { ...environment, ...control },
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid ?? 0));
      child.once('error', reject);
    });
    child.unref();
    await writeFile(join(dir, 'pid'), String(pid));
    // The command's group is known once the wrapper has written it (at once, in practice): a run
    // is not handed out before, so that a cancel straight after submit reaches the command too.
    for (let waited = 0; !existsSync(join(dir, 'group')) && waited < GRACE_MS; waited += 10) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const handle: RunHandle = { executor: 'local-process', dir, id: String(pid), ...(ports.length ? { ports } : {}) };
    await writeFile(join(dir, `${HANDLE_FILE}.tmp`), JSON.stringify(handle));
    await rename(join(dir, `${HANDLE_FILE}.tmp`), join(dir, HANDLE_FILE));
    return handle;
  }

  /** The files a development image's program is made of (absolute paths the operator named): the sandbox shows them read-only. */
  private imageFiles(spec: RunSpec): string[] {
    if (spec.entrypoint || !spec.image || !Object.hasOwn(this.developmentImages, spec.image)) return [];
    const image = this.developmentImages[spec.image];
    return [image?.entrypoint ?? '', ...(image?.command ?? [])].filter((path) => isAbsolute(path) && existsSync(path));
  }

  async poll(handle: RunHandle): Promise<RunStatus> {
    const delegate = this.delegateOf(handle);
    if (delegate) return delegate.poll(handle);
    if (existsSync(join(handle.dir, 'cancelled'))) return { state: 'cancelled' };
    const exited = await this.exitStatus(handle);
    if (exited) return exited;
    if (this.alive(handle)) return { state: 'running', ...(await this.answering(handle) ? { answering: true } : {}) };
    // Look again: it may have finished between the two looks.
    const status = await this.exitStatus(handle);
    if (status) return status;
    await removeRunCgroups(handle.dir);
    return { state: 'lost', reason: `process ${handle.id} ended without recording an exit code (killed from outside, or the host restarted)` };
  }

  /** A notebook server that answers HTTP on its published port (once it has, it is not asked again). */
  private async answering(handle: RunHandle): Promise<boolean> {
    if (handle.answering) return true;
    const port = handle.ports?.[0];
    if (!port || readText(join(handle.dir, NOTEBOOK_MARK)) !== 'interactive') return false;
    return serverAnswers(port.external);
  }

  /** How the run ended, from the exit code the wrapper wrote; undefined while there is none. */
  private async exitStatus(handle: RunHandle): Promise<RunStatus | undefined> {
    const exitCode = await recordedExitCode(handle.dir);
    if (exitCode === undefined) return undefined;
    const problem = await sandboxFailure(handle.dir, exitCode);
    const oom = await oomKilled(handle.dir);
    await removeRunCgroups(handle.dir);
    if (problem) return { state: 'lost', reason: problem };
    const detail = exitCode !== 0 && readText(join(handle.dir, NOTEBOOK_MARK)) === 'headless' ? await notebookFailure(join(handle.dir, 'work')) : undefined;
    const cpuSeconds = await recordedCpuSeconds(handle.dir);
    return {
      state: 'exited', exitCode, timedOut: timedOut(handle.dir), ...(oom ? { oomKilled: true } : {}), ...(detail ? { detail } : {}),
      ...(cpuSeconds !== undefined ? { cpuSeconds } : {}),
    };
  }

  /** The run's process groups: the wrapper's, and the one `timeout` made for the command. */
  private groups(handle: RunHandle): number[] {
    const group = Number(readText(join(handle.dir, 'group')));
    return [Number(handle.id), ...(Number.isInteger(group) && group > 0 ? [group] : [])];
  }

  /** A process group of the run exists and is ours (a pid reused after a reboot would not carry our files). */
  private alive(handle: RunHandle): boolean {
    return this.groups(handle).some((pid) => groupAlive(pid, handle.dir));
  }

  async cancel(handle: RunHandle): Promise<void> {
    const delegate = this.delegateOf(handle);
    if (delegate) return delegate.cancel(handle);
    await writeFile(join(handle.dir, 'cancelled'), new Date().toISOString());
    // A notebook server is asked to stop first, so that it saves the notebook into the outputs
    // (no signal reaches into the sandbox): it has a while before its processes are ended.
    if (readText(join(handle.dir, NOTEBOOK_MARK)) === 'interactive' && this.alive(handle)) {
      await requestNotebookStop(join(handle.dir, 'work'));
      for (const end = Date.now() + NOTEBOOK_STOP_MS; Date.now() < end && (await recordedExitCode(handle.dir)) === undefined;) {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // The wrapper's group first: dead, it records no exit code for the command, even when this
    // process is held up between the two signals and the command ends in between.
    await endGroups(this.groups(handle), GRACE_MS);
    // With bwrap gone its sandbox dies (--die-with-parent), and with the sandbox's first process
    // every process of its PID namespace: wait for that, and make sure of it.
    const init = sandboxInit(handle.dir);
    if (init !== undefined) await endProcess(init);
    await removeRunCgroups(handle.dir);
    await removeLogPipe(handle.dir);
    await removeRunNetwork(handle.dir);
    // The sandbox's options hold the run's environment (a notebook server's token among it): not kept past the run.
    await rm(join(handle.dir, SANDBOX_OPTIONS), { force: true });
  }

  logs(handle: RunHandle, offset?: number, limit?: number): ReturnType<Executor['logs']> {
    const delegate = this.delegateOf(handle);
    if (delegate) return delegate.logs(handle, offset, limit);
    return readRunLog(handle.dir, offset, limit);
  }

  outputs(handle: RunHandle): string {
    const delegate = this.delegateOf(handle);
    if (delegate) return delegate.outputs(handle);
    return join(handle.dir, 'outputs');
  }
}
