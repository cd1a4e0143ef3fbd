import type { Redis } from 'ioredis';
import type { DowntimeHold } from '../domain/downtime-holds.js';
import type { RedisKeys } from './redis-keys.js';
import { brokerScripts } from './redis-scripts.js';

/**
 * A site's declared downtimes as holds in its capacity calendar (calendar-lua.ts HOLD_FIXED), and
 * the set of them per site (`<prefix>:downtimes:<site>`), so that a downtime no longer declared is
 * released. Each hold changes in one Lua step, so no offer is ever found across a downtime held.
 */
export class RedisDowntimeHolds {
  private readonly scripts;

  constructor(private readonly redis: Redis, private readonly keys: RedisKeys) {
    this.scripts = brokerScripts(redis);
  }

  /** Makes the site's downtime holds exactly these. Returns how many holds changed. */
  async sync(site: string, holds: readonly DowntimeHold[]): Promise<number> {
    const set = this.keys.downtimes(site);
    let changed = 0;
    if (holds.length) await this.redis.sadd(set, ...holds.map((hold) => hold.id));
    for (const hold of holds) {
      const amounts = Object.entries(hold.amounts).flat();
      changed += Number(await this.scripts.ebHoldFixed(this.keys.prefix, site, hold.id, hold.from, hold.to, ...amounts));
    }
    const wanted = new Set(holds.map((hold) => hold.id));
    const gone = (await this.redis.smembers(set)).filter((id) => !wanted.has(id));
    if (gone.length) {
      await this.scripts.ebRelease(this.keys.prefix, ...gone);
      await this.redis.srem(set, ...gone);
      changed += gone.length;
    }
    return changed;
  }
}
