import type { Redis } from 'ioredis';
import { scanKeys } from './audit-ledger.js';
import { BINARY_CALENDAR_KEY_PART, CALENDAR_KEY_PART } from './calendar-lua.js';
import type { RedisKeys } from './redis-keys.js';
import { brokerScripts } from './redis-scripts.js';

/**
 * Converts calendars still in the binary layout (`<prefix>:cal:...`, before wide nodes) to the
 * current one, a block at a time, each block in one script (calendar-lua.ts
 * MIGRATE_BINARY_CALENDAR). Run by every broker process as it starts, until one has finished:
 * it then marks the prefix (`<prefix>:calendar-layout` = wide), and later starts read only that,
 * instead of scanning the whole key space again. Processes of the earlier version must be stopped first: while one runs,
 * it holds and releases on the old keys, which no process of this version reads.
 * Returns the number of blocks converted.
 */
export async function migrateBinaryCalendars(redis: Redis, keys: RedisKeys): Promise<number> {
  const marker = `${keys.prefix}:calendar-layout`;
  if ((await redis.get(marker)) === 'wide') return 0;
  const scripts = brokerScripts(redis);
  const oldPart = `${keys.prefix}:${BINARY_CALENDAR_KEY_PART}:`;
  const blocks = await scanKeys(redis, `${oldPart}*`);
  for (const oldKey of blocks) {
    await scripts.ebMigrateBinaryCalendar(oldKey, `${keys.prefix}:${CALENDAR_KEY_PART}:${oldKey.slice(oldPart.length)}`);
  }
  await redis.set(marker, 'wide');
  return blocks.length;
}
