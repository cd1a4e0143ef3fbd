import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { SessionRecord } from '../broker/ports.js';
import type { NotifyConfig } from '../config/load-notify-config.js';
import type { NotifyFacts } from '../domain/notify-messages.js';
import type { Subscription } from '../domain/subscriptions.js';
import type { Logger } from '../observability/logger.js';
import type { RedisKeys } from '../store/redis-keys.js';
import type { NotifyEvent, RedisNotifyOutbox } from '../store/redis-notify-outbox.js';
import { JOB_STATES, NOTIFY_QUEUE } from './queue-names.js';

/** A delivery job: which session, which of its subscribers, which of its events (never a secret or a token). */
export interface NotifyJob { sessionUuid: string; sub: number; index: number }

/**
 * Delivers one event to one subscriber: resolves true when sent, false when it is passed over for
 * good (no secret to sign with, a phase mail does not tell); rejects when it should be tried again.
 */
export interface NotifyDelivery {
  webhook(target: string, facts: NotifyFacts, sealedSecret: string | undefined): Promise<boolean>;
  /** Undefined when the broker has no mail server: mail subscriptions are passed over. */
  mail?: (to: string, facts: NotifyFacts) => Promise<boolean>;
}

export interface NotifyWorkerOptions {
  connection: Redis;
  producer: Redis;
  keys: RedisKeys;
  outbox: RedisNotifyOutbox;
  getSession(uuid: string): Promise<SessionRecord | undefined>;
  /**
   * Whether an offer set still waits for an accept (an open offer, none accepted): an EXPIRING
   * event whose set was accepted, or whose offers were rejected or expired, before it was told is
   * passed over.
   */
  offerSetOpen(uuid: string): Promise<boolean>;
  facts(event: NotifyEvent & { uuid: string }, session: SessionRecord | undefined): NotifyFacts;
  delivery: NotifyDelivery;
  settings: NotifyConfig;
  now: () => number;
  logger?: Logger;
  /** Sessions with a new event, named as the Lua steps record them (a hint that saves a poll's wait). */
  wakeUps?: { start(listener: (uuid: string) => void): Promise<void>; close(): Promise<void> };
}

export interface RunningNotifyWorker {
  jobCounts(): Promise<Record<string, Record<string, number>>>;
  close(): Promise<void>;
}

const notifyJobId = (job: NotifyJob): string => `notify-${job.sessionUuid}-${job.sub}-${job.index}`;
/** A job the dispatcher added is not added again for this long (it is waiting, running or retrying). */
const READD_AFTER_MS = 10_000;
/** Crash recovery: a job whose worker died is taken up again within lock + stalled interval. */
const LOCK_MS = 10_000;
const STALLED_CHECK_MS = 5_000;
/** The most events one job tells after its own (a burst of phase changes goes out without a job each). */
const MAX_INLINE = 32;

const originOf = (target: string): string => (target.startsWith('mailto:') ? 'mail' : new URL(target).origin);

/**
 * The notify worker: moves events from the outbox (lua-scripts.ts notified()) into BullMQ delivery
 * jobs and runs them. Each subscriber of a session has a cursor; one job at a time carries its
 * next event (id `notify-<uuid>-<sub>-<index>`, so adding it twice is harmless), tells the ones
 * after it while they succeed, then adds the job for the next one: events arrive in order, each at
 * least once, retried with exponential back-off until the retry window has passed. The dispatcher
 * is woken by `<prefix>:notify-wake` and reads the outbox every `pollMs` and at start-up, so events
 * recorded while no worker ran, or whose job a killed process
 * held, are delivered once a worker runs. Any number of these may run.
 */
