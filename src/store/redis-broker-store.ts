import type { Redis } from 'ioredis';
import type { Message } from '../domain/messages.js';
import type { SessionPhase } from '../domain/phases.js';
import type {
  BindResult, BrokerStore, DueSession, SessionNotify, LogChunk, NextStep, OfferSetRecord, PhaseChange, ProvisionState, SessionIndexPage, SessionListing, SessionRecord, SessionSlot,
  TransitionOutcome, WireDocument,
} from '../broker/ports.js';
import { isSessionPhase } from '../domain/phases.js';
import { makeMessage, offerExpiredNote, stamp, unboundExpiredNote } from '../domain/messages.js';
import type { RedisKeys } from './redis-keys.js';
import { brokerScripts, bufferScript } from './redis-scripts.js';

export interface StoreOptions {
  /** How long finished offer sets and sessions stay readable. */
  retentionMs: number;
}

/** The fields a listing reads of a session's hash, in this order. */
const LISTING_FIELDS = ['phase', 'offerset', 'site', 'owner', 'created', 'modified', 'expires', 'slot', 'bindby', 'bound'] as const;

const json = (value: unknown): string => JSON.stringify(value);

/** A session's subscribers as hash fields: `notify` (JSON) and `notifykey` (the sealed secret, or ''). */
const notifyFields = (notify: SessionNotify | undefined): string[] =>
  (notify?.subscriptions.length ? ['notify', json(notify.subscriptions), 'notifykey', notify.sealedSecret ?? ''] : []);

/** Offer sets and sessions as Redis hashes; phase changes go through the Lua scripts. */
export class RedisBrokerStore implements BrokerStore {
  private readonly scripts;
  private readonly readLogBuffer;

  constructor(private readonly redis: Redis, private readonly keys: RedisKeys, private readonly options: StoreOptions) {
    this.scripts = brokerScripts(redis);
    this.readLogBuffer = bufferScript(redis, 'ebReadLog');
  }

  async saveOfferSet(offerSet: OfferSetRecord, sessions: SessionRecord[], release: readonly string[] = []): Promise<void> {
    const args: Array<string | number> = [
      this.keys.prefix, this.options.retentionMs, offerSet.uuid,
      'created', offerSet.created,
      'family', offerSet.family,
      'result', offerSet.result,
      'name', offerSet.name ?? '',
      'description', offerSet.description ?? '',
      'messages', json(offerSet.messages),
      'sessions', json(offerSet.sessionUuids),
      'owner', offerSet.owner,
      ...(offerSet.notifyExpiringAt !== undefined ? ['expiring', offerSet.notifyExpiringAt] : []),
      '--',
      ...release,
      '--',
    ];
    for (const session of sessions) {
      // The slot, and the bounds of the capacity it holds, for the indexes the Lua step keeps.
      const slot = session.slot;
      // With them, the offer's next step (its expiry, entered in the site's due set by the Lua step).
      const slotFields = slot ? ['slot', json(slot), 'holdstart', slot.preparing.start, 'holdend', slot.releasing.end, 'next', 'expire'] : [];
      slotFields.push(...notifyFields(session.notify));
      // How the Lua step that ends the session charges it (lua-scripts.ts charged()).
      if (session.tariff) slotFields.push('tariff', json(session.tariff));
      args.push(session.uuid, 9 + slotFields.length / 2,
        ...slotFields,
        'phase', session.phase,
        'offerset', session.offerSetUuid,
        'site', session.site,
        'created', session.created,
        'modified', session.modified,
        'expires', session.expires,
        'family', session.family,
        'owner', session.owner,
        'doc', json(session.document));
    }
    await this.scripts.ebSaveOfferSet(...args);
  }

  async getSession(uuid: string): Promise<SessionRecord | undefined> {
    const [[, fields], [, messages]] = (await this.redis.multi()
      .hgetall(this.keys.session(uuid))
      .lrange(this.keys.sessionMessages(uuid), 0, -1)
      .exec()) as [[unknown, Record<string, string>], [unknown, string[]]];
    return toSession(uuid, fields, messages);
  }

