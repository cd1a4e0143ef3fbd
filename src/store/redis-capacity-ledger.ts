import type { Redis } from 'ioredis';
import type { CalendarOutlook, CapacityLedger, CapacityOutlook, HoldAsk, HoldOutcome } from '../broker/ports.js';
import { siteCapacity } from '../domain/plan-offers.js';
import type { SiteProfile } from '../domain/site-profile.js';
import type { RedisKeys } from './redis-keys.js';
import { brokerScripts } from './redis-scripts.js';

/**
 * Capacity over time per site, in Redis: the calendar of store/calendar-lua.ts. Finding the
 * earliest fit and holding it are one script, so any number of API processes and site workers
 * never hold the same capacity twice; the transition, expiry and release scripts give it back.
 */
export class RedisCapacityLedger implements CapacityLedger, CapacityOutlook {
  private readonly scripts;

  constructor(redis: Redis, private readonly keys: RedisKeys) {
    this.scripts = brokerScripts(redis);
  }

  async findAndHold(site: SiteProfile, ask: HoldAsk, now: number, answerBy: number): Promise<HoldOutcome> {
    const capacity = siteCapacity(site);
    const resources = Object.entries(ask.amounts).flatMap(([resource, amount]) => [resource, amount, capacity[resource] ?? 0]);
    const share = ask.share ? [ask.share.owner, ask.share.offerSet, ask.share.caps.coreBuckets, ask.share.caps.gpuBuckets, ask.share.caps.offerSets] : ['', '', 0, 0, 0];
    const [outcome, start, used, limit] = (await this.scripts.ebFindAndHold(
      this.keys.prefix, site.name, ask.id, now, answerBy, ask.earliest, ask.latest, ask.length, ...share, ask.expiresAt ?? 0, ...resources,
    )) as [HoldOutcome['outcome'], number | string | undefined, string?, string?];
    if (outcome === 'cap') return { outcome, cap: start as 'cores' | 'gpus' | 'sets', used: Number(used), limit: Number(limit) };
    return outcome === 'held' ? { outcome, start: Number(start) } : { outcome };
  }

  async usageAt(site: string, resource: string, bucket: number): Promise<number> {
    return Number(await this.scripts.ebUsageAt(this.keys.prefix, site, resource, bucket));
  }

  async outlook(site: string, resources: readonly string[], now: number, step: number, steps: number): Promise<CalendarOutlook> {
    if (resources.length === 0) return {};
    const rows = (await this.scripts.ebCalendarOutlook(this.keys.prefix, site, now, step, steps, ...resources)) as string[][];
    return Object.fromEntries(resources.map((resource, index) => {
      const [held, ...peaks] = (rows[index] ?? []).map(Number);
      return [resource, { now: held ?? 0, peaks }];
    }));
  }
}
