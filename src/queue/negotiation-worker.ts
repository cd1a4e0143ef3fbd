import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { outrankedHoldsByOfferSet, type OutrankedHolds } from '../broker/outranked-holds.js';
import type { NegotiationAnswer, NegotiationRequest } from '../broker/ports.js';
import type { Logger } from '../observability/logger.js';
import { withRequestId } from '../observability/request-context.js';
import type { RedisKeys } from '../store/redis-keys.js';
import {
  NEGOTIATION_ANSWER_KEPT_MS, negotiationQueueName, type NegotiationJob, type NegotiationReply, type SiteReply,
} from './queue-names.js';

export interface NegotiationWorkerOptions {
  /** The BullMQ worker's connection (duplicated by BullMQ for its blocking reads). */
  connection: Redis;
  /** Publishes and keeps the replies. */
  producer: Redis;
  keys: RedisKeys;
  /** This process's group (queue-names.ts negotiationGroup()): the sites it serves. */
  group: string;
  /** Each site's evaluation of a request (site-worker.ts). */
  sites: ReadonlyMap<string, (request: NegotiationRequest, outranked?: OutrankedHolds) => Promise<NegotiationAnswer>>;
  now: () => number;
  /** Jobs evaluated at once (the BullMQ worker's concurrency). Default NEGOTIATION_CONCURRENCY. */
  concurrency?: number;
  logger?: Logger;
}

export interface RunningNegotiationWorker { worker: Worker; close(): Promise<void> }

/**
 * One BullMQ worker of concurrency 64 per process. Four workers of concurrency 1 were tried: a
 * worker with a free slot asks for another job at once (a moveToActive that finds none), so at
 * concurrency 1 an offer costs one script less at low load (redis-calls.mjs at c=1: 1.57 -> 1.42
 * ms of Redis CPU), but at c=32 run.mjs measured 177-320 offers/s with four of 1 against 445 with
 * one of 64 (jobs queue behind four serial workers): throughput first.
 */
export const NEGOTIATION_CONCURRENCY = 64;

/**
 * A worker process's side of negotiation: a BullMQ worker on its group's queue
 * (bull-negotiator.ts), which evaluates the requests of each job for all their sites at once and
 * publishes one reply per job on the channel of the API process that asked, kept a minute too in
 * the same round trip (for an API whose subscription was cut). A job whose answerBy has passed is
 * dropped unread: its API has stopped waiting. A job whose worker died is not run again
 * (maxStalledCount 0: BullMQ's stalled check fails it, and it is removed): its API answered
 * without those sites, and the offer expiry sweep releases what they held at their expiry.
 */
export async function startNegotiationWorker(options: NegotiationWorkerOptions): Promise<RunningNegotiationWorker> {
  const { keys, logger, group } = options;

  const evaluate = async (request: NegotiationRequest, outranked: OutrankedHolds | undefined): Promise<SiteReply> => {
    const answer = options.sites.get(request.site);
    if (!answer) return { site: request.site, error: `this worker does not serve site ${request.site}` };
    try {
      return { answer: await answer(request, outranked) };
    } catch (error) {
      return { site: request.site, error: (error as Error).message };
    }
  };

  const process = async (job: Job): Promise<void> => {
    const data = job.data as NegotiationJob;
    if (options.now() > data.answerBy) return;
    const started = Date.now();
    // Each request in the log context of the HTTP request that asked it (a job may carry several).
    const requests = data.requests ?? [];
    const outranked = outrankedHoldsByOfferSet(requests);
    const answers = await Promise.all(requests.map((request, index) => withRequestId(data.requestIds?.[index] || data.requestId, () => evaluate(request, outranked.get(request.offerSetUuid)))));
    const reply: NegotiationReply = { jobId: job.id ?? '', answers };
    const message = JSON.stringify(reply);
    await options.producer.pipeline()
      .publish(data.replyTo, message)
      .set(keys.negotiationAnswer(reply.jobId), message, 'PX', NEGOTIATION_ANSWER_KEPT_MS)
      .exec();
    logger?.debug({ group, job: job.id, requests: answers.length, ms: Date.now() - started }, 'negotiation answered');
  };
  const worker = new Worker(negotiationQueueName(group), process, {
    connection: options.connection,
    prefix: keys.bullPrefix,
    concurrency: Math.max(1, options.concurrency ?? NEGOTIATION_CONCURRENCY),
    // Nothing of a job is kept (the reply is kept above): no completed or failed sets to write and trim.
    removeOnComplete: { count: 0 },
    removeOnFail: { count: 0 },
    // A job whose worker died is failed at the next stalled check, not run again: it is late.
    maxStalledCount: 0,
    // Jobs take milliseconds: a lock renewal would never come due; the stalled check runs every 30 s per process, not per job.
    skipLockRenewal: true,
  });
  worker.on('error', (error) => logger?.warn({ group, error: error.message }, 'negotiation worker error'));
  await worker.waitUntilReady();
  return { worker, close: () => worker.close() };
}
