import { existsSync } from 'node:fs';
import { mkdir, readFile, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunSpec } from '../broker/executor.js';

/** Files in a session's directory that say its run is over (any executor of this host writes one). */
const ENDED_MARKERS = ['exit-code', 'result.json', 'cancelled'];
/** A lock older than this was left by a worker that died holding it. */
const STALE_LOCK_MS = 10_000;

/**
 * Which of a host's GPUs each run has, so that two sessions never get the same device. The
 * capacity calendar already promises that no more GPUs of a model are in use at once than the site
 * has; this picks *which*. A claim is a file `<scratch>/.gpu-claims/<model>/<device>` holding the
 * session's uuid, so every worker of the site on this host sees the same claims; claiming is done
 * under a lock (a directory, made or not atomically) per model. A claim whose run is over (its
 * directory says so, or is gone) is free again: nothing has to remember to give a device back, and
 * a worker that died with a claim held loses nothing.
 */
export class GpuClaims {
  /** `devices`: the host's GPU devices by model (the site's executor.gpuDevices). */
  constructor(private readonly scratchRoot: string, private readonly devices: Readonly<Record<string, readonly string[]>> = {}) {}

  /** Whether a run can be given GPUs of this model: the site names its devices. */
  gives(model: string): boolean {
    return Object.hasOwn(this.devices, model);
  }

  /** Why a container cannot be given the GPUs it was offered, if it cannot. */
  problem(spec: RunSpec): string | undefined {
    if (!spec.gpus?.count) return undefined;
    const model = spec.gpus.model ?? '';
    return this.gives(model) ? undefined : `the site names no ${model || 'GPU'} devices its containers can be given (executor.gpuDevices in the sites file)`;
  }

  /**
   * The devices a run gets for the GPUs it was offered: none when it was offered none, or when the
   * site names no devices for the model (a process then sees what the host has; the container
   * executors refuse such a spec with `problem`).
   */
  async forRun(spec: RunSpec): Promise<string[]> {
    const model = spec.gpus?.model;
    if (!spec.gpus?.count || model === undefined || !this.gives(model)) return [];
    return this.claim(spec.sessionUuid, model, spec.gpus.count, this.devices[model] ?? []);
  }

  /**
   * `count` of the model's `devices` for the session: the ones it already has (a start retried),
   * else free ones. Throws, naming what was free, when there are too few.
   */
  private async claim(sessionUuid: string, model: string, count: number, devices: readonly string[]): Promise<string[]> {
    const dir = join(this.scratchRoot, '.gpu-claims', model);
    await mkdir(dir, { recursive: true });
    return this.locked(dir, () => this.claimLocked(dir, sessionUuid, model, count, devices));
  }

  private async claimLocked(dir: string, sessionUuid: string, model: string, count: number, devices: readonly string[]): Promise<string[]> {
    const mine: string[] = [];
    for (const device of devices) if (await this.holder(dir, device) === sessionUuid) mine.push(device);
    for (const device of devices) {
      if (mine.length >= count) break;
      if (mine.includes(device)) continue;
      if (await this.take(dir, device, sessionUuid)) mine.push(device);
    }
    if (mine.length < count) {
      await Promise.all(mine.map((device) => unlink(join(dir, device)).catch(() => undefined)));
      throw new Error(`only ${mine.length} of the ${count} ${model} GPUs asked for are free on this host (devices ${devices.join(', ')})`);
    }
    return mine.slice(0, count);
  }

  private async locked<T>(dir: string, work: () => Promise<T>): Promise<T> {
    const lock = join(dir, '.lock');
    for (let waited = 0; ; waited += 10) {
      try {
        await mkdir(lock);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const since = (await stat(lock).catch(() => undefined))?.mtimeMs;
        if (since !== undefined && Date.now() - since > STALE_LOCK_MS) await rmdir(lock).catch(() => undefined);
        if (waited > 2 * STALE_LOCK_MS) throw new Error(`the GPU claims under ${dir} stay locked`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    try {
      return await work();
    } finally {
      await rmdir(lock).catch(() => undefined);
    }
  }

  private async holder(dir: string, device: string): Promise<string | undefined> {
    return (await readFile(join(dir, device), 'utf8').catch(() => undefined))?.trim();
  }

  /** Makes the claim (under the lock); a claim left by a run that is over is replaced. */
  private async take(dir: string, device: string, sessionUuid: string): Promise<boolean> {
    const holder = await this.holder(dir, device);
    if (holder !== undefined && !this.runIsOver(holder)) return false;
    await writeFile(join(dir, device), sessionUuid);
    return true;
  }

  private runIsOver(sessionUuid: string): boolean {
    const dir = join(this.scratchRoot, sessionUuid);
    return !existsSync(dir) || ENDED_MARKERS.some((marker) => existsSync(join(dir, marker)));
  }
}

/** What CUDA programs read to find their devices (NVIDIA's container runtime reads the second). */
export function gpuEnvironment(devices: readonly string[]): Record<string, string> {
  if (devices.length === 0) return {};
  const list = devices.join(',');
  return { CUDA_VISIBLE_DEVICES: list, NVIDIA_VISIBLE_DEVICES: list, EB_GPU_DEVICES: list };
}
