import type { KindAbility } from '../domain/executable-abilities.js';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { NegotiationAnswer, NegotiationRequest, Negotiator } from '../broker/ports.js';
import { currentRequestId } from '../observability/request-context.js';
import { ChannelSubscription, SUBSCRIBER_OPTIONS, type SubscriptionOptions } from '../store/channel-subscription.js';
import type { RedisKeys } from '../store/redis-keys.js';
import {
  HEARTBEAT_TTL_MS, JOB, JOB_STATES, jobId, lifecycleJobOptions, siteQueueName,
  type LifecycleJob, type NegotiationJob, type NegotiationReply,
} from './queue-names.js';

/** How long an answer about live workers is reused (well under the heartbeat's lifetime). */
const LIVENESS_CACHE_MS = 1_000;

interface Pending { resolve: (answer: NegotiationAnswer | 'timeout') => void; timer: NodeJS.Timeout; queue: Queue }

/** The answer a negotiation job kept, if it has finished. */
async function keptAnswer(queue: Queue, id: string): Promise<NegotiationAnswer | undefined> {
  const job = await queue.getJob(id);
  return job?.finishedOn && job.returnvalue ? job.returnvalue as NegotiationAnswer : undefined;
}

/**
 * The API's side of negotiation. Each request becomes a job on the site's queue; the site worker
 * publishes the answer on this process's own reply channel, where it is matched to the waiting
 * request by job id. A reply channel per API process (rather than every process reading every
 * queue's event stream) keeps the cost of an answer the same however many API processes share
 * Redis. An answer that never arrives (a worker that died, a lost subscription) leaves the request
 * to answer 'timeout' at its bound, after one last look at the job's return value (looked at
 * at once when a cut subscription is back); the site's holds for it are released by their
 * expiry timer.
 */
export class BullNegotiator implements Negotiator {
  private readonly queues = new Map<string, Queue>();
  private readonly pending = new Map<string, Pending>();
  private readonly replyTo: string;
  private replies: ChannelSubscription | undefined;

  /**
   * `producer` adds jobs, `events` is duplicated for the reply subscription, `store` reads
   * heartbeats.
   */
  constructor(
    private readonly connections: { producer: Redis; events: Redis; store: Redis },
    private readonly keys: RedisKeys,
    private readonly now: () => number,
    private readonly subscriptionOptions: SubscriptionOptions = {},
  ) {
    this.replyTo = keys.negotiationReplies(randomUUID());
  }

  /** Opens the queue of each site and subscribes to this process's replies. */
  async start(sites: readonly string[]): Promise<void> {
    for (const site of sites) {
      this.queues.set(site, new Queue(siteQueueName(site), { connection: this.connections.producer, prefix: this.keys.bullPrefix }));
    }
    const connection = this.connections.events.duplicate({ ...SUBSCRIBER_OPTIONS, connectionName: 'eb-negotiation-replies' });
    this.replies = new ChannelSubscription(connection, this.replyTo, {
      message: (text) => this.receive(text),
      // Replies published while it was down are lost; the jobs keep them.
      restored: () => { for (const id of this.pending.keys()) void this.lookUp(id); },
    }, this.subscriptionOptions);
    await this.replies.start();
  }

  /** Subscribed to this process's replies now (for /metrics). */
  get repliesUp(): boolean {
    return this.replies?.up ?? false;
  }

  private receive(text: string): void {
    let reply: NegotiationReply;
    try {
      reply = JSON.parse(text) as NegotiationReply;
    } catch {
      return;
    }
    this.settle(reply.jobId, 'answer' in reply ? reply.answer : siteFailed(reply.site, reply.error));
  }

  /** A request whose reply may have been published while the subscription was down. */
  private async lookUp(id: string): Promise<void> {
    const waiting = this.pending.get(id);
    const answer = waiting && await keptAnswer(waiting.queue, id).catch(() => undefined);
    if (answer) this.settle(id, answer);
  }

  private settle(id: string, answer: NegotiationAnswer): void {
    const waiting = this.pending.get(id);
    if (!waiting) return;
    this.pending.delete(id);
    clearTimeout(waiting.timer);
    waiting.resolve(answer);
  }

  /**
   * Which sites have a live worker. Heartbeats come every HEARTBEAT_INTERVAL_MS, so an answer a
   * moment old is as good as a new one: it is kept for LIVENESS_CACHE_MS and shared by concurrent
   * requests, instead of costing every request a round trip.
   */
  async liveSites(names: readonly string[]): Promise<Set<string>> {
    const now = this.now();
    if (!this.liveness || now - this.liveness.at > LIVENESS_CACHE_MS || names.some((name) => !this.liveness!.asked.has(name))) {
      const asked = new Set([...(this.liveness?.asked ?? []), ...names]);
      this.liveness = { at: now, asked, live: this.readLiveness([...asked], now) };
      this.liveness.live.catch(() => { this.liveness = undefined; });
    }
    const live = await this.liveness.live;
    return new Set(names.filter((name) => live.has(name)));
  }

  private liveness: { at: number; asked: Set<string>; live: Promise<Set<string>> } | undefined;

  private async readLiveness(names: string[], now: number): Promise<Set<string>> {
    const pipeline = this.connections.store.pipeline();
    for (const name of names) pipeline.zcount(this.keys.siteWorkers(name), now - HEARTBEAT_TTL_MS, '+inf');
    const replies = (await pipeline.exec()) ?? [];
    return new Set(names.filter((_, index) => Number(replies[index]?.[1] ?? 0) > 0));
  }

