import type { Redis } from 'ioredis';
import { CALENDAR_ADD, CALENDAR_EXTREMES, CALENDAR_OUTLOOK, FIND_AND_HOLD, FIND_AND_HOLD_MANY, HOLD_FIXED, MIGRATE_BINARY_CALENDAR, USAGE_AT } from './calendar-lua.js';
import { ADVANCE, APPEND_LOG, BIND, EXPIRE, EXPIRE_DUE, EXPIRE_UNBOUND, FINISH, KEEP_NOTEBOOK_TOKEN, KEEP_TOKEN, PLAN_NEXT, READ_LOG, RELEASE, SAVE_OFFER_SET, SET_STAGING, SETTLE_DUE, TRANSITION } from './lua-scripts.js';

const SCRIPTS = {
  ebTransition: TRANSITION, ebExpire: EXPIRE, ebExpireDue: EXPIRE_DUE, ebFinish: FINISH, ebRelease: RELEASE, ebAdvance: ADVANCE, ebSaveOfferSet: SAVE_OFFER_SET,
  ebAppendLog: APPEND_LOG, ebReadLog: READ_LOG, ebBind: BIND, ebExpireUnbound: EXPIRE_UNBOUND, ebKeepToken: KEEP_TOKEN, ebKeepNotebookToken: KEEP_NOTEBOOK_TOKEN,
  ebPlanNext: PLAN_NEXT, ebSettleDue: SETTLE_DUE, ebSetStaging: SET_STAGING,
  ebFindAndHold: FIND_AND_HOLD, ebFindAndHoldMany: FIND_AND_HOLD_MANY, ebHoldFixed: HOLD_FIXED, ebUsageAt: USAGE_AT, ebCalendarAdd: CALENDAR_ADD, ebCalendarExtremes: CALENDAR_EXTREMES, ebCalendarOutlook: CALENDAR_OUTLOOK,
  ebMigrateBinaryCalendar: MIGRATE_BINARY_CALENDAR,
} as const;
type ScriptName = keyof typeof SCRIPTS;
type ScriptCall = (...args: Array<string | number>) => Promise<unknown>;

/** Registers the broker's Lua scripts on a client (EVALSHA, loading them on first use). */
export function brokerScripts(redis: Redis): Record<ScriptName, ScriptCall> {
  const calls = {} as Record<ScriptName, ScriptCall>;
  for (const [name, lua] of Object.entries(SCRIPTS) as Array<[ScriptName, string]>) {
    if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: 0, lua });
    const command = (redis as unknown as Record<string, ScriptCall>)[name];
    if (!command) throw new Error(`script ${name} did not register`);
    calls[name] = command.bind(redis);
  }
  return calls;
}

/** The Buffer-returning form of a script (ioredis defines `<name>Buffer` beside each command). */
export function bufferScript(redis: Redis, name: ScriptName): (...args: Array<string | number>) => Promise<unknown> {
  brokerScripts(redis);
  const command = (redis as unknown as Record<string, ScriptCall>)[`${name}Buffer`];
  if (!command) throw new Error(`script ${name} has no Buffer form`);
  return command.bind(redis);
}
