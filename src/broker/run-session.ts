import { KINDS_THAT_RUN } from '../domain/executable-abilities.js';
import { parseDuration, parseInstant, parseInterval } from '../domain/iso8601.js';
import { makeMessage, stamp, type Message } from '../domain/messages.js';
import { connectPath } from '../domain/connect-path.js';
import { notebookExecutable, NOTEBOOK_SERVER_PORT, NOTEBOOK_STAGING_NAME, readNotebookExecutable } from '../domain/notebook-executable.js';
import { holdsCapacity, isTerminal, SESSION_PHASES, type SessionPhase } from '../domain/phases.js';
import type { Executor, RunHandle, RunSpec, Stager, StagingCredentials, StagingItem } from './executor.js';
import { faultPoint, type FaultPoint } from './fault-point.js';
import { stagingItemsOf, stagingName } from './staging-sources.js';
import type { BrokerStore, NextStep, NotebookTokens, SessionRecord, SiteCredentials } from './ports.js';

/** The steps of a session's life on its site, each a delayed job with a deterministic id. */
export type LifecycleStep = 'activate' | 'prepare' | 'stage' | 'start' | 'poll' | 'stop';

export interface LifecycleScheduler {
  /** Runs `step` for the session at `at` (ms); `seq` tells repeated polls apart. */
  schedule(step: LifecycleStep, sessionUuid: string, at: number, seq?: number): Promise<void>;
}

export interface RunSessionDeps {
  store: BrokerStore;
  executor: Executor | { unavailable: string };
  stager: Stager;
  /** For a site that acts for the user: its token for each session, and the hosts that may see it. */
  credentials?: { source: SiteCredentials; hosts: readonly string[] };
  scheduler: LifecycleScheduler;
  /** The most a single data resource may bring to the site. */
  maxStagingBytes: number;
  now: () => number;
  site: string;
  pollIntervalMs: number;
  maxLogBytes: number;
  /** Where interactive notebook servers' tokens are made and kept (sealed); without, interactive notebooks fail. */
  notebookTokens?: NotebookTokens;
}

const note = (now: number, kind: string, template: string, values: Record<string, string | number> = {}): Message =>
  stamp(makeMessage(kind, 'INFO', template, values), now);
const problem = (now: number, template: string, values: Record<string, string | number> = {}): Message =>
  stamp(makeMessage('urn:session-failed', 'ERROR', template, values), now);

interface Timing { preparingStart: number; availableStart: number; durationMs: number }

/** The offered schedule, read back from the stored session document. */
function timingOf(session: SessionRecord): Timing | undefined {
  const schedule = session.document.schedule as Record<string, Record<string, string>> | undefined;
  const preparing = parseInstant(schedule?.preparing?.start ?? '');
  const available = parseInterval(schedule?.available?.start ?? '');
  const duration = parseDuration(schedule?.available?.duration ?? '');
  if (preparing === undefined || !available.ok || !duration.ok) return undefined;
  return { preparingStart: preparing, availableStart: available.interval.start, durationMs: duration.ms };
}

/** The phases of an accepted session that has not ended. */
const NOT_TERMINAL: SessionPhase[] = SESSION_PHASES.filter((phase) => holdsCapacity(phase) && phase !== 'OFFERED');

async function fail(deps: RunSessionDeps, uuid: string, template: string, values: Record<string, string | number> = {}): Promise<void> {
  await deps.store.finish(uuid, NOT_TERMINAL, 'FAILED', deps.now(), problem(deps.now(), template, values));
}

/**
 * Moves the session on, recording the step that follows in the same atomic step (the outbox), then
 * adds that step's job: a crash between the two leaves the step for the reconciler. False when the
 * session was no longer in `from`.
 */
async function advanceThen(deps: RunSessionDeps, uuid: string, from: SessionPhase, to: SessionPhase, message: Message, next: NextStep & { step: LifecycleStep }, point: FaultPoint): Promise<boolean> {
  if (!(await deps.store.advance(uuid, from, to, deps.now(), message, next))) return false;
  faultPoint(point);
  await deps.scheduler.schedule(next.step, uuid, next.at, next.seq);
  return true;
}

