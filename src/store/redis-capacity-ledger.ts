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

  constructor(private readonly redis: Redis, private readonly keys: RedisKeys) {
    this.scripts = brokerScripts(redis);
  }

  async free(site: SiteProfile): Promise<{ cores: number; memoryGiB: number }> {
    const [cores, memory] = await this.redis.hmget(this.keys.ledger(site.name), 'cores', 'memory');
    return { cores: site.cores - Number(cores ?? 0), memoryGiB: site.memoryGiB - Number(memory ?? 0) };
  }

  async hold(site: SiteProfile, holds: ReadonlyArray<{ id: string; cores: number; memoryGiB: number }>, now: number, answerBy: number):
    Promise<'held' | 'full' | 'late'> {
    if (holds.length === 0) return 'held';
    const args = holds.flatMap((h) => [h.id, h.cores, h.memoryGiB]);
    return (await this.scripts.ebHold(this.keys.prefix, site.name, site.cores, site.memoryGiB, now, answerBy, ...args)) as 'held' | 'full' | 'late';
  }
}
