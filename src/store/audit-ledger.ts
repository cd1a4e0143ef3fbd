import type { Redis } from 'ioredis';
import { holdsCapacity, type SessionPhase } from '../domain/phases.js';
import { siteCapacity } from '../domain/plan-offers.js';
import type { SiteProfile } from '../domain/site-profile.js';
import type { RedisKeys } from './redis-keys.js';
import { brokerScripts } from './redis-scripts.js';
import { CALENDAR_KEY_PART } from './calendar-lua.js';

export interface LedgerAudit {
  holds: number;
  /** Buckets where the holds add up to more than a site has. */
  overbookings: string[];
  /** Holds whose session is finished (or was never stored and has expired). */
  leakedHolds: string[];
  /** Sessions that should hold capacity but have no hold. */
  missingHolds: string[];
  /** Buckets where the calendar disagrees with the sum of the holds. */
  calendarMismatches: string[];
  /** Users whose fair-share record (`<prefix>:share:<site>:<owner>`) disagrees with their holds. */
  shareMismatches: string[];
}

interface Hold { id: string; site: string; from: number; to: number; amounts: Record<string, number>; fields: Record<string, string> }

export async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/** How late the offer expiry sweep (every OFFER_EXPIRY_SWEEP_MS) may be, on a loaded host, before a hold it should have released counts as leaked. */
const EXPIRY_SWEEP_SLACK_MS = 10_000;

/**
 * Recomputes every site's usage at every instant from the hold records and checks it against the
 * sites' sizes, the sessions' phases and the calendar itself. For operators (`node dist/main/audit.js`)
 * and for the stress tests. Read-only; run it when the broker is quiet for an exact answer.
 */
