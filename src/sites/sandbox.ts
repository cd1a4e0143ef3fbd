import { execFile } from 'node:child_process';
import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { chmod, chown, lstat, readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readRunLog } from './log-file.js';
import { holderCommand, NETWORK_FAILED_FILE, NETWORK_NAMESPACES, networkOptions, runNetworkMissing } from './run-network.js';

/** How a process run is contained (the site's `isolation`, `network` and `limits`). */
export interface SandboxSettings {
  /**
   * `none`: the run gets a loopback of its own and reaches nothing else; `egress`: a network of
   * its own behind slirp4netns (run-network.ts), which reaches what the host reaches beyond
   * itself, never the host's loopback, and through which its published ports are forwarded.
   */
  network: 'egress' | 'none';
  /** RLIMIT_NPROC inside the run's own user namespace: a cap on the run's processes alone. */
  processesPerRun: number;
  /** The uid (and gid) runs get when the worker is root; a non-root worker's runs keep its uid. */
  uid: number;
  /** Host files and directories the run must not see, even where they lie under /etc or /usr. */
  hidden?: readonly string[];
}

export const DEFAULT_RUN_UID = 65534;
export const DEFAULT_PROCESSES_PER_RUN = 256;

/** Absolute paths of the programs the sandbox needs (never looked up on a PATH a request could set). */
export const BWRAP = '/usr/bin/bwrap';
const SETPRIV = '/usr/bin/setpriv';
const PRLIMIT = '/usr/bin/prlimit';

/** Secrets commonly under /etc that a run never needs: hidden behind an empty file or directory. */
const SECRET_FILES = ['/etc/shadow', '/etc/shadow-', '/etc/gshadow', '/etc/gshadow-', '/etc/sudoers'];
const SECRET_DIRS = ['/etc/ssl/private', '/etc/munge', '/etc/sudoers.d', '/etc/ssh', '/etc/srcnet-eb'];

/** Whether this process is root (and so starts each run as the site's run uid). */
export const asRoot = (): boolean => process.getuid?.() === 0;

/** What the run sees where the system's top-level directories are: the host's, read-only (a merged /usr keeps its links). */
function systemMounts(): string[] {
  const args = ['--ro-bind', '/usr', '/usr', '--ro-bind', '/etc', '/etc'];
  for (const top of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    let info;
    try { info = lstatSync(top); } catch { continue; }
    if (info.isSymbolicLink()) args.push('--symlink', readlinkSync(top), top);
    else if (info.isDirectory()) args.push('--ro-bind', top, top);
  }
  for (const file of SECRET_FILES) if (existsSync(file)) args.push('--ro-bind', '/dev/null', file);
  for (const dir of SECRET_DIRS) if (existsSync(dir)) args.push('--tmpfs', dir, '--remount-ro', dir);
  return args;
}

/** Hides `path` if it exists: an empty directory over a directory, /dev/null over a file. */
function hide(path: string): string[] {
  let info;
  try { info = lstatSync(path); } catch { return []; }
  if (info.isDirectory()) return ['--tmpfs', path, '--remount-ro', path];
  return info.isFile() ? ['--ro-bind', '/dev/null', path] : [];
}

export interface SandboxRun {
  /** The session's directory on the host; the run sees only `work/` and `outputs/` of it (read-write) and `data/` (read-only). */
  dir: string;
  cwd: string;
  environment: Record<string, string>;
  /** More host paths the run reads (staged data elsewhere, a development image's program), read-only. */
  readOnly: readonly string[];
}

/**
 * bubblewrap's options for a run (given to it through a file, `--args`, so that the environment
 * is in no process listing): new user, PID, mount, IPC, UTS and cgroup namespaces (network: its
 * own loopback alone with `network: none`; with `egress`, the one made before bwrap, see
 * sandboxCommand); a read-only system, the session's own directories and nothing else of
 * the host; its own /proc, /dev and /tmp; no capabilities; the request's environment only. When
 * the sandbox's first process (the run's PID 1) ends, the kernel ends every process of the
 * namespace: nothing a run starts outlives it. `--die-with-parent`: killing bwrap ends them too.
 */
