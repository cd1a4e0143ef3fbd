import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { isSessionPhase, type SessionPhase } from '../domain/phases.js';
import type { Subscription } from '../domain/subscriptions.js';
import type { RedisKeys } from './redis-keys.js';

/** One recorded phase change of a session with subscribers (lua-scripts.ts notified()). */
export interface NotifyEvent { seq: number; phase: SessionPhase; at: number }

/** What the notify worker needs to know of a session's outbox. */
export interface OutboxState {
  subscriptions: Subscription[];
  sealedSecret?: string;
  /** The session's phase now (undefined once it is gone, past its retention). */
  phase?: SessionPhase;
  /** How many events were recorded, and how far each subscriber has been told. */
  length: number;
  cursors: number[];
}

/**
 * Moves a subscriber's cursor from event `index` (if it is still there) to `to`, then, when every subscriber
 * has had every event, takes the session out of notify-due (and, once it has ended or is gone,
 * drops its events). Atomic with the Lua steps that record events: an event recorded meanwhile
 * keeps the session due. ARGV: prefix, uuid, subscriber, index (or -1: only the check), to, subscribers.
 * Returns the subscriber's cursor and the number of events.
 */
const ADVANCE = `
local prefix, id, sub, index, to, count = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local cursors, events = prefix .. ':notify-cursor:' .. id, prefix .. ':notify-events:' .. id
local cursor = tonumber(redis.call('HGET', cursors, sub) or '0')
if index >= 0 and cursor == index then
  cursor = to
  redis.call('HSET', cursors, sub, cursor)
  redis.call('PEXPIRE', cursors, 691200000)
end
local length = redis.call('LLEN', events)
for i = 0, count - 1 do
  if tonumber(redis.call('HGET', cursors, tostring(i)) or '0') < length then return { cursor, length } end
end
redis.call('ZREM', prefix .. ':notify-due', id)
local phase = redis.call('HGET', prefix .. ':session:' .. id, 'phase')
if not phase or phase == 'REJECTED' or phase == 'EXPIRED' or phase == 'COMPLETED' or phase == 'FAILED' or phase == 'CANCELLED' then
  redis.call('DEL', events, cursors, prefix .. ':notify-facts:' .. id)
end
return { cursor, length }
`;

 /**
 * The key webhook secrets are sealed with when no TOKEN_KEY is given: made once, kept in Redis,
 * so that every process of the broker opens what another sealed. (Weaker than TOKEN_KEY, which is
 * kept apart from Redis: docs/notifications.md.)
 */
export async function sharedNotifyKey(redis: Redis, keys: RedisKeys): Promise<Buffer> {
  await redis.set(keys.notifyKey, randomBytes(32).toString('base64'), 'NX');
  return Buffer.from((await redis.get(keys.notifyKey)) ?? '', 'base64');
}

type Call = (...args: Array<string | number>) => Promise<unknown>;

/** The notification outbox the Lua steps write (lua-scripts.ts), as the notify worker reads it. */
export class RedisNotifyOutbox {
  private readonly advanceScript: Call;

  constructor(private readonly redis: Redis, private readonly keys: RedisKeys) {
    if (!('ebNotifyAdvance' in redis)) redis.defineCommand('ebNotifyAdvance', { numberOfKeys: 0, lua: ADVANCE });
    this.advanceScript = (redis as unknown as Record<string, Call>).ebNotifyAdvance!.bind(redis);
  }

  /** Sessions with events some subscriber has not had, oldest first. */
  due(max: number): Promise<string[]> {
    return this.redis.zrange(this.keys.notifyDue, 0, max - 1);
  }

  async state(uuid: string): Promise<OutboxState> {
    return stateOf((await this.stateCommands(uuid).exec()) as Array<[unknown, unknown]>);
  }

  private stateCommands(uuid: string) {
    return this.redis.multi()
      .hmget(this.keys.session(uuid), 'notify', 'notifykey', 'phase')
      .llen(this.keys.notifyEvents(uuid))
      .hgetall(this.keys.notifyCursor(uuid));
  }

  /**
   * What a delivery job needs, in one round trip: the outbox's state, event `index` and what it
   * tells if its first attempt fixed that already (facts(); an event's seq is its index + 1).
   */
  async forJob(uuid: string, index: number): Promise<OutboxState & { event?: NotifyEvent; facts?: unknown }> {
    const replies = (await this.stateCommands(uuid)
      .lindex(this.keys.notifyEvents(uuid), index)
      .hget(this.keys.notifyFacts(uuid), String(index + 1))
      .exec()) as Array<[unknown, unknown]>;
    const [event, facts] = [replies[3]?.[1], replies[4]?.[1]] as Array<string | null>;
    return {
      ...stateOf(replies),
      ...(event ? { event: JSON.parse(event) as NotifyEvent } : {}),
      ...(facts ? { facts: JSON.parse(facts) as unknown } : {}),
    };
  }

  /**
   * What subscribers are told of event `seq`, the same on every attempt and for every subscriber:
   * made by `make` when forJob() found none, and kept (a later attempt, after the session moved on,
   * tells what the first one did; of two first attempts at once, the first to write wins).
   */
  async facts<T>(uuid: string, seq: number, make: () => Promise<T>): Promise<T> {
    const key = this.keys.notifyFacts(uuid);
    await this.redis.multi().hsetnx(key, String(seq), JSON.stringify(await make())).pexpire(key, 691_200_000).exec();
    return JSON.parse((await this.redis.hget(key, String(seq))) ?? 'null') as T;
  }

  /** Records that subscriber `sub` is done with events `index` to `to` - 1; returns its cursor and the number of events. */
  async advance(uuid: string, sub: number, index: number, to: number, subscribers: number): Promise<{ cursor: number; length: number }> {
    const [cursor, length] = (await this.advanceScript(this.keys.prefix, uuid, sub, index, to, subscribers)) as [number, number];
    return { cursor: Number(cursor), length: Number(length) };
  }

  /** Takes the session out of notify-due if every subscriber has had every event. */
  async settle(uuid: string, subscribers: number): Promise<void> {
    await this.advanceScript(this.keys.prefix, uuid, 0, -1, 0, subscribers);
  }
}

function stateOf(replies: Array<[unknown, unknown]>): OutboxState {
  const [notify, key, phase] = (replies[0]?.[1] ?? []) as Array<string | null>;
  const length = Number(replies[1]?.[1] ?? 0);
  const cursors = (replies[2]?.[1] ?? {}) as Record<string, string>;
  const subscriptions = notify ? (JSON.parse(notify) as Subscription[]) : [];
  return {
    subscriptions,
    ...(key ? { sealedSecret: key } : {}),
    ...(phase && isSessionPhase(phase) ? { phase } : {}),
    length,
    cursors: subscriptions.map((_, i) => Number(cursors[String(i)] ?? 0)),
  };
}