/** A repeated step (stage, poll) of a session still in `phase`: recorded as its next step, then added. */
/** Plans the next look in this phase; false when the session has left it (cancelled, say). */
async function repeat(deps: RunSessionDeps, uuid: string, phase: SessionPhase, step: 'stage' | 'poll', seq: number): Promise<boolean> {
  const next = { step, seq, at: deps.now() + deps.pollIntervalMs };
  if (!(await deps.store.planNext(uuid, phase, next))) return false;
  faultPoint(step);
  await deps.scheduler.schedule(step, uuid, next.at, seq);
  return true;
}

/** ACCEPTED -> WAITING, and the preparation timer at `preparing.start`. */
export async function activateSession(deps: RunSessionDeps, uuid: string): Promise<void> {
  const session = await deps.store.getSession(uuid);
  if (!session || session.phase !== 'ACCEPTED') return;
  const timing = timingOf(session);
  if (!timing) return fail(deps, uuid, 'The session has no schedule the site can follow');
  await advanceThen(deps, uuid, 'ACCEPTED', 'WAITING', note(deps.now(), 'urn:phase-change', 'Waiting on site {site} until {start}',
    { site: deps.site, start: new Date(timing.preparingStart).toISOString() }), { step: 'prepare', at: timing.preparingStart }, 'activate');
}

/** WAITING -> PREPARING -> AVAILABLE, and the start timer at `available.start`. */
export async function prepareSession(deps: RunSessionDeps, uuid: string): Promise<void> {
  const session = await deps.store.getSession(uuid);
  // PREPARING too: a step that failed after the phase moved is retried from where it stopped
  // (starting the staging and its first check are both harmless to repeat).
  if (!session || (session.phase !== 'WAITING' && session.phase !== 'PREPARING')) return;
  const timing = timingOf(session);
  if (!timing) return fail(deps, uuid, 'The session has no schedule the site can follow');
  const items = stagingItems(session, deps.maxStagingBytes);
  if (typeof items === 'string') return fail(deps, uuid, 'Site {site} cannot stage the data: {why}', { site: deps.site, why: items });
  // Before PREPARING: an issuer that cannot be reached throws, and the retried step finds WAITING again.
  let credentials: StagingCredentials | undefined;
  if (deps.credentials) {
    const got = await deps.credentials.source.forSession(uuid);
    if ('refused' in got) return fail(deps, uuid, 'Site {site} cannot act for the user: {why}', { site: deps.site, why: got.refused });
    credentials = { token: got.token, hosts: deps.credentials.hosts };
  }
  if (session.phase === 'WAITING') {
    // Should this process die now, the step is done again (seq 1: this job may still look active).
    const moved = await deps.store.advance(uuid, 'WAITING', 'PREPARING', deps.now(), note(deps.now(), 'urn:phase-change', 'Preparing'), { step: 'prepare', seq: 1, at: deps.now() });
    if (!moved) return;
    faultPoint('prepare');
  }
  if (items.length === 0) return ready(deps, uuid, timing);
  await deps.stager.start(uuid, items, credentials);
  // Cancelled while the downloader was starting: the stop step may have run before it existed.
  if (!(await repeat(deps, uuid, 'PREPARING', 'stage', 1))) await deps.stager.stop?.(uuid);
}

async function ready(deps: RunSessionDeps, uuid: string, timing: Timing): Promise<void> {
  await advanceThen(deps, uuid, 'PREPARING', 'AVAILABLE', note(deps.now(), 'urn:phase-change', 'Every component is ready'), { step: 'start', at: timing.availableStart }, 'ready');
}

/** PREPARING: looks at the staging of the data until it is done (AVAILABLE) or failed. */
export async function checkStaging(deps: RunSessionDeps, uuid: string, seq: number): Promise<void> {
  const session = await deps.store.getSession(uuid);
  if (!session || session.phase !== 'PREPARING') return;
  const timing = timingOf(session);
  if (!timing) return fail(deps, uuid, 'The session has no schedule the site can follow');
  const status = await deps.stager.status(uuid);
  if (status.state === 'running') {
    // Stalled (no byte for the site's stagingStall) and past the planned preparation: it will not make it.
    if (status.stalledSince !== undefined && deps.now() >= timing.availableStart) {
      await deps.stager.stop?.(uuid);
      return fail(deps, uuid, 'Staging the data stalled: no bytes since {since}, past the planned end of preparing at {end}; {done} of {expected} bytes had arrived', {
        since: new Date(status.stalledSince).toISOString(), end: new Date(timing.availableStart).toISOString(),
        done: status.bytesDone ?? 0, expected: status.bytesExpected ?? 'an unknown number of',
      });
    }
    const progress = status.bytesDone === undefined ? undefined : { bytesDone: status.bytesDone, ...(status.bytesExpected !== undefined ? { bytesExpected: status.bytesExpected } : {}) };
    if (progress && (progress.bytesDone !== session.staging?.bytesDone || progress.bytesExpected !== session.staging?.bytesExpected)) await deps.store.setStaging(uuid, progress);
    if (!(await repeat(deps, uuid, 'PREPARING', 'stage', seq + 1))) await deps.stager.stop?.(uuid);
    return;
  }
  if (status.state === 'failed') return fail(deps, uuid, 'Staging the data failed: {reason}', { reason: status.reason });
  return ready(deps, uuid, timing);
}

