import { isTerminal } from '../domain/phases.js';
import type { BrokerStore } from './ports.js';

/** A site's session directories (`<scratch>/<session>/`), as sites/session-directory.ts keeps them. */
export interface SessionDirectories {
  /** The session directories there are, and when each last changed (ms). */
  list(): Promise<Array<{ uuid: string; modified: number }>>;
  /** Removes a session's directory and everything in it (nothing when there is none). */
  remove(uuid: string): Promise<void>;
}

export interface RetentionDeps {
  store: BrokerStore;
  directories: SessionDirectories;
  /** The site's `limits.retention`: how long a directory stays once its session has ended. */
  retentionMs: number;
  now: () => number;
  /** Schedules the removal of a session's directory at `at` (ms); scheduling it twice is harmless. */
  scheduleRemoval(uuid: string, at: number): Promise<void>;
}

/**
 * Removes the directory of a session that has ended (its outputs, its log) and notes it on the
 * session's run, so that the outputs API answers that they were removed rather than not found.
 */
export async function removeSessionDirectory(deps: RetentionDeps, uuid: string): Promise<void> {
  const session = await deps.store.getSession(uuid);
  if (session && !isTerminal(session.phase)) return;
  await deps.directories.remove(uuid);
  const run = session ? await deps.store.getRun(uuid) : undefined;
  if (run && run.removed === undefined) await deps.store.setRun(uuid, { ...run, removed: deps.now() });
}

/**
 * When a site worker starts: each ended session's directory gets its removal scheduled (a worker
 * that was down when the session ended scheduled none), and a directory whose session the store
 * no longer knows goes once it has not changed for the retention (so that a directory another
 * broker's sessions share the scratch root with is not taken while it is in use). Stops early
 * once `signal` aborts (the worker is closing).
 */
export async function sweepSessionDirectories(deps: RetentionDeps, signal?: AbortSignal): Promise<{ scheduled: number; removed: number }> {
  let scheduled = 0;
  let removed = 0;
  for (const { uuid, modified } of await deps.directories.list()) {
    if (signal?.aborted) break;
    const session = await deps.store.getSession(uuid);
    if (!session) {
      if (deps.now() - modified < deps.retentionMs) continue;
      await deps.directories.remove(uuid);
      removed++;
    } else if (isTerminal(session.phase)) {
      const ended = session.history?.at(-1)?.at ?? session.modified;
      await deps.scheduleRemoval(uuid, ended + deps.retentionMs);
      scheduled++;
    }
  }
  return { scheduled, removed };
}
