import { lstat, opendir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Executor, RunHandle, RunSpec, RunStatus } from '../broker/executor.js';
import { defaultAbilities } from '../domain/executable-abilities.js';
import { readText } from './run-files.js';

/** The file that says a run was stopped for its outputs (read by every later poll, whichever worker). */
const OVER_QUOTA = 'over-quota';

/**
 * Bytes under `dir` (files' size or blocks taken, whichever is more, so that neither a sparse file
 * nor a cloud of small files slips by), counting no further than `stopAbove`.
 */
export async function bytesUnder(dir: string, stopAbove = Number.POSITIVE_INFINITY): Promise<number> {
  let total = 0;
  const pending = [dir];
  while (pending.length > 0 && total <= stopAbove) {
    const current = pending.pop() as string;
    const entries = await opendir(current).catch(() => undefined);
    if (!entries) continue;
    for await (const entry of entries) {
      const path = join(current, entry.name);
      const stats = await lstat(path).catch(() => undefined);
      if (!stats) continue;
      total += Math.max(stats.size, stats.blocks * 512);
      if (entry.isDirectory()) pending.push(path);
      if (total > stopAbove) break;
    }
  }
  return total;
}

const size = (bytes: number): string =>
  bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${bytes} bytes`;

/**
 * An executor whose runs' outputs may take at most `outputBytes` (the site's `limits.outputBytes`):
 * a poll that finds more stops the run, removes its outputs (a FAILED session's are not served) and
 * says so with a `stopped` status. The outputs are measured on every poll while a walk is cheap,
 * and less often as it gets dearer (20 times the walk's own time apart), so polling stays cheap.
 */
export class OutputQuota implements Executor {
  private readonly nextLook = new Map<string, number>();

  constructor(private readonly inner: Executor, private readonly outputBytes: number) {}

  get sharesHostNetwork(): boolean | undefined {
    return this.inner.sharesHostNetwork;
  }

  get names(): readonly string[] | undefined {
    return this.inner.names;
  }

  unsupported(spec: RunSpec): string | undefined | Promise<string | undefined> {
    return this.inner.unsupported?.(spec);
  }

  abilities(): ReturnType<NonNullable<Executor['abilities']>> {
    return this.inner.abilities?.() ?? Promise.resolve(defaultAbilities());
  }

  givesGpus(model: string): boolean {
    return this.inner.givesGpus?.(model) ?? true;
  }

  refusesPorts(protocols: readonly string[], kind: string): string | undefined {
    return this.inner.refusesPorts?.(protocols, kind);
  }

  submit(spec: RunSpec): Promise<RunHandle> {
    return this.inner.submit(spec);
  }

  async poll(handle: RunHandle): Promise<RunStatus> {
    const stopped = readText(join(handle.dir, OVER_QUOTA));
    if (stopped) return { state: 'stopped', reason: stopped };
    const status = await this.inner.poll(handle);
    // An ended run is measured once more: outputs written just before the end count too.
    if (status.state === 'running' && Date.now() < (this.nextLook.get(handle.dir) ?? 0)) return status;
    if (status.state !== 'running' && status.state !== 'exited') return status;
    const started = Date.now();
    const used = await bytesUnder(this.inner.outputs(handle), this.outputBytes);
    if (status.state === 'running') this.nextLook.set(handle.dir, Date.now() + 20 * (Date.now() - started));
    else this.nextLook.delete(handle.dir);
    if (used <= this.outputBytes) return status;
    this.nextLook.delete(handle.dir);
    const reason = `its outputs took more than the site's limit of ${size(this.outputBytes)} (limits.outputBytes); they were removed`;
    await writeFile(join(handle.dir, OVER_QUOTA), reason);
    if (status.state === 'running') await this.inner.cancel(handle);
    const outputs = this.inner.outputs(handle);
    await rm(outputs, { recursive: true, force: true });
    return { state: 'stopped', reason };
  }

  cancel(handle: RunHandle): Promise<void> {
    this.nextLook.delete(handle.dir);
    return this.inner.cancel(handle);
  }

  logs(handle: RunHandle, offset?: number, limit?: number): ReturnType<Executor['logs']> {
    return this.inner.logs(handle, offset, limit);
  }

  outputs(handle: RunHandle): string {
    return this.inner.outputs(handle);
  }
}

/** The executor with the site's output quota, or why there is none as it was. */
export function withOutputQuota(executor: Executor | { unavailable: string }, outputBytes: number): Executor | { unavailable: string } {
  return 'unavailable' in executor ? executor : new OutputQuota(executor, outputBytes);
}
