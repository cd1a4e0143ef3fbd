import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { isSessionPhase, type SessionPhase } from '../domain/phases.js';
import type { NotifyEvent } from '../domain/notify-messages.js';
import type { Subscription } from '../domain/subscriptions.js';
import type { RedisKeys } from './redis-keys.js';

export type { NotifyEvent } from '../domain/notify-messages.js';

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
 * Turns an offer set's entry in notify-expiring (written with the offer set, lua-scripts.ts
 * SAVE_OFFER_SET) into an EXPIRING event, once: the entry is removed and the event recorded in one
 * step, so no process can die between them, and of two workers only the first finds the entry.
 * The event is recorded on the set's first open offer with subscribers (an OFFERED session still
 * before its expiry), in its outbox as a phase change is (PHASE_HELPERS notified()); none is
 * recorded when an offer was accepted (any sibling past OFFERED that was not rejected or expired)
 * or none is open any more. ARGV: prefix, offer set uuid, now. Returns the session that carries
 * it, or why none: claimed (another worker did), gone, accepted, closed.
 */
const CLAIM_EXPIRING = `
local prefix, id, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('ZREM', prefix .. ':notify-expiring', id) == 0 then return 'claimed' end
local sessions = redis.call('HGET', prefix .. ':offerset:' .. id, 'sessions')
if not sessions then return 'gone' end
local carrier, expires, open = nil, 0, {}
for _, sid in ipairs(cjson.decode(sessions)) do
  local f = redis.call('HMGET', prefix .. ':session:' .. sid, 'phase', 'expires', 'notify')
  if f[1] and f[1] ~= 'OFFERED' and f[1] ~= 'EXPIRED' and f[1] ~= 'REJECTED' then return 'accepted' end
  if f[1] == 'OFFERED' and tonumber(f[2]) > now then
    open[#open + 1] = sid
    expires = math.max(expires, tonumber(f[2]))
    if f[3] and not carrier then carrier = sid end
  end
end
if not carrier then return 'closed' end
local key = prefix .. ':session:' .. carrier
local seq = redis.call('HINCRBY', key, 'notifyseq', 1)
local events = prefix .. ':notify-events:' .. carrier
redis.call('RPUSH', events, cjson.encode({ seq = seq, phase = 'EXPIRING', at = now, offerset = id, expires = expires, offers = open }))
redis.call('PEXPIRE', events, 691200000)
redis.call('ZADD', prefix .. ':notify-due', 'NX', now, carrier)
redis.call('PUBLISH', prefix .. ':notify-wake', cjson.encode({ carrier }))
return carrier
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
  private readonly claimScript: Call;

  constructor(private readonly redis: Redis, private readonly keys: RedisKeys) {
    if (!('ebNotifyAdvance' in redis)) redis.defineCommand('ebNotifyAdvance', { numberOfKeys: 0, lua: ADVANCE });
    if (!('ebNotifyClaimExpiring' in redis)) redis.defineCommand('ebNotifyClaimExpiring', { numberOfKeys: 0, lua: CLAIM_EXPIRING });
    this.advanceScript = (redis as unknown as Record<string, Call>).ebNotifyAdvance!.bind(redis);
    this.claimScript = (redis as unknown as Record<string, Call>).ebNotifyClaimExpiring!.bind(redis);
  }

  /** Offer sets whose EXPIRING notice is due by `now`, oldest first. */
  expiringDue(now: number, max: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.keys.notifyExpiring, '-inf', now, 'LIMIT', 0, max);
  }

  /** Records an offer set's EXPIRING event (CLAIM_EXPIRING); returns the session that carries it, or why none. */
  async claimExpiring(offerSetUuid: string, now: number): Promise<string> {
    return String(await this.claimScript(this.keys.prefix, offerSetUuid, now));
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