type Doc = Record<string, unknown>;
const isDoc = (value: unknown): value is Doc => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * What the stager brings before the run: a notebook executable's notebook (with the same size
 * limit and egress policy as data), then each data resource, from where its kind says it is
 * (broker/staging-sources.ts).
 */
function stagingItems(session: SessionRecord, maxBytes: number): StagingItem[] | string {
  const items: StagingItem[] = [];
  const exe = notebookExecutable(session.document.executable);
  if (exe) {
    const notebook = readNotebookExecutable(exe);
    if (typeof notebook === 'string') return notebook;
    items.push({ name: NOTEBOOK_STAGING_NAME, url: notebook.location, maxBytes });
  }
  const data = stagingItemsOf(session.document, maxBytes);
  if (typeof data === 'string') return data;
  for (const item of data) {
    if (items.some((other) => other.name === item.name)) return `data [${item.name}] has the name the notebook is staged under, or another data resource's`;
    items.push(item);
  }
  return items;
}

/** The volume mounts of the compute resource, each to the staged copy of the data it names. */
function mountsOf(session: SessionRecord, staged: Record<string, string>): Array<{ path: string; source: string }> {
  const compute = isDoc(session.document.compute) ? session.document.compute : {};
  const volumes = Array.isArray(compute.volumes) ? compute.volumes.filter(isDoc) : [];
  // A mount names its resource by uuid (offers are written so), or by name in older documents.
  const byUuid = new Map<unknown, string>();
  for (const data of Array.isArray(session.document.data) ? session.document.data.filter(isDoc) : []) {
    byUuid.set((data.meta as Doc | undefined)?.uuid, stagingName(data));
  }
  return volumes.flatMap((volume) => {
    const source = staged[byUuid.get(volume.resource) ?? String(volume.resource ?? '')];
    return source && typeof volume.path === 'string' ? [{ path: volume.path, source }] : [];
  });
}

/** The cores, memory and GPUs offered, for executors that ask a scheduler for them. */
function offeredCompute(session: SessionRecord): Pick<RunSpec, 'cores' | 'memoryMiB' | 'gpus'> {
  const compute = isDoc(session.document.compute) ? session.document.compute : {};
  const amount = (range: unknown): number | undefined => (isDoc(range) && typeof range.max === 'number' ? range.max : undefined);
  const cores = amount(compute.cores);
  const memoryGiB = amount(compute.memory);
  const gpu = isDoc(compute['srcnet.gpu']) ? compute['srcnet.gpu'] : {};
  return {
    ...(cores ? { cores } : {}),
    ...(memoryGiB ? { memoryMiB: Math.round(memoryGiB * 1024) } : {}),
    ...(typeof gpu.count === 'number' && gpu.count > 0 ? { gpus: { count: gpu.count, ...(typeof gpu.model === 'string' ? { model: gpu.model } : {}) } } : {}),
  };
}

/** The ports the executable listens on; a string (why) when one is not a port. */
function portsOf(exe: Doc): RunSpec['ports'] | string {
  const network = isDoc(exe.network) ? exe.network : {};
  const ports: NonNullable<RunSpec['ports']> = [];
  for (const port of Array.isArray(network.ports) ? network.ports.filter(isDoc) : []) {
    const internal = isDoc(port.internal) ? port.internal.port : undefined;
    if (!Number.isInteger(internal) || (internal as number) < 1 || (internal as number) > 65535) return `network port ${JSON.stringify(internal ?? null)} is not a port number`;
    const protocol = typeof port.protocol === 'string' && port.protocol !== '' ? port.protocol.toUpperCase() : 'TCP';
    if (!['TCP', 'UDP', 'HTTP', 'HTTPS'].includes(protocol)) return `network protocol ${protocol.slice(0, 20)} is not one of TCP, UDP, HTTP, HTTPS`;
    if (ports.some((p) => p.internal === internal && (p.protocol === 'UDP') === (protocol === 'UDP'))) continue;
    ports.push({ internal: internal as number, protocol });
  }
  return ports;
}

