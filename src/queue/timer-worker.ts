import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { BrokerStore } from '../broker/ports.js';
import { offerExpiredNote } from '../domain/messages.js';
import type { RedisKeys } from '../store/redis-keys.js';
import { JOB, TIMERS_QUEUE, type ExpireJob } from './queue-names.js';

/** Runs the timers (offer expiry). Any number of these may run; each timer fires once. */
export function startTimerWorker(options: { connection: Redis; keys: RedisKeys; store: BrokerStore; now: () => number }): Worker {
  return new Worker(TIMERS_QUEUE, async (job: Job) => {
    if (job.name !== JOB.expire) throw new Error(`unknown timer job ${job.name}`);
    const { holdIds } = job.data as ExpireJob;
    const now = options.now();
    return options.store.expireOffers(holdIds, now, offerExpiredNote(now));
  }, { connection: options.connection, prefix: options.keys.bullPrefix, concurrency: 16 });
}
