import { offerExpiredNote, unboundExpiredNote } from '../domain/messages.js';
import { isTerminal } from '../domain/phases.js';
import type { BrokerStore } from './ports.js';
import type { LifecycleScheduler, LifecycleStep } from './run-session.js';

const LIFECYCLE: ReadonlySet<string> = new Set<LifecycleStep>(['activate', 'prepare', 'stage', 'start', 'poll', 'stop']);

export interface ReconcileDeps {
  store: BrokerStore;
  scheduler: LifecycleScheduler;
  site: string;
  now: () => number;
  /** How late a step may be before it counts as lost (a job waiting for a busy worker is not). */
  graceMs: number;
  /** The most sessions looked at in one pass (the rest in the next). */
  batch?: number;
}

/**
 * Re-drives every session of a site whose next step (recorded with its last phase change, see
 * store/lua-scripts.ts due()) is overdue: a process killed between a phase change and the job
 * that carries it out leaves exactly that. Idempotent: a lifecycle step's job has a deterministic
 * id, so re-adding one that still exists does nothing, and every step checks the phase first;
 * the timers' steps (an offer's expiry, a provision's binding deadline) are run here directly, by
 * the same Lua steps the timers use. Runs on every site worker, at start-up and every few seconds.
 * Returns how many sessions it moved or re-drove.
 */
export async function reconcileSessions(deps: ReconcileDeps): Promise<number> {
  const now = deps.now();
  const due = await deps.store.dueSessions(deps.site, now - deps.graceMs, deps.batch ?? 500);
  let redriven = 0;
  for (const { uuid, phase, next } of due) {
    if (!phase || !next || (isTerminal(phase) && next.step !== 'stop')) {
      await deps.store.settleDue(uuid, deps.site);
    } else if (next.step === 'expire') {
      if (!(await deps.store.expireOffers([uuid], now, offerExpiredNote(now)))) await deps.store.settleDue(uuid, deps.site, 'expire');
      redriven += 1;
    } else if (next.step === 'unbound') {
      if (!(await deps.store.expireUnbound(uuid, now, unboundExpiredNote(now)))) await deps.store.settleDue(uuid, deps.site, 'unbound');
      redriven += 1;
    } else if (LIFECYCLE.has(next.step)) {
      await deps.scheduler.schedule(next.step as LifecycleStep, uuid, now, next.seq);
      redriven += 1;
    } else {
      await deps.store.settleDue(uuid, deps.site);
    }
  }
  return redriven;
}
