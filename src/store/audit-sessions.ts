import type { Redis } from 'ioredis';
import { isSessionPhase, isTerminal } from '../domain/phases.js';
import { phaseDeadline, type DeadlineFacts } from '../domain/session-deadline.js';
import type { RedisKeys } from './redis-keys.js';
import { scanKeys } from './audit-ledger.js';

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The sessions that are stuck: in a phase past its deadline by its own schedule plus `graceMs`
 * (domain/session-deadline.ts), or ended with a step still pending past it (a stop of a cancelled
 * run). Each named as `<uuid> (<phase>, ...)`. For `npm run audit`; read-only.
 */
export async function stuckSessions(redis: Redis, keys: RedisKeys, now: number, graceMs: number): Promise<string[]> {
  const ids = (await scanKeys(redis, `${keys.prefix}:session:*`))
    .map((key) => key.slice(`${keys.prefix}:session:`.length))
    .filter((id) => !id.includes(':')); // its messages, log and token are keys below it
  const stuck: string[] = [];
  for (let from = 0; from < ids.length; from += 500) {
    const batch = ids.slice(from, from + 500);
    const pipeline = redis.pipeline();
    for (const id of batch) pipeline.hmget(keys.session(id), 'phase', 'expires', 'slot', 'bindby', 'bound', 'next', 'site', 'modified');
    const replies = (await pipeline.exec()) ?? [];
    for (const [index, id] of batch.entries()) {
      const [phase, expires, slot, bindBy, bound, next, site, modified] = (replies[index]?.[1] ?? []) as Array<string | null>;
      if (!phase || !isSessionPhase(phase)) continue;
      const since = `since ${iso(Number(modified))}`;
      if (isTerminal(phase)) {
        const due = next ? await redis.zscore(keys.due(site ?? ''), id) : null;
        if (next && due !== null && Number(due) + graceMs < now) stuck.push(`${id} (${phase} ${since}, its ${next.split(' ')[0]} step due at ${iso(Number(due))} never ran)`);
        continue;
      }
      const facts: DeadlineFacts = {
        phase, expires: Number(expires),
        ...(slot ? { slot: JSON.parse(slot) as DeadlineFacts['slot'] } : {}),
        ...(bindBy && !bound ? { unboundUntil: Number(bindBy) } : {}),
      };
      const deadline = phaseDeadline(facts);
      if (deadline !== undefined && deadline + graceMs < now) stuck.push(`${id} (${phase} ${since}, should have moved on by ${iso(deadline)})`);
    }
  }
  return stuck;
}