/** The executable's kind as the broker names it (`executable/<name>`), from the stored v1.0 kind URI. */
function canonicalExecutableKind(uri: string): string | undefined {
  const match = /\/executable\/([A-Za-z0-9-]+)\.yaml$/.exec(uri);
  return match ? `executable/${match[1]}` : undefined;
}

/** A notebook executable's run: the staged notebook, served (one port, published) or run headless. */
function notebookSpec(session: SessionRecord, exe: Doc, timing: Timing): RunSpec | string {
  const notebook = readNotebookExecutable(exe);
  if (typeof notebook === 'string') return notebook;
  return {
    sessionUuid: session.uuid, kind: 'executable/jupyter-notebook', command: [], environment: {}, timeLimitMs: timing.durationMs,
    ...(notebook.mode === 'interactive' ? { ports: [{ internal: NOTEBOOK_SERVER_PORT, protocol: 'HTTP' }] } : {}),
    // The staged copy's path is filled in once the stager says where it is.
    notebook: { source: '', name: notebook.name, mode: notebook.mode, parameters: notebook.parameters, baseUrl: `${connectPath(session.uuid)}/` },
  };
}

/** What the executable asks to run; a string (why) when no site could run it. */
function runSpec(session: SessionRecord, timing: Timing): RunSpec | string {
  const exe = session.document.executable as Record<string, unknown> | undefined;
  const notebook = notebookExecutable(exe);
  if (notebook) return notebookSpec(session, notebook, timing);
  const kind = exe ? canonicalExecutableKind(String(exe.kind ?? '')) : undefined;
  if (!exe || !kind || !KINDS_THAT_RUN.includes(kind)) return `this broker does not run ${kind?.replace(/^executable\//, '') ?? 'these'} executables yet`;
  if (kind === 'executable/singularity-container') {
    const location = typeof exe.location === 'string' && exe.location !== '' ? exe.location : undefined;
    if (!location) return 'the singularity-container executable names no location';
    return { sessionUuid: session.uuid, kind, image: location, command: [], environment: {}, timeLimitMs: timing.durationMs };
  }
  const image = isDoc(exe.image) && Array.isArray(exe.image.locations) ? exe.image.locations.find((l): l is string => typeof l === 'string' && l !== '') : undefined;
  const entrypoint = typeof exe.entrypoint === 'string' && exe.entrypoint !== '' ? exe.entrypoint : undefined;
  if (!image && !entrypoint) return 'the executable names neither an image nor an entrypoint';
  const command = Array.isArray(exe.command) ? exe.command.map(String) : [];
  const environment = (exe.environment ?? {}) as Record<string, string>;
  const ports = portsOf(exe);
  if (typeof ports === 'string') return ports;
  return {
    sessionUuid: session.uuid, kind, ...(image ? { image } : {}), ...(entrypoint ? { entrypoint } : {}),
    command, environment, timeLimitMs: timing.durationMs,
    ...(ports?.length ? { ports } : {}),
    ...(exe.privileged === true ? { privileged: true } : {}),
  };
}

