import type { Redis } from 'ioredis';
import { scanKeys } from './audit-ledger.js';
import { BINARY_CALENDAR_KEY_PART, CALENDAR_KEY_PART } from './calendar-lua.js';
import type { RedisKeys } from './redis-keys.js';
import { brokerScripts } from './redis-scripts.js';

/**
 * Converts calendars still in the binary layout (`<prefix>:cal:...`, before wide nodes) to the
 * current one, a block at a time, each block in one script (calendar-lua.ts
 * MIGRATE_BINARY_CALENDAR). Run by every broker process as it starts; a Redis with nothing to
 * convert costs one SCAN. Processes of the earlier version must be stopped first: while one runs,
 * it holds and releases on the old keys, which no process of this version reads.
 * Returns the number of blocks converted.
 */
export async function migrateBinaryCalendars(redis: Redis, keys: RedisKeys): Promise<number> {
  const scripts = brokerScripts(redis);
  const oldPart = `${keys.prefix}:${BINARY_CALENDAR_KEY_PART}:`;
  const blocks = await scanKeys(redis, `${oldPart}*`);
  for (const oldKey of blocks) {
    await scripts.ebMigrateBinaryCalendar(oldKey, `${keys.prefix}:${CALENDAR_KEY_PART}:${oldKey.slice(oldPart.length)}`);
  }
  return blocks.length;
}