  async getOfferSet(uuid: string): Promise<{ offerSet: OfferSetRecord; sessions: SessionRecord[] } | undefined> {
    const fields = await this.redis.hgetall(this.keys.offerSet(uuid));
    if (!fields.created) return undefined;
    const offerSet: OfferSetRecord = {
      uuid,
      created: Number(fields.created),
      family: fields.family ?? 'v1.0',
      result: fields.result === 'YES' ? 'YES' : 'NO',
      name: fields.name || undefined,
      description: fields.description || undefined,
      messages: JSON.parse(fields.messages ?? '[]') as Message[],
      sessionUuids: JSON.parse(fields.sessions ?? '[]') as string[],
      owner: fields.owner ?? '',
    };
    const pipeline = this.redis.pipeline();
    for (const id of offerSet.sessionUuids) pipeline.hgetall(this.keys.session(id)).lrange(this.keys.sessionMessages(id), 0, -1);
    const replies = (await pipeline.exec()) ?? [];
    const sessions: SessionRecord[] = [];
    offerSet.sessionUuids.forEach((id, index) => {
      const session = toSession(id, replies[2 * index]?.[1] as Record<string, string>, replies[2 * index + 1]?.[1] as string[]);
      if (session) sessions.push(session);
    });
    return { offerSet, sessions };
  }

  transition(uuid: string, target: SessionPhase, from: readonly SessionPhase[], now: number, note: Message): Promise<TransitionOutcome> {
    return this.runTransition(uuid, target, from, now, note, []);
  }

  acceptForBinding(uuid: string, now: number, note: Message, provision: ProvisionState): Promise<TransitionOutcome> {
    return this.runTransition(uuid, 'ACCEPTED', ['OFFERED'], now, note, [provision.bindBy, json({ needs: provision.needs, plan: provision.plan })]);
  }

  private async runTransition(uuid: string, target: SessionPhase, from: readonly SessionPhase[], now: number, note: Message, extra: Array<string | number>): Promise<TransitionOutcome> {
    const expiredNote = offerExpiredNote(now);
    const siblingNote = stamp(makeMessage('urn:sibling-accepted', 'INFO', 'Another offer of the same offer set [{uuid}] was accepted', { uuid }), now);
    const outcome = (await this.scripts.ebTransition(
      this.keys.prefix, uuid, target, `,${from.join(',')},`, now, json(note), this.options.retentionMs, json(expiredNote), json(siblingNote), ...extra,
    )) as TransitionOutcome['outcome'];
    if (outcome === 'not-found') return { outcome };
    const session = await this.getSession(uuid);
    if (!session) return { outcome: 'not-found' };
    return { outcome, session };
  }

  async bindExecutable(uuid: string, now: number, document: WireDocument, note: Message, slot: SessionSlot, notify?: SessionNotify): Promise<BindResult> {
    return (await this.scripts.ebBind(this.keys.prefix, uuid, now, json(document), json(note), this.options.retentionMs, json(unboundExpiredNote(now)),
      json(slot), ...notifyFields(notify).filter((_, i) => i % 2 === 1))) as BindResult;
  }

  async expireUnbound(uuid: string, now: number, note: Message): Promise<boolean> {
    return Number(await this.scripts.ebExpireUnbound(this.keys.prefix, uuid, now, json(note), this.options.retentionMs)) === 1;
  }

  async releaseHolds(holdIds: readonly string[]): Promise<void> {
    if (holdIds.length) await this.scripts.ebRelease(this.keys.prefix, ...holdIds);
  }

  async expireOffers(ids: readonly string[], now: number, note: Message): Promise<number> {
    if (ids.length === 0) return 0;
    return Number(await this.scripts.ebExpire(this.keys.prefix, now, json(note), this.options.retentionMs, ...ids));
  }

  async expireDueOffers(now: number, note: Message, max: number): Promise<{ taken: number; expired: number }> {
    const [taken, expired] = (await this.scripts.ebExpireDue(this.keys.prefix, now, json(note), this.options.retentionMs, max)) as [number, number];
    return { taken: Number(taken), expired: Number(expired) };
  }

  async advance(uuid: string, from: SessionPhase, to: SessionPhase, now: number, note: Message, next?: NextStep): Promise<boolean> {
    return Number(await this.scripts.ebAdvance(this.keys.prefix, uuid, from, to, now, json(note), next ? stepText(next) : '', next?.at ?? now)) === 1;
  }

