import { randomUUID } from 'node:crypto';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { evaluateNegotiation } from '../broker/evaluate-negotiation.js';
import type { BrokerStore, CapacityLedger, NegotiationRequest } from '../broker/ports.js';
import { makeMessage } from '../domain/messages.js';
import type { SiteProfile } from '../domain/site-profile.js';
import type { RedisKeys } from '../store/redis-keys.js';
import { HEARTBEAT_INTERVAL_MS, HEARTBEAT_TTL_MS, JOB, siteQueueName, type ActivateJob } from './queue-names.js';

export interface SiteWorkerOptions {
  connection: Redis;
  keys: RedisKeys;
  site: SiteProfile;
  ledger: CapacityLedger;
  store: BrokerStore;
  now: () => number;
  concurrency?: number;
}

export interface RunningSiteWorker { worker: Worker; close(): Promise<void> }

/**
 * A site's worker: answers negotiations for the site and takes up the sessions accepted on it.
 * It beats a heartbeat into Redis so that the API knows the site is there.
 */
export async function startSiteWorker(options: SiteWorkerOptions): Promise<RunningSiteWorker> {
  const { connection, keys, site } = options;
  const workerId = randomUUID();
  const worker = new Worker(siteQueueName(site.name), async (job: Job) => {
    if (job.name === JOB.negotiate) {
      return evaluateNegotiation({ ledger: options.ledger, now: options.now }, site, job.data as NegotiationRequest);
    }
    if (job.name === JOB.activate) {
      const { sessionUuid } = job.data as ActivateJob;
      const now = options.now();
      const note = {
        ...makeMessage('urn:lifecycle-pending', 'INFO',
          'Session waits on site {site}: this broker does not run sessions yet (the execution lifecycle arrives in a later release)', { site: site.name }),
        time: new Date(now).toISOString(),
      };
      return options.store.advance(sessionUuid, 'ACCEPTED', 'WAITING', now, note);
    }
    throw new Error(`unknown job ${job.name}`);
  }, { connection, prefix: keys.bullPrefix, concurrency: options.concurrency ?? 64 });

  const beat = async (): Promise<void> => {
    const now = options.now();
    await connection.multi()
      .zadd(keys.siteWorkers(site.name), now, workerId)
      .zremrangebyscore(keys.siteWorkers(site.name), '-inf', now - 6 * HEARTBEAT_TTL_MS)
      .exec();
  };
  await worker.waitUntilReady();
  await beat();
  const timer = setInterval(() => { beat().catch(() => undefined); }, HEARTBEAT_INTERVAL_MS);
  timer.unref();
  return {
    worker,
    async close() {
      clearInterval(timer);
      await worker.close();
      await connection.zrem(keys.siteWorkers(site.name), workerId).catch(() => undefined);
    },
  };
}
