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
 * The holds asked together go in one script (FIND_AND_HOLD_MANY), each still whole before the
 * next: the calendar nodes they share are read once, and one call pays for all.
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
    const args = [this.keys.prefix, site.name, ask.id, now, answerBy, ask.earliest, ask.latest, ask.length, ...share, ask.expiresAt ?? 0, ...resources];
    return outcomeOf(await new Promise<HoldReply>((resolve, reject) => {
      this.queued.push({ args, resolve, reject });
      // Sent once the code running now is done (a microtask): a negotiation job asks its sites'
      // holds in one go, so they are all queued by then. Not a later turn of the event loop, which
      // a busy process reaches only after all its other pending work (5% fewer offers a second).
      if (this.queued.length === 1) queueMicrotask(() => this.sendQueued());
    }));
  }

  /** Holds asked together (a negotiation job's sites and offers) go in one script. */
  private readonly queued: Array<{ args: Array<string | number>; resolve: (reply: HoldReply) => void; reject: (error: unknown) => void }> = [];

  private sendQueued(): void {
    while (this.queued.length) {
      const batch = this.queued.splice(0, HOLDS_PER_SCRIPT);
      const reply = batch.length === 1
        ? this.scripts.ebFindAndHold(...(batch[0]?.args ?? [])).then((one) => [one])
        : this.scripts.ebFindAndHoldMany(...batch.flatMap(({ args }) => [args.length, ...args]));
      reply.then((replies) => {
        batch.forEach((hold, index) => {
          const one = (replies as ScriptHoldReply[])[index] ?? ['gave-up'];
          // One hold's failure is its own (FIND_AND_HOLD_MANY): the others of its script stand.
          if (one[0] === 'error') hold.reject(new Error(`holding capacity failed: ${String(one[1])}`));
          else hold.resolve(one);
        });
      }, (error: unknown) => {
        for (const hold of batch) hold.reject(error);
      });
    }
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

/**
 * The most holds one script makes. A script runs atomically, so a long batch holds up every other
 * client of Redis: 32 holds take a few milliseconds on a loaded machine (about 160 us each).
 */
export const HOLDS_PER_SCRIPT = 32;

type HoldReply = [HoldOutcome['outcome'], (number | string)?, string?, string?];
/** A hold's answer in a script's reply: FIND_AND_HOLD_MANY answers a hold that failed with its error. */
type ScriptHoldReply = HoldReply | ['error', string];

function outcomeOf([outcome, start, used, limit]: HoldReply): HoldOutcome {
  if (outcome === 'cap') return { outcome, cap: start as 'cores' | 'gpus' | 'sets', used: Number(used), limit: Number(limit) };
  return outcome === 'held' ? { outcome, start: Number(start) } : { outcome };
}