  async planNext(uuid: string, phase: SessionPhase, next: NextStep): Promise<boolean> {
    return Number(await this.scripts.ebPlanNext(this.keys.prefix, uuid, phase, stepText(next), next.at)) === 1;
  }

  async dueSessions(site: string, until: number, max: number): Promise<DueSession[]> {
    const uuids = await this.redis.zrangebyscore(this.keys.due(site), '-inf', until, 'LIMIT', 0, max);
    if (uuids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const uuid of uuids) pipeline.hmget(this.keys.session(uuid), 'phase', 'next');
    const replies = (await pipeline.exec()) ?? [];
    return uuids.map((uuid, i) => {
      const [phase, next] = (replies[i]?.[1] ?? []) as Array<string | null>;
      return { uuid, ...(phase && isSessionPhase(phase) ? { phase } : {}), ...(next ? { next: stepOf(next) } : {}) };
    });
  }

  async settleDue(uuid: string, site: string, step = ''): Promise<void> {
    await this.scripts.ebSettleDue(this.keys.prefix, uuid, site, step);
  }

  async finish(uuid: string, from: readonly SessionPhase[], to: SessionPhase, now: number, note: Message): Promise<boolean> {
    return Number(await this.scripts.ebFinish(this.keys.prefix, uuid, `,${from.join(',')},`, to, now, json(note), this.options.retentionMs)) === 1;
  }

  async setRun(uuid: string, run: Record<string, unknown>): Promise<void> {
    await this.redis.hset(this.keys.session(uuid), 'run', json(run));
  }

  async setStaging(uuid: string, progress: { bytesDone: number; bytesExpected?: number }): Promise<void> {
    // Only while PREPARING: a late write must not bring an ended or deleted session back as a stray field.
    await this.scripts.ebSetStaging(this.keys.session(uuid), json(progress));
  }

  async getRun(uuid: string): Promise<Record<string, unknown> | undefined> {
    const text = await this.redis.hget(this.keys.session(uuid), 'run');
    return text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  }

  async appendLog(uuid: string, text: string, maxBytes: number, skipped = 0): Promise<void> {
    // Only the tail is kept (a chatty run must not fill Redis), counting every byte written.
    await this.scripts.ebAppendLog(this.keys.sessionLog(uuid), text, maxBytes, this.options.retentionMs, skipped);
  }

  async readLog(uuid: string, from: number): Promise<LogChunk> {
    const [read, next, dropped] = (await this.readLogBuffer(this.keys.sessionLog(uuid), from)) as [Buffer, Buffer | number, Buffer | number];
    const skipped = Number(dropped.toString());
    // The head was cut by bytes: a character it cut in two goes with it.
    let cut = 0;
    while (skipped > 0 && cut < Math.min(3, read.length) && ((read[cut] as number) & 0xc0) === 0x80) cut++;
    return { bytes: read.subarray(cut), next: Number(next.toString()), skipped: skipped + cut };
  }

  async sessionIndexPage(query: { owner?: string; after?: string; count: number }): Promise<SessionIndexPage> {
    const index = query.owner === undefined ? this.keys.sessionsByTime : this.keys.sessionsOf(query.owner);
    // Entries are "<created, 15 digits>:<uuid>" at one score: a lex range reads them newest first.
    const entries = await this.redis.zrange(index, query.after ? `(${query.after}` : '+', '-', 'BYLEX', 'REV', 'LIMIT', 0, query.count);
    const found = await this.listings(entries.map((entry) => entry.slice(16)));
    const gone = entries.filter((_, i) => !found[i]);
    // An entry is the same in everyone's index and its owner's: gone from one, gone from both.
    // (Read from everyone's, an owner is no longer known: the owner's is trimmed when read.)
    if (gone.length) await this.redis.multi().zrem(index, ...gone).zrem(this.keys.sessionsByTime, ...gone).exec();
    return {
      sessions: entries.flatMap((position, i) => (found[i] ? [{ session: found[i], position }] : [])),
      ...(entries.length ? { last: entries[entries.length - 1] } : {}),
      more: entries.length === query.count,
    };
  }