export async function startNotifyWorker(options: NotifyWorkerOptions): Promise<RunningNotifyWorker> {
  const { outbox, settings, logger } = options;
  const queue = new Queue(NOTIFY_QUEUE, { connection: options.producer, prefix: options.keys.bullPrefix });
  const added = new Map<string, number>();
  const jobOptions = (id: string) => ({
    jobId: id,
    attempts: 1_000_000,
    backoff: { type: 'custom' as const },
    removeOnComplete: { age: 3600 },
    removeOnFail: true,
  });
  const enqueue = async (job: NotifyJob, force = false, delay = 0): Promise<void> => {
    const id = notifyJobId(job);
    const now = options.now();
    if (!force && (added.get(id) ?? 0) > now) return;
    added.set(id, now + READD_AFTER_MS);
    await queue.add('deliver', job, { ...jobOptions(id), delay });
  };

  /** Adds the job for each subscriber's next event; settles a session whose subscribers have had everything. */
  const dispatchSession = async (uuid: string, force = false): Promise<void> => {
    const state = await outbox.state(uuid);
    let pending = false;
    for (const [sub, cursor] of state.cursors.entries()) {
      if (cursor >= state.length) continue;
      pending = true;
      await enqueue({ sessionUuid: uuid, sub, index: cursor }, force);
    }
    if (!pending) await outbox.settle(uuid, state.subscriptions.length);
  };

  const deliver = async (subscription: Subscription, facts: NotifyFacts, sealedSecret: string | undefined): Promise<boolean> => {
    if (subscription.kind === 'webhook') return options.delivery.webhook(subscription.target, facts, sealedSecret);
    if (!options.delivery.mail) {
      logger?.warn({ session: facts.uuid, event: facts.id }, 'mail not sent: no SMTP server is configured');
      return false;
    }
    return options.delivery.mail(subscription.target.slice('mailto:'.length), facts);
  };

  /** Tells one event; resolves false when it failed and should be retried (true: told, passed over or given up). */
  const tell = async (uuid: string, subscription: Subscription, sealedSecret: string | undefined, event: NotifyEvent, kept: unknown, attempt: number): Promise<{ ok: boolean; error?: unknown }> => {
    if (!subscription.events.includes(event.phase)) return { ok: true };
    if (event.phase === 'EXPIRING' && !(await options.offerSetOpen(event.offerset ?? ''))) {
      logger?.info({ session: uuid, offerSet: event.offerset }, 'expiring notice passed over: the offer set was accepted or closed');
      return { ok: true };
    }
    const facts = (kept as NotifyFacts | undefined) ?? await outbox.facts(uuid, event.seq, async () => options.facts({ ...event, uuid }, await options.getSession(uuid)));
    try {
      if (await deliver(subscription, facts, sealedSecret)) logger?.info({ session: uuid, event: facts.id, phase: event.phase, to: originOf(subscription.target), attempt }, 'notification delivered');
      return { ok: true };
    } catch (error) {
      const late = options.now() - event.at >= settings.retryWindowMs;
      logger?.[late ? 'warn' : 'info']({ session: uuid, event: facts.id, to: originOf(subscription.target), attempt, error: String((error as Error).message ?? error) },
        late ? 'notification given up: the retry window has passed' : 'notification not delivered, will retry');
      return late ? { ok: true } : { ok: false, error };
    }
  };

  /**
   * One job carries its event (retried by BullMQ until told or given up) and then, while the next
   * ones are told at the first try, those too, up to MAX_INLINE: the cursor stays on the job's
   * own event until the end, so no other job for this subscriber can start meanwhile (the
   * dispatcher's add of this job's id is a no-op while it runs). A later event that fails gets its
   * own job, after the first back-off. A killed job tells its events again from its own (at least once).
   */
  const worker = new Worker(NOTIFY_QUEUE, async (job: Job) => {
    const { sessionUuid: uuid, sub, index } = job.data as NotifyJob;
    let state = await outbox.forJob(uuid, index);
    const subscription = state.subscriptions[sub];
    if (!subscription || state.cursors[sub] !== index) return 'done before';
    let next = index;
    let failed = false;
    while (state.event && next < index + MAX_INLINE) {
      const told = await tell(uuid, subscription, state.sealedSecret, state.event, state.facts, next === index ? job.attemptsMade + 1 : 1);
      if (!told.ok && next === index) throw told.error;
      if (!told.ok) { failed = true; break; }
      next += 1;
      state = await outbox.forJob(uuid, next);
    }
    if (next === index) next += 1; // an event no longer there (its outbox dropped): nothing to tell
    const { cursor, length } = await outbox.advance(uuid, sub, index, next, state.subscriptions.length || 1);
    added.delete(notifyJobId({ sessionUuid: uuid, sub, index }));
    // The next event at once (the dispatcher would find it too, a poll later); a failed one after the first back-off.
    if (cursor < length) await enqueue({ sessionUuid: uuid, sub, index: cursor }, true, failed ? settings.retryBaseMs : 0);
    return `told ${next - index}`;
  }, {
    connection: options.connection,
    prefix: options.keys.bullPrefix,
    concurrency: 64,
    lockDuration: LOCK_MS,
    stalledInterval: STALLED_CHECK_MS,
    maxStalledCount: 1_000,
    settings: { backoffStrategy: (attemptsMade: number) => Math.min(settings.retryBaseMs * 2 ** Math.max(0, attemptsMade - 1), settings.retryMaxMs) },
  });
  worker.on('error', (error) => logger?.warn({ error: String(error) }, 'notify worker error'));
  await worker.waitUntilReady();

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const poll = async (): Promise<void> => {
    try {
      const now = options.now();
      for (const [id, until] of added) if (until <= now) added.delete(id);
      // Offer sets whose EXPIRING notice is due become events (recorded once, in one step: CLAIM_EXPIRING).
      for (const offerSet of await outbox.expiringDue(now, 500)) {
        if (stopped) return;
        await outbox.claimExpiring(offerSet, options.now());
      }
      for (const uuid of await outbox.due(2_000)) {
        if (stopped) return;
        await dispatchSession(uuid);
      }
    } catch (error) {
      logger?.warn({ error: String((error as Error).message ?? error) }, 'notify outbox not read; trying again');
    } finally {
      if (!stopped) timer = setTimeout(() => { void poll(); }, settings.pollMs);
    }
  };
  void poll();
  await options.wakeUps?.start((uuid) => {
    if (!stopped) dispatchSession(uuid).catch(() => undefined); // the poll finds it anyway
  });

  return {
    jobCounts: async () => ({ [NOTIFY_QUEUE]: await queue.getJobCounts(...JOB_STATES) }),
    async close() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await options.wakeUps?.close();
      await worker.close();
      await queue.close();
    },
  };
}

/** The notify queue's job counts, for an API process's /metrics (it runs no notify worker itself). */
export function notifyQueueCounts(producer: Redis, keys: RedisKeys): { jobCounts(): Promise<Record<string, Record<string, number>>>; close(): Promise<void> } {
  const queue = new Queue(NOTIFY_QUEUE, { connection: producer, prefix: keys.bullPrefix });
  return {
    jobCounts: async () => ({ [NOTIFY_QUEUE]: await queue.getJobCounts(...JOB_STATES) }),
    close: () => queue.close(),
  };
}
