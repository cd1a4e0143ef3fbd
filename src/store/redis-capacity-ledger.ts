import type { Redis } from 'ioredis';
import type { CapacityLedger } from '../broker/ports.js';
import type { SiteProfile } from '../domain/site-profile.js';
import type { RedisKeys } from './redis-keys.js';
import { brokerScripts } from './redis-scripts.js';

/**
 * Capacity held per site: a hash of the cores and memory held now, and one hash per hold. Holds
 * are added by the HOLD script (all or none, checked against the site's size inside Redis) and
 * removed by the transition, expiry and release scripts.
 */
export class RedisCapacityLedger implements CapacityLedger {
  private readonly scripts;
  /**
   * The usage each hold last reported, per site. A negotiation plans from it instead of reading
   * first (one round trip less); HOLD re-checks inside Redis, so a stale figure can only cost a
   * retry, never an overbooking. Figures older than `maxAgeMs` are read afresh.
   */
  private readonly lastUsage = new Map<string, { cores: number; memory: number; at: number }>();

  constructor(private readonly redis: Redis, private readonly keys: RedisKeys, private readonly maxAgeMs = 250) {
    this.scripts = brokerScripts(redis);
  }

  async free(site: SiteProfile, options: { fresh?: boolean } = {}): Promise<{ cores: number; memoryGiB: number }> {
    let usage = this.lastUsage.get(site.name);
    if (options.fresh || !usage || Date.now() - usage.at > this.maxAgeMs) {
      const [cores, memory] = await this.redis.hmget(this.keys.ledger(site.name), 'cores', 'memory');
      usage = { cores: Number(cores ?? 0), memory: Number(memory ?? 0), at: Date.now() };
      this.lastUsage.set(site.name, usage);
    }
    return { cores: site.cores - usage.cores, memoryGiB: site.memoryGiB - usage.memory };
  }

  async hold(site: SiteProfile, holds: ReadonlyArray<{ id: string; cores: number; memoryGiB: number }>, now: number, answerBy: number):
    Promise<'held' | 'full' | 'late'> {
    if (holds.length === 0) return 'held';
    const args = holds.flatMap((h) => [h.id, h.cores, h.memoryGiB]);
    const [outcome, cores, memory] = (await this.scripts.ebHold(this.keys.prefix, site.name, site.cores, site.memoryGiB, now, answerBy, ...args)) as [string, number, number];
    this.lastUsage.set(site.name, { cores: Number(cores), memory: Number(memory), at: Date.now() });
    return outcome as 'held' | 'full' | 'late';
  }
}
