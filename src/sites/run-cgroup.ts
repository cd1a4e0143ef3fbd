import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The file in a session's directory that lists the run's cgroup directories, one a line. */
const CGROUPS_FILE = 'cgroups';
const CPU_PERIOD_US = 100_000;

/** What a run was offered, as cgroup limits. */
export interface RunLimits { cores?: number; memoryMiB?: number }

/**
 * The worker's own cgroup under a cgroup v1 controller (from /proc/self/cgroup), so that a run's
 * cgroup is made inside it (the worker's own limits still hold for its runs); undefined where the
 * controller is not mounted on its own (cgroups v2, or none).
 */
function ownCgroup(controller: string): string | undefined {
  try {
    for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      const [, controllers, path] = line.split(':');
      if (controllers?.split(',').includes(controller)) return join('/sys/fs/cgroup', controller, path ?? '/');
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/**
 * Makes the run's cgroups (v1 `memory`, `cpu` and `cpuacct`, each where the worker may write it:
 * as root) with the memory and CPU the run was offered (cpuacct counts its CPU time), and lists them in the session's directory. Returns
 * the directories the run's wrapper is to enter first thing (its children then stay in them: a
 * sandboxed run sees no cgroup file system and cannot leave). None where cgroups cannot be made.
 */
export async function makeRunCgroups(dir: string, session: string, limits: RunLimits): Promise<string[]> {
  if (process.getuid?.() !== 0) return [];
  const wanted: Array<[string, Array<[string, string]>]> = [];
  if (limits.memoryMiB) wanted.push(['memory', [['memory.limit_in_bytes', String(limits.memoryMiB * 1024 * 1024)]]]);
  if (limits.cores) wanted.push(['cpu', [['cpu.cfs_period_us', String(CPU_PERIOD_US)], ['cpu.cfs_quota_us', String(Math.round(limits.cores * CPU_PERIOD_US))]]]);
  // No limit: it counts the run's CPU time (cpuacct.usage), which its actual costs are charged by.
  wanted.push(['cpuacct', []]);
  const made: string[] = [];
  for (const [controller, settings] of wanted) {
    const parent = ownCgroup(controller);
    if (!parent) continue;
    const cgroup = join(parent, 'srcnet-eb', session);
    try {
      await mkdir(cgroup, { recursive: true });
      for (const [file, value] of settings) await writeFile(join(cgroup, file), value);
      made.push(cgroup);
    } catch {
      await rmdir(cgroup).catch(() => undefined);
    }
  }
  await writeFile(join(dir, CGROUPS_FILE), made.map((cgroup) => `${cgroup}\n`).join(''));
  return made;
}

async function listed(dir: string): Promise<string[]> {
  const text = await readFile(join(dir, CGROUPS_FILE), 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line.startsWith('/sys/fs/cgroup/'));
}

/** Whether the kernel killed a process of the run for going over its memory (its memory cgroup says so). */
export async function oomKilled(dir: string): Promise<boolean> {
  for (const cgroup of await listed(dir)) {
    const control = await readFile(join(cgroup, 'memory.oom_control'), 'utf8').catch(() => '');
    if (Number(/^oom_kill (\d+)/m.exec(control)?.[1] ?? 0) > 0) return true;
  }
  return false;
}

/**
 * Removes the run's cgroups once it is over. The kernel takes the sandbox's last processes away a
 * moment after bwrap has ended, so a cgroup still busy is tried again for up to a second (one
 * still in use after that stays).
 */
export async function removeRunCgroups(dir: string): Promise<void> {
  for (const cgroup of await listed(dir)) {
    for (let attempt = 0; attempt < 20; attempt++) {
      const code = await rmdir(cgroup).then(() => undefined, (error: NodeJS.ErrnoException) => error.code);
      if (code !== 'EBUSY') break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Shell, once the run has ended and before the wrapper leaves its cgroups: the CPU time its cpuacct
 * cgroup counted (ns) into `$1`. Sandboxed runs need it: bwrap's own init reaps the run's
 * processes and is not waited for, so the shell's `times` never sees their CPU time.
 */
export const RECORD_CGROUP_CPU = (file: string): string =>
  `for cgroup in $EB_CGROUPS; do if [ -f "$cgroup/cpuacct.usage" ]; then /bin/cat "$cgroup/cpuacct.usage" > "${file}"; fi; done; `;

/** Shell for the wrapper's first step: moves itself into the cgroups listed in `$EB_CGROUPS` (a newline-separated list). */
export const ENTER_CGROUPS = 'for cgroup in $EB_CGROUPS; do echo $$ > "$cgroup/cgroup.procs"; done; ';

/**
 * Shell, once the run has ended: the wrapper goes back to the worker's own cgroups (the parents of
 * `srcnet-eb/<session>`), so that what it starts while it finishes (the log writer's watchdog,
 * whose `sleep` may outlive it by a moment) does not keep the run's cgroups busy past their removal.
 */
export const LEAVE_CGROUPS = 'for cgroup in $EB_CGROUPS; do echo $$ > "${cgroup%/srcnet-eb/*}/cgroup.procs"; done; ';

/**
 * A run whose cgroups may go: it ended (its session directory says so), or it never started (no
 * pid a minute after its cgroups were made: a worker killed inside submit). A cgroup still in use
 * is not removed anyway (rmdir refuses it).
 */
async function over(dir: string): Promise<boolean> {
  if (['exit-code', 'cancelled', 'result.json'].some((marker) => existsSync(join(dir, marker)))) return true;
  const made = await stat(join(dir, CGROUPS_FILE)).then((info) => info.mtimeMs, () => undefined);
  return made !== undefined && !existsSync(join(dir, 'pid')) && Date.now() - made > 60_000;
}

/**
 * Removes the cgroups of this site's runs that are over but were left behind (a worker killed
 * between a run's end and the removal, or inside submit). Run when a worker starts.
 */
export async function sweepRunCgroups(scratchRoot: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  for (const controller of ['memory', 'cpu', 'cpuacct']) {
    const parent = ownCgroup(controller);
    if (!parent) continue;
    const names = await readdir(join(parent, 'srcnet-eb'), { withFileTypes: true }).catch(() => []);
    for (const entry of names) {
      if (!entry.isDirectory()) continue;
      if (await over(join(scratchRoot, entry.name))) await rmdir(join(parent, 'srcnet-eb', entry.name)).catch(() => undefined);
    }
  }
}