export async function auditLedger(redis: Redis, keys: RedisKeys, sites: readonly SiteProfile[], now: number): Promise<LedgerAudit> {
  const holdKeys = (await scanKeys(redis, `${keys.prefix}:hold:*`));
  const pipeline = redis.pipeline();
  for (const key of holdKeys) pipeline.hgetall(key);
  const replies = (await pipeline.exec()) ?? [];
  const holds: Hold[] = holdKeys.map((key, index) => {
    const fields = (replies[index]?.[1] ?? {}) as Record<string, string>;
    const amounts: Record<string, number> = {};
    for (const [field, value] of Object.entries(fields)) if (field.startsWith('r:')) amounts[field.slice(2)] = Number(value);
    return { id: key.slice(`${keys.prefix}:hold:`.length), site: fields.site ?? '', from: Number(fields.from), to: Number(fields.to), amounts, fields };
  });

  const audit: LedgerAudit = { holds: holds.length, overbookings: [], leakedHolds: [], missingHolds: [], calendarMismatches: [], shareMismatches: [] };
  const sessionPipeline = redis.pipeline();
  for (const hold of holds) sessionPipeline.hget(keys.session(hold.id), 'phase').zscore(keys.offerExpiry, hold.id);
  const sessions = (await sessionPipeline.exec()) ?? [];
  holds.forEach((hold, index) => {
    const phase = (sessions[2 * index]?.[1] ?? null) as string | null;
    const expiry = (sessions[2 * index + 1]?.[1] ?? null) as string | null;
    // A declared downtime's hold (calendar-lua.ts HOLD_FIXED) belongs to no session.
    if (hold.fields.kind === 'downtime') return;
    if (phase ? !holdsCapacity(phase as SessionPhase) : true) {
      // A hold without a stored session (its API gave up, or died) is fine while the offer expiry
      // sweep has it to release: until its expiry, and a few sweeps after.
      if (phase || expiry === null || Number(expiry) + EXPIRY_SWEEP_SLACK_MS <= now) audit.leakedHolds.push(`${hold.id} (${phase ?? 'no session'})`);
    }
  });
  const heldIds = new Set(holds.map((hold) => hold.id));
  for (const key of await scanKeys(redis, `${keys.prefix}:session:*`)) {
    // A session's own hash only: its messages, log and token are keys below it (uuids hold no ':').
    const id = key.slice(`${keys.prefix}:session:`.length);
    if (id.includes(':')) continue;
    const [phase, expires] = await redis.hmget(key, 'phase', 'expires');
    const live = phase && holdsCapacity(phase as SessionPhase) && !(phase === 'OFFERED' && Number(expires) <= now);
    if (live && !heldIds.has(id)) audit.missingHolds.push(`${id} (${phase})`);
  }

  // Sweep each site's change points: the usage is constant between them. Then the calendar's own
  // extremes must match the sweep's, which catches residue where no hold is.
  const scripts = brokerScripts(redis);
  for (const site of sites) {
    const capacity = siteCapacity(site);
    const mine = holds.filter((hold) => hold.site === site.name);
    const resources = new Set([...mine.flatMap((hold) => Object.keys(hold.amounts)), ...Object.keys(capacity)]);
    for (const resource of resources) {
      const deltas = new Map<number, number>();
      for (const hold of mine) {
        const amount = hold.amounts[resource] ?? 0;
        deltas.set(hold.from, (deltas.get(hold.from) ?? 0) + amount);
        deltas.set(hold.to + 1, (deltas.get(hold.to + 1) ?? 0) - amount);
      }
      let used = 0;
      let max = 0;
      let min = 0;
      for (const bucket of [...deltas.keys()].sort((a, b) => a - b)) {
        used += deltas.get(bucket) ?? 0;
        max = Math.max(max, used);
        min = Math.min(min, used);
        if (used > (capacity[resource] ?? 0)) audit.overbookings.push(`${site.name} ${resource} at bucket ${bucket}: ${used} > ${capacity[resource] ?? 0}`);
        const found = Number(await scripts.ebUsageAt(keys.prefix, site.name, resource, bucket));
        if (found !== used) audit.calendarMismatches.push(`${site.name} ${resource} at bucket ${bucket}: calendar ${found}, holds ${used}`);
      }
      // Blocks nobody touched are zero; the touched ones report their own extremes.
      let calendarMax = 0;
      let calendarMin = 0;
      for (const blockKey of await scanKeys(redis, `${keys.prefix}:${CALENDAR_KEY_PART}:${site.name}:${resource}:*`)) {
        const [blockMax = 0, blockMin = 0] = ((await scripts.ebCalendarExtremes(blockKey)) as string[]).map(Number);
        calendarMax = Math.max(calendarMax, blockMax);
        calendarMin = Math.min(calendarMin, blockMin);
      }
      if (calendarMax !== max || calendarMin !== min) {
        audit.calendarMismatches.push(`${site.name} ${resource}: calendar ranges ${calendarMin}..${calendarMax}, holds ${min}..${max}`);
      }
    }
  }
  audit.shareMismatches = await auditShares(redis, keys, holds);
  return audit;
}

/** The fair-share records recomputed from the holds of capped users: core and GPU buckets, open offer sets. */
async function auditShares(redis: Redis, keys: RedisKeys, holds: readonly Hold[]): Promise<string[]> {
  const expected = new Map<string, Record<string, number>>();
  for (const hold of holds) {
    const { owner, site, set, cb, gb } = hold.fields;
    if (owner === undefined) continue;
    const key = `${keys.prefix}:share:${site}:${owner}`;
    const record = expected.get(key) ?? { cb: 0, gb: 0, sets: 0 };
    record.cb = (record.cb ?? 0) + Number(cb);
    record.gb = (record.gb ?? 0) + Number(gb);
    if (set !== undefined) {
      if (record[`os:${set}`] === undefined) record.sets = (record.sets ?? 0) + 1;
      record[`os:${set}`] = (record[`os:${set}`] ?? 0) + 1;
    }
    expected.set(key, record);
  }
  const problems: string[] = [];
  const stored = await scanKeys(redis, `${keys.prefix}:share:*`);
  for (const key of new Set([...stored, ...expected.keys()])) {
    const found = Object.fromEntries(Object.entries(await redis.hgetall(key)).map(([field, value]) => [field, Number(value)]));
    const want = expected.get(key) ?? {};
    for (const field of new Set([...Object.keys(found), ...Object.keys(want)])) {
      const [have, should] = [found[field] ?? 0, want[field] ?? 0];
      if (Math.abs(have - should) > 1e-6) problems.push(`${key.slice(keys.prefix.length + 7)} ${field}: recorded ${have}, holds ${should}`);
    }
  }
  return problems;
}