/** AVAILABLE -> RUNNING: hands the executable to the executor and starts polling it. */
export async function startSession(deps: RunSessionDeps, uuid: string): Promise<void> {
  const session = await deps.store.getSession(uuid);
  // A start that died between making the run and RUNNING, retried after a cancel: its run goes too.
  if (session && (session.phase === 'CANCELLED' || session.phase === 'FAILED') && session.run && !('unavailable' in deps.executor)) {
    await deps.executor.cancel(session.run as RunHandle);
    return;
  }
  if (!session || session.phase !== 'AVAILABLE') return;
  const timing = timingOf(session);
  if (!timing) return fail(deps, uuid, 'The session has no schedule the site can follow');
  if ('unavailable' in deps.executor) return fail(deps, uuid, 'Site {site} cannot run sessions: {why}', { site: deps.site, why: deps.executor.unavailable });
  const spec = runSpec(session, timing);
  // The offered size first: whether the executor can give it (GPUs) is part of what it supports.
  if (typeof spec !== 'string') Object.assign(spec, offeredCompute(session));
  // Each executor refuses the kinds it cannot run (a notebook's spec has kind executable/jupyter-notebook).
  const why = typeof spec === 'string' ? spec : await deps.executor.unsupported?.(spec);
  if (why !== undefined || typeof spec === 'string') return fail(deps, uuid, 'Site {site} cannot run this executable: {why}', { site: deps.site, why: why ?? '' });
  const items = stagingItems(session, deps.maxStagingBytes);
  if (typeof items !== 'string' && items.length) {
    const staged = await deps.stager.start(uuid, items);
    spec.mounts = mountsOf(session, staged);
    if (spec.notebook) spec.notebook.source = staged[NOTEBOOK_STAGING_NAME] ?? '';
  }
  if (spec.notebook?.mode === 'interactive') {
    // Kept until a while after the offered end (the Lua step that ends the session deletes it sooner).
    const token = await deps.notebookTokens?.issue(uuid, deps.now() + timing.durationMs + 3_600_000);
    if (!token) return fail(deps, uuid, 'Site {site} cannot run this executable: {why}', { site: deps.site, why: 'no token could be made for the notebook server' });
    spec.notebook.token = token;
  }
  // A start retried after a crash finds the run it already made: stored, or (killed between the
  // two) found by the executor itself, whose submit gives back the run it made for this session.
  const run = (await deps.store.getRun(uuid)) as RunHandle | undefined ?? await deps.executor.submit(spec);
  faultPoint('run-made');
  // Where the outputs are is kept with the run, for the API to find them once COMPLETED.
  await deps.store.setRun(uuid, { ...run, outputs: deps.executor.outputs(run) });
  const running = await advanceThen(deps, uuid, 'AVAILABLE', 'RUNNING', note(deps.now(), 'urn:phase-change', 'Running on site {site}', { site: deps.site }),
    { step: 'poll', seq: 1, at: deps.now() + deps.pollIntervalMs }, 'start');
  // Cancelled while the run was being started: the stop step may have found no run yet.
  if (!running) await deps.executor.cancel(run);
}

type StoredHandle = RunHandle & { logOffset?: number; cpuSeconds?: number };

/** Copies the log text the run wrote since the last copy to Redis; the run with its new offset. */
async function copyLog(deps: RunSessionDeps, executor: Executor, uuid: string, run: StoredHandle): Promise<StoredHandle> {
  // At most what Redis keeps, and the end of it: a run that wrote more since the last copy loses its middle.
  const { text, next, skipped = 0 } = await executor.logs(run, run.logOffset ?? 0, deps.maxLogBytes);
  if (text || skipped) await deps.store.appendLog(uuid, text, deps.maxLogBytes, skipped);
  if (next === run.logOffset) return run;
  const moved = { ...run, logOffset: next };
  await deps.store.setRun(uuid, moved);
  return moved;
}

