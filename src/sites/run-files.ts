import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The files a detached run keeps in its session directory (`pid`, `exit-code`, `log/`, ...):
 * they outlive the worker that started the run, so any worker reads how it is going from them.
 */
export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Shell for a wrapper that ran a program under `timeout --kill-after=... "$limit"` (limit `<n>s`)
 * from `$start` (epoch seconds) and got `$code`: marks a time-out in `$EB_TIMED_OUT`. `timeout`
 * ends with 124 (TERM worked) or 137 (KILL was needed) at the limit, but a program can end so on
 * its own (137 is any SIGKILL, the out-of-memory killer's too): only a status that came once the
 * limit had passed is the limit's.
 */
export const MARK_TIME_OUT = 'if { [ "$code" = 124 ] || [ "$code" = 137 ]; } && [ $(($(date +%s) - start)) -ge "${limit%s}" ]; then : > "$EB_TIMED_OUT"; fi';

/** The file MARK_TIME_OUT writes (a container's poll past its deadline writes it too). */
export const timedOutFile = (dir: string): string => join(dir, 'timed-out');

/** Whether the run of `dir` was ended by its time limit. */
export function timedOut(dir: string): boolean {
  return existsSync(timedOutFile(dir));
}

/** Where a wrapper writes its shell's `times` once the run has ended: the CPU time of what it waited for. */
export const CPU_TIMES_FILE = 'cpu-times';
/** Where a wrapper writes what the run's cpuacct cgroup counted (ns), where it had one. */
export const CPU_NS_FILE = 'cpu-ns';

/**
 * The run's CPU seconds: what its cpuacct cgroup counted where it had one (every process of the
 * run), else the `times` line a wrapper wrote (`0m1.230000s 0m0.100000s` for the children it
 * waited for: not a sandboxed run's, which bwrap's init reaps); undefined when neither is there.
 */
export async function recordedCpuSeconds(dir: string): Promise<number | undefined> {
  const counted = Number((await readFile(join(dir, CPU_NS_FILE), 'utf8').catch(() => '')).trim());
  if (counted > 0) return Math.round(counted / 1e6) / 1000;
  const text = await readFile(join(dir, CPU_TIMES_FILE), 'utf8').catch(() => undefined);
  const children = text?.trim().split('\n').at(-1) ?? '';
  const parts = [...children.matchAll(/(\d+)m(\d+(?:\.\d+)?)s/g)];
  if (parts.length !== 2) return undefined;
  return Math.round(parts.reduce((sum, [, minutes, seconds]) => sum + Number(minutes) * 60 + Number(seconds), 0) * 1000) / 1000;
}

/** The exit code a wrapper recorded in `<dir>/exit-code`; undefined while there is none. */
export async function recordedExitCode(dir: string): Promise<number | undefined> {
  const text = await readFile(join(dir, 'exit-code'), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : Number(text.trim());
}

/**
 * The process group `pid` leads exists and belongs to the run of `dir` (its environment names the
 * run's exit-code file), so that a pid reused after a reboot is not taken for the run.
 */
export function groupAlive(pid: number, dir: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(-pid, 0);
  } catch {
    return false;
  }
  const environ = procEnviron(pid);
  return environ === undefined || environ.includes(`EB_EXIT=${join(dir, 'exit-code')}`);
}

/** The environment of a process, NUL-separated as procfs gives it, or undefined where it cannot say. */
function procEnviron(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8');
  } catch {
    return undefined;
  }
}

/** Signals the process groups; true when any of them was there to signal. */
export function signalGroups(groups: readonly number[], signal: NodeJS.Signals | 0): boolean {
  return groups.map((pid) => {
    try { process.kill(-pid, signal); return true; } catch { return false; }
  }).some(Boolean);
}

/** TERM, then KILL after `graceMs` for whatever is left; resolves once the groups are gone. */
export async function endGroups(groups: readonly number[], graceMs: number): Promise<void> {
  if (!signalGroups(groups, 'SIGTERM')) return;
  const end = Date.now() + graceMs;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    if (!signalGroups(groups, 0)) return;
  }
  signalGroups(groups, 'SIGKILL');
  // Resolve once the kernel has taken them away, as promised.
  for (const until = Date.now() + 2_000; Date.now() < until && signalGroups(groups, 0);) await new Promise((r) => setTimeout(r, 50));
}

/** Waits up to 2 s for a process to be gone, then kills it; resolves once it is gone. */
export async function endProcess(pid: number): Promise<void> {
  const there = (): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };
  for (const until = Date.now() + 2_000; Date.now() < until && there();) await new Promise((r) => setTimeout(r, 20));
  if (!there()) return;
  try { process.kill(pid, 'SIGKILL'); } catch { return; }
  for (const until = Date.now() + 2_000; Date.now() < until && there();) await new Promise((r) => setTimeout(r, 20));
}