  async siteReservations(site: string, from: number, to: number, max: number): Promise<{ sessions: SessionListing[]; truncated: boolean }> {
    // A hold overlapping [from, to] starts at or before `to`, and no earlier than `from` less the
    // site's longest hold.
    const span = Number((await this.redis.hget(this.keys.reservationSpans, site)) ?? 0);
    const ids = await this.redis.zrangebyscore(this.keys.reservations(site), from - span, to, 'LIMIT', 0, max + 1);
    const found = await this.listings(ids.slice(0, max));
    const gone = ids.slice(0, max).filter((_, i) => !found[i]);
    if (gone.length) await this.redis.zrem(this.keys.reservations(site), ...gone);
    return { sessions: found.filter((listing): listing is SessionListing => listing !== undefined), truncated: ids.length > max };
  }

  private async listings(uuids: readonly string[]): Promise<Array<SessionListing | undefined>> {
    if (uuids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const uuid of uuids) pipeline.hmget(this.keys.session(uuid), ...LISTING_FIELDS);
    const replies = (await pipeline.exec()) ?? [];
    return uuids.map((uuid, i) => toListing(uuid, replies[i]?.[1] as Array<string | null> | undefined));
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.redis.ping()) === 'PONG';
    } catch {
      return false;
    }
  }
}

function toSession(uuid: string, fields: Record<string, string> | undefined, messages: string[] | undefined): SessionRecord | undefined {
  if (!fields?.phase) return undefined;
  return {
    uuid,
    offerSetUuid: fields.offerset ?? '',
    site: fields.site ?? '',
    phase: fields.phase as SessionPhase,
    created: Number(fields.created),
    modified: Number(fields.modified),
    expires: Number(fields.expires),
    family: fields.family ?? 'v1.0',
    document: JSON.parse(fields.doc ?? '{}') as Record<string, unknown>,
    messages: (messages ?? []).map((text) => JSON.parse(text) as Message),
    ...(fields.run ? { run: JSON.parse(fields.run) as SessionRecord['run'] } : {}),
    ...(fields.staging ? { staging: JSON.parse(fields.staging) as SessionRecord['staging'] } : {}),
    owner: fields.owner ?? '',
    ...(fields.bindby && fields.provision ? { provision: provisionOf(fields) } : {}),
    ...(fields.history ? { history: historyOf(fields.history) } : {}),
    // Who is told (never the sealed secret: it stays in Redis for the notify worker alone).
    ...(fields.notify ? { notify: { subscriptions: JSON.parse(fields.notify) as SessionNotify['subscriptions'] } } : {}),
    ...(fields.actuals ? { actuals: JSON.parse(fields.actuals) as SessionRecord['actuals'] } : {}),
  };
}

/** A next step as the Lua helper due() keeps it: "poll 7", or "activate" for a step without a seq. */
const stepText = (next: NextStep): string => (next.seq === undefined ? next.step : `${next.step} ${next.seq}`);
function stepOf(text: string): { step: string; seq?: number } {
  const [step = '', seq] = text.split(' ');
  return { step, ...(seq === undefined ? {} : { seq: Number(seq) }) };
}

/** "PHASE ms,PHASE ms" (written by the Lua helper moved()) -> the changes. */
function historyOf(text: string): PhaseChange[] {
  const changes: PhaseChange[] = [];
  for (const item of text.split(',')) {
    const [phase = '', at = ''] = item.split(' ');
    if (isSessionPhase(phase) && at) changes.push({ phase, at: Number(at) });
  }
  return changes;
}

function toListing(uuid: string, values: Array<string | null> | undefined): SessionListing | undefined {
  const [phase, offerSet, site, owner, created, modified, expires, slot, bindBy, bound] = values ?? [];
  if (!phase || !isSessionPhase(phase)) return undefined;
  return {
    uuid,
    offerSetUuid: offerSet ?? '',
    site: site ?? '',
    phase,
    owner: owner ?? '',
    created: Number(created),
    modified: Number(modified),
    expires: Number(expires),
    ...(slot ? { slot: JSON.parse(slot) as SessionSlot } : {}),
    ...(bindBy ? { provision: { bindBy: Number(bindBy), ...(bound ? { boundAt: Number(bound) } : {}) } } : {}),
  };
}

function provisionOf(fields: Record<string, string>): ProvisionState {
  const { needs, plan } = JSON.parse(fields.provision ?? '{}') as Pick<ProvisionState, 'needs' | 'plan'>;
  return { bindBy: Number(fields.bindby), ...(fields.bound ? { boundAt: Number(fields.bound) } : {}), needs, plan };
}