/** RUNNING: copies new log text to Redis; at the end, RELEASING -> COMPLETED or FAILED. */
export async function pollSession(deps: RunSessionDeps, uuid: string, seq: number): Promise<void> {
  const session = await deps.store.getSession(uuid);
  const stored = (await deps.store.getRun(uuid)) as StoredHandle | undefined;
  if (!session || !stored || 'unavailable' in deps.executor) return;
  const executor = deps.executor;
  const run = await copyLog(deps, executor, uuid, stored);
  if (isTerminal(session.phase)) return; // cancelled meanwhile: `stop` ends the run
  const status = await executor.poll(run);
  if (status.state === 'running') {
    // Kept with the run: the connector of a server says AVAILABLE once it has answered.
    if (status.answering && !run.answering) await deps.store.setRun(uuid, { ...run, answering: true });
    await repeat(deps, uuid, 'RUNNING', 'poll', seq + 1);
    return;
  }
  // What the run wrote between the copy above and its end.
  await copyLog(deps, executor, uuid, run);
  // Kept with the run before the step that ends the session, which charges by it.
  if (status.state === 'exited' && status.cpuSeconds !== undefined && run.cpuSeconds !== status.cpuSeconds) await deps.store.setRun(uuid, { ...run, cpuSeconds: status.cpuSeconds });
  // Should this process die before the end is recorded, a poll (seq 0, which no chain uses) ends it.
  await deps.store.advance(uuid, 'RUNNING', 'RELEASING', deps.now(), note(deps.now(), 'urn:phase-change', 'Releasing'), { step: 'poll', seq: 0, at: deps.now() });
  faultPoint('release');
  const outputs = executor.outputs(run);
  if (status.state === 'exited' && status.exitCode === 0) {
    await deps.store.finish(uuid, ['RELEASING'], 'COMPLETED', deps.now(), note(deps.now(), 'urn:session-completed',
      'The executable exited with status 0; outputs are in {outputs} on site {site}', { outputs, site: deps.site }));
  } else if (status.state === 'exited' && status.timedOut) {
    await deps.store.finish(uuid, ['RELEASING'], 'COMPLETED', deps.now(), note(deps.now(), 'urn:session-completed',
      'The offered duration ended and the executable was stopped; outputs are in {outputs} on site {site}', { outputs, site: deps.site }));
  } else if (status.state === 'exited' && status.oomKilled) {
    await fail(deps, uuid, 'The executable exited with status {status}: it ran out of memory ({memory} offered)', { status: status.exitCode, memory: offeredMemory(session) });
  } else if (status.state === 'exited' && killedBy(status.exitCode) === 'SIGKILL') {
    // Runtimes that cannot tell (podman on cgroups v1) leave an out-of-memory kill looking like this.
    await fail(deps, uuid, 'The executable exited with status {status}: killed by SIGKILL, which is also how running out of memory ends ({memory} offered)',
      { status: status.exitCode, memory: offeredMemory(session) });
  } else if (status.state === 'exited' && killedBy(status.exitCode)) {
    await fail(deps, uuid, 'The executable exited with status {status}: killed by {signal}', { status: status.exitCode, signal: killedBy(status.exitCode) ?? '' });
  } else if (status.state === 'exited' && status.detail) {
    await fail(deps, uuid, 'The executable exited with status {status}: {why}', { status: status.exitCode, why: status.detail });
  } else if (status.state === 'exited') {
    await fail(deps, uuid, 'The executable exited with status {status}', { status: status.exitCode });
  } else if (status.state === 'stopped') {
    await fail(deps, uuid, 'Site {site} stopped the run: {why}', { site: deps.site, why: status.reason });
  } else if (status.state === 'lost') {
    await fail(deps, uuid, 'Site {site} lost the run: {why}', { site: deps.site, why: status.reason });
  } else {
    // Cancelled on the site, not by the client (a client's cancel ends the session first).
    await fail(deps, uuid, 'The run was cancelled on site {site}', { site: deps.site });
  }
}

/** A shell's status 128 + n means the process ended on signal n; the usual ones by name. */
const SIGNALS: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 4: 'SIGILL', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE', 9: 'SIGKILL', 11: 'SIGSEGV', 13: 'SIGPIPE', 15: 'SIGTERM' };
const killedBy = (exitCode: number): string | undefined => SIGNALS[exitCode - 128];

const offeredMemory = (session: SessionRecord): string => {
  const compute = isDoc(session.document.compute) ? session.document.compute : {};
  return isDoc(compute.memory) && typeof compute.memory.max === 'number' ? `${compute.memory.max} GiB` : 'no limit';
};

/** After a cancel: stops the staging and the run, if there are any, and copies the last of the log. */
export async function stopSession(deps: RunSessionDeps, uuid: string): Promise<void> {
  faultPoint('stop');
  // A download still running (cancelled while PREPARING) would go on filling the site's disk.
  await deps.stager.stop?.(uuid);
  const run = (await deps.store.getRun(uuid)) as RunHandle | undefined;
  if (run && !('unavailable' in deps.executor)) {
    await deps.executor.cancel(run);
    await pollSession(deps, uuid, 0);
  }
  // Nothing follows a stop (the outbox recorded it when the session was cancelled or failed).
  await deps.store.settleDue(uuid, deps.site, 'stop');
}

/** A step that kept failing (every retry used up): the session fails, saying which and why, rather than stay stuck. */
export async function giveUpStep(deps: RunSessionDeps, uuid: string, step: string, reason: string): Promise<void> {
  const run = (await deps.store.getRun(uuid)) as RunHandle | undefined;
  if (run && !('unavailable' in deps.executor)) await deps.executor.cancel(run).catch(() => undefined);
  await fail(deps, uuid, 'Site {site} could not {step} the session: {reason}', { site: deps.site, step, reason: reason.slice(0, 500) });
}
