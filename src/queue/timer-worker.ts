import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { BrokerStore } from '../broker/ports.js';
import { offerExpiredNote, unboundExpiredNote } from '../domain/messages.js';
import type { RedisKeys } from '../store/redis-keys.js';
import { JOB, TIMERS_QUEUE, type ExpireJob, type UnboundJob } from './queue-names.js';

/** Runs the timers (offer expiry, sessions left waiting for an executable). Any number of these may run; each timer fires once. */
export function startTimerWorker(options: { connection: Redis; keys: RedisKeys; store: BrokerStore; now: () => number }): Worker {
  return new Worker(TIMERS_QUEUE, async (job: Job) => {
    const now = options.now();
    switch (job.name) {
      case JOB.expire: return options.store.expireOffers((job.data as ExpireJob).holdIds, now, offerExpiredNote(now));
      case JOB.unbound: return options.store.expireUnbound((job.data as UnboundJob).sessionUuid, now, unboundExpiredNote(now));
      default: throw new Error(`unknown timer job ${job.name}`);
    }
  }, { connection: options.connection, prefix: options.keys.bullPrefix, concurrency: 16 });
}