  /**
   * What each live worker of each site published with its heartbeat that it can run (site ->
   * one list of kinds per live worker); a site with no live worker has none.
   */
  async workerAbilities(names: readonly string[]): Promise<Map<string, KindAbility[][]>> {
    const now = this.now();
    const pipeline = this.connections.store.pipeline();
    for (const name of names) pipeline.zrangebyscore(this.keys.siteWorkers(name), now - HEARTBEAT_TTL_MS, '+inf').hgetall(this.keys.siteAbilities(name));
    const replies = (await pipeline.exec()) ?? [];
    return new Map(names.map((name, index) => {
      const live = (replies[2 * index]?.[1] ?? []) as string[];
      const published = (replies[2 * index + 1]?.[1] ?? {}) as Record<string, string>;
      return [name, live.filter((worker) => Object.hasOwn(published, worker)).map((worker) => JSON.parse(published[worker] as string) as KindAbility[])];
    }));
  }

  /** What the live workers of each site make their runs with, by name (each worker's list, as it published it). */
  async workerExecutors(names: readonly string[]): Promise<Map<string, string[]>> {
    const now = this.now();
    const pipeline = this.connections.store.pipeline();
    for (const name of names) pipeline.zrangebyscore(this.keys.siteWorkers(name), now - HEARTBEAT_TTL_MS, '+inf').hgetall(this.keys.siteExecutors(name));
    const replies = (await pipeline.exec()) ?? [];
    return new Map(names.map((name, index) => {
      const live = (replies[2 * index]?.[1] ?? []) as string[];
      const published = (replies[2 * index + 1]?.[1] ?? {}) as Record<string, string>;
      const all = live.filter((worker) => Object.hasOwn(published, worker)).flatMap((worker) => {
        try { return (JSON.parse(published[worker] as string) as unknown[]).filter((item): item is string => typeof item === 'string'); } catch { return []; }
      });
      return [name, [...new Set(all)]];
    }));
  }

  /** Jobs in each site's queue by state (for /metrics). */
  async jobCounts(): Promise<Record<string, Record<string, number>>> {
    const entries = await Promise.all([...this.queues.entries()].map(async ([site, queue]) => [siteQueueName(site), await queue.getJobCounts(...JOB_STATES)] as const));
    return Object.fromEntries(entries);
  }

  /** Site workers with a fresh heartbeat, per site (for /metrics). */
  async workerCounts(names: readonly string[]): Promise<Record<string, number>> {
    const now = this.now();
    const pipeline = this.connections.store.pipeline();
    for (const name of names) pipeline.zcount(this.keys.siteWorkers(name), now - HEARTBEAT_TTL_MS, '+inf');
    const replies = (await pipeline.exec()) ?? [];
    return Object.fromEntries(names.map((name, index) => [name, Number(replies[index]?.[1] ?? 0)]));
  }

  async negotiate(request: NegotiationRequest, timeoutMs: number): Promise<NegotiationAnswer | 'timeout'> {
    const queue = this.queues.get(request.site);
    if (!queue) throw new Error(`no queue for site ${request.site}`);
    const id = jobId.negotiate(request.offerSetUuid, request.site);
    const answer = new Promise<NegotiationAnswer | 'timeout'>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        // The reply may have been lost on the way (a reconnecting subscriber): the job keeps it.
        keptAnswer(queue, id).then((answer) => resolve(answer ?? 'timeout'), () => resolve('timeout'));
      }, timeoutMs);
      this.pending.set(id, { resolve, timer, queue });
    });
    const requestId = currentRequestId();
    const data: NegotiationJob = { ...request, replyTo: this.replyTo, ...(requestId ? { requestId } : {}) };
    try {
      await queue.add(JOB.negotiate, data, {
        jobId: id,
        attempts: 1,
        // Kept a little while for the look at a timed-out request's answer; no one else reads it.
        removeOnComplete: { age: 60 },
        removeOnFail: { age: 3600 },
      });
    } catch (error) {
      this.settle(id, { site: request.site, offers: [], messages: [] });
      throw error;
    }
    return answer;
  }

  async notifyAccepted(site: string, sessionUuid: string): Promise<void> {
    const queue = this.queues.get(site);
    if (!queue) return;
    const data = lifecycleJob(sessionUuid);
    await queue.add(JOB.activate, data, lifecycleJobOptions(jobId.lifecycle(JOB.activate, sessionUuid)));
  }

  async notifyCancelled(site: string, sessionUuid: string): Promise<void> {
    const queue = this.queues.get(site);
    if (!queue) return;
    const data = lifecycleJob(sessionUuid);
    await queue.add(JOB.stop, data, lifecycleJobOptions(jobId.lifecycle(JOB.stop, sessionUuid)));
  }

  async close(): Promise<void> {
    for (const waiting of this.pending.values()) {
      clearTimeout(waiting.timer);
      waiting.resolve('timeout');
    }
    this.pending.clear();
    await this.replies?.close();
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
  }
}

function lifecycleJob(sessionUuid: string): LifecycleJob {
  const requestId = currentRequestId();
  return { sessionUuid, ...(requestId ? { requestId } : {}) };
}

/** The answer of a site whose worker failed to evaluate the request: no offers, and why. */
function siteFailed(site: string, reason: string): NegotiationAnswer {
  return {
    site, offers: [], messages: [{
      kind: 'urn:site-failure', level: 'WARN', template: 'Site {site} failed to answer: {reason}',
      values: { site, reason }, message: `Site ${site} failed to answer: ${reason}`,
    }],
  };
}
