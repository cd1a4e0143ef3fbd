import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { BrokerStore } from '../broker/ports.js';
import { offerExpiredNote, unboundExpiredNote } from '../domain/messages.js';
import type { RedisKeys } from '../store/redis-keys.js';
import { JOB, OFFER_EXPIRY_BATCH, OFFER_EXPIRY_SWEEP_MS, TIMERS_QUEUE, type ExpireJob, type UnboundJob } from './queue-names.js';

export interface RunningTimerWorker { worker: Worker; close(): Promise<void> }

/**
 * Runs the timers: the offer expiry sweep (a BullMQ job scheduler on the timers queue, every
 * `sweepEveryMs`: one job however many processes run timers, and each sweep step is one atomic
 * script, so two at once would expire nothing twice) and the delayed timers (sessions left waiting
 * for an executable). Any number of these may run; each timer fires once.
 *
 * Why a sweep rather than a delayed job per offer set: the job cost every offer a BullMQ add (a
 * round trip and about 100 us of Redis) and, later, three more scripts to fire; the sweep's entry
 * is written by the hold itself (calendar-lua.ts FIND_AND_HOLD), in the step that makes it.
 */
export async function startTimerWorker(options: {
  connection: Redis; producer: Redis; keys: RedisKeys; store: BrokerStore; now: () => number; sweepEveryMs?: number;
}): Promise<RunningTimerWorker> {
  const sweep = async (): Promise<number> => {
    let expired = 0;
    for (;;) {
      const now = options.now();
      const step = await options.store.expireDueOffers(now, offerExpiredNote(now), OFFER_EXPIRY_BATCH);
      expired += step.expired;
      if (step.taken < OFFER_EXPIRY_BATCH) return expired;
    }
  };
  const worker = new Worker(TIMERS_QUEUE, async (job: Job) => {
    const now = options.now();
    switch (job.name) {
      case JOB.expireOffers: return sweep();
      case JOB.expire: return options.store.expireOffers((job.data as ExpireJob).holdIds, now, offerExpiredNote(now));
      case JOB.unbound: return options.store.expireUnbound((job.data as UnboundJob).sessionUuid, now, unboundExpiredNote(now));
      default: throw new Error(`unknown timer job ${job.name}`);
    }
  }, { connection: options.connection, prefix: options.keys.bullPrefix, concurrency: 16 });
  await worker.waitUntilReady();
  const queue = new Queue(TIMERS_QUEUE, { connection: options.producer, prefix: options.keys.bullPrefix });
  try {
    await queue.upsertJobScheduler(JOB.expireOffers, { every: options.sweepEveryMs ?? OFFER_EXPIRY_SWEEP_MS }, {
      name: JOB.expireOffers, data: {}, opts: { removeOnComplete: true, removeOnFail: true },
    });
  } catch (error) {
    await Promise.allSettled([worker.close(), queue.close()]);
    throw error;
  }
  return { worker, close: async () => { await Promise.allSettled([worker.close(), queue.close()]); } };
}
