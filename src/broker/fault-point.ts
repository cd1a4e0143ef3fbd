/**
 * TEST ONLY: a crash on demand, for the fault tests (test/integration/crash-windows.test.ts).
 * Each point sits right after a phase change is written and before the job that carries the
 * session on is added; `EB_FAULT_AFTER=<point>` makes the process SIGKILL itself there, so the tests
 * can show that the reconciler re-drives what the crash left behind. Inert unless that variable is
 * set (read once, when this module loads); never set it in production.
 */
const FAULT_AFTER = typeof process === 'object' ? process.env.EB_FAULT_AFTER : undefined;

export type FaultPoint =
  | 'accept' | 'reject' | 'cancel' | 'offer' | 'direct' | 'provision' | 'submit'
  | 'activate' | 'prepare' | 'stage' | 'ready' | 'start' | 'poll' | 'release' | 'stop'
  /** After the executor made the run, before its handle is stored (the one window not after a phase change). */
  | 'run-made';

export function faultPoint(point: FaultPoint): void {
  if (FAULT_AFTER === point) process.kill(process.pid, 'SIGKILL');
}