export function sandboxOptions(settings: SandboxSettings, run: SandboxRun): string[] {
  const args = [
    '--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
    ...(settings.network === 'none' ? ['--unshare-net'] : []),
    '--die-with-parent', '--new-session', '--hostname', 'eb-run',
    ...systemMounts(),
    '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--tmpfs', '/var/tmp', '--tmpfs', '/run',
    '--bind', join(run.dir, 'work'), join(run.dir, 'work'),
    '--bind', join(run.dir, 'outputs'), join(run.dir, 'outputs'),
    '--ro-bind-try', join(run.dir, 'data'), join(run.dir, 'data'),
  ];
  // With a network of its own the run waits until slirp4netns is up, and resolves names through it.
  if (settings.network === 'egress') {
    const [uid, gid] = asRoot() ? [settings.uid, settings.uid] : [process.getuid?.() ?? 0, process.getgid?.() ?? 0];
    args.push(...networkOptions(run.dir, uid, gid));
  }
  for (const path of run.readOnly) args.push('--ro-bind-try', path, path);
  for (const path of settings.hidden ?? []) args.push(...hide(path));
  args.push('--chdir', run.cwd, '--clearenv');
  for (const [name, value] of Object.entries(run.environment)) args.push('--setenv', name, value);
  return args;
}

/**
 * The command line that starts a sandboxed program: as root, bwrap is started as the run's uid
 * (setpriv), so that the run is that uid on the host too, never root; inside, `prlimit` caps the
 * run's processes. RLIMIT_NPROC is counted per user *namespace* as well as per uid, and each run
 * has its own user namespace: the cap is the run's own, even when every run has the same uid.
 * `optionsFd`: the descriptor the options file is open on.
 */
export function sandboxCommand(settings: SandboxSettings, optionsFd: number, program: readonly string[]): string[] {
  const nproc = String(settings.processesPerRun);
  const bwrap = [BWRAP, '--args', String(optionsFd), '--json-status-fd', String(optionsFd + 1), '--', PRLIMIT, `--nproc=${nproc}:${nproc}`, '--', ...program];
  // With egress, the user and network namespaces are made first (run-network.ts), so that
  // slirp4netns, as the run's uid, can join them; bwrap makes the rest inside.
  return [...runAs(settings), ...(settings.network === 'egress' ? holderCommand() : []), ...bwrap];
}

/** As root, what starts a program as the run's uid, with no groups and no capabilities; nothing otherwise. */
export function runAs(settings: Pick<SandboxSettings, 'uid'>): string[] {
  if (!asRoot()) return [];
  const id = String(settings.uid);
  return [SETPRIV, `--reuid=${id}`, `--regid=${id}`, '--clear-groups', '--inh-caps=-all', '--'];
}

/** The NUL-separated form of options that `bwrap --args` reads. */
export const optionsFile = (options: readonly string[]): string => options.map((option) => `${option}\0`).join('');

const probed = new Map<string, Promise<string | undefined>>();

/**
 * Whether sandboxed runs can start on this host: bwrap runs a trivial program with the same
 * namespaces and, as root, the same change of uid (with `egress`, inside user and network
 * namespaces made first, as runs are, and slirp4netns must be installed). Undefined when it can;
 * else why not. Once per process and setting.
 */
