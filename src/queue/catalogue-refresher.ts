import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { RedisKeys } from '../store/redis-keys.js';
import { CATALOGUE_QUEUE, JOB } from './queue-names.js';

/** The one job scheduler of the refresh: upserted by every process that runs it, so it exists once. */
const SCHEDULER_ID = 'refresh-site-capabilities';

export interface RunningCatalogueRefresher {
  close(): Promise<void>;
}

/**
 * The site capabilities catalogue's refresh as a repeatable BullMQ job (a job scheduler: the first
 * run at once, then every `everyMs`). Any number of processes may run this: the schedule is one,
 * and each run is done by one worker.
 */
export async function startCatalogueRefresher(options: {
  connection: Redis;
  producer: Redis;
  keys: RedisKeys;
  everyMs: number;
  refresh: () => Promise<unknown>;
}): Promise<RunningCatalogueRefresher> {
  const queue = new Queue(CATALOGUE_QUEUE, { connection: options.producer, prefix: options.keys.bullPrefix });
  const worker = new Worker(CATALOGUE_QUEUE, async () => { await options.refresh(); }, {
    connection: options.connection, prefix: options.keys.bullPrefix, concurrency: 1,
  });
  await worker.waitUntilReady();
  await queue.upsertJobScheduler(SCHEDULER_ID, { every: options.everyMs }, { name: JOB.refreshCatalogue, opts: { removeOnComplete: 10, removeOnFail: 10 } });
  return {
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}