export function probeSandbox(uid = DEFAULT_RUN_UID, network: SandboxSettings['network'] = 'none'): Promise<string | undefined> {
  const key = `${uid}:${network}`;
  const known = probed.get(key);
  if (known) return known;
  const probe = new Promise<string | undefined>((resolve) => {
    if (!existsSync(BWRAP)) { resolve(`${BWRAP} is not installed (Debian: apt-get install bubblewrap)`); return; }
    const missing = network === 'egress' ? runNetworkMissing() : undefined;
    if (missing) { resolve(missing); return; }
    const bwrap = [BWRAP, '--unshare-all', '--die-with-parent', '--new-session', ...systemMounts(), '--proc', '/proc', '--dev', '/dev', '--', '/bin/true'];
    const namespaces = network === 'egress' ? NETWORK_NAMESPACES : [];
    const [program, ...args] = [...runAs({ uid }), ...namespaces, ...bwrap];
    execFile(program as string, args, { timeout: 10_000, env: { PATH: '/usr/bin:/bin' } }, (error, _stdout, stderr) => {
      resolve(error ? `bwrap could not start a sandbox${namespaces.length ? ' in a network namespace of its own' : ''}: ${String(stderr).trim() || error.message}` : undefined);
    });
  });
  probed.set(key, probe);
  return probe;
}

/** The run's bwrap options and bwrap's own report (`--json-status-fd`), in the session's directory, which the run does not see. */
export const SANDBOX_OPTIONS = 'sandbox-options';
export const SANDBOX_STATUS = 'sandbox-status';

/**
 * As root: the run's uid owns its working and outputs directories (and what the site made in
 * them), and can reach them. The session's directory itself, with the control files, stays root's.
 */
export async function giveToRun(dir: string, uid: number): Promise<void> {
  if (!asRoot()) return;
  const own = async (path: string): Promise<void> => {
    const info = await lstat(path);
    if (info.isSymbolicLink()) return;
    await chown(path, uid, uid);
    if (info.isDirectory()) for (const name of await readdir(path)) await own(join(path, name));
  };
  await own(join(dir, 'work'));
  await own(join(dir, 'outputs'));
  // bwrap runs as the run's uid and must reach the directories it binds (0711: no listing of sessions).
  for (const path of [dirname(dir), dir]) {
    const mode = (await stat(path)).mode & 0o7777;
    if ((mode & 0o001) === 0) await chmod(path, mode | 0o011);
  }
  const closed = await untraversable(dirname(dirname(dir)));
  if (closed) throw new Error(`the run's uid ${uid} cannot reach the site's scratch directory: ${closed} is closed to others (make it traversable, chmod o+x, or choose another scratchDir)`);
}

/** The first directory from / to `path` that others may not pass through (no o+x), if any. */
async function untraversable(path: string): Promise<string | undefined> {
  for (let at = path; ; at = dirname(at)) {
    const mode = await stat(at).then((info) => info.mode, () => 0o755);
    if ((mode & 0o001) === 0) return at;
    if (at === dirname(at)) return undefined;
  }
}

/**
 * Why a sandboxed run never started (bwrap could not make its sandbox: it reported no child), or
 * undefined: the recorded status is then the run's own. The last lines of the log say what bwrap said.
 */
export async function sandboxFailure(dir: string, exitCode: number): Promise<string | undefined> {
  const status = await readFile(join(dir, SANDBOX_STATUS), 'utf8').catch(() => undefined);
  if (status === undefined || status.includes('"child-pid"')) {
    // The sandbox was made, but its network could not be (run-network.ts): the program never started.
    const network = await readFile(join(dir, NETWORK_FAILED_FILE), 'utf8').catch(() => undefined);
    return network?.trim().replace(/\s+/g, ' ').slice(0, 400);
  }
  const log = (await readRunLog(dir, 0, 4096).catch(() => ({ text: '' }))).text;
  const said = log.trim().split('\n').slice(-2).join(' ').slice(0, 300);
  return `the sandbox could not start (status ${exitCode})${said ? `: ${said}` : ''}`;
}

/** The host pid of the sandbox's first process (its PID 1), as bwrap reported it; undefined before it started. */
export function sandboxInit(dir: string): number | undefined {
  try {
    const match = /"child-pid":\s*(\d+)/.exec(readFileSync(join(dir, SANDBOX_STATUS), 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}
