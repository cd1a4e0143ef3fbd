import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { NegotiationAnswer, NegotiationRequest, Negotiator } from '../broker/ports.js';
import type { RedisKeys } from '../store/redis-keys.js';
import { HEARTBEAT_TTL_MS, JOB, jobId, lifecycleJobOptions, siteQueueName, type LifecycleJob } from './queue-names.js';

/** How long an answer about live workers is reused (well under the heartbeat's lifetime). */
const LIVENESS_CACHE_MS = 1_000;

interface Pending { resolve: (answer: NegotiationAnswer | 'timeout') => void; timer: NodeJS.Timeout }

/**
 * The API's side of negotiation. Each request becomes a job on the site's queue; the answer comes
 * back as the job's return value through the queue's event stream, read by one QueueEvents per
 * site and matched to the waiting request by job id. A request that outlives its bound answers
 * 'timeout'; the site's holds for it are released by their expiry timer.
 */
export class BullNegotiator implements Negotiator {
  private readonly queues = new Map<string, Queue>();
  private readonly events = new Map<string, QueueEvents>();
  private readonly pending = new Map<string, Pending>();

  /**
   * `producer` adds jobs, `events` is duplicated by BullMQ for the blocking event reads, `store`
   * reads heartbeats.
   */
  constructor(
    private readonly connections: { producer: Redis; events: Redis; store: Redis },
    private readonly keys: RedisKeys,
    private readonly now: () => number,
  ) {}

  /** Opens the queue and its event reader for each site; resolves once events are being read. */
  async start(sites: readonly string[]): Promise<void> {
    await Promise.all(sites.map(async (site) => {
      const name = siteQueueName(site);
      this.queues.set(site, new Queue(name, { connection: this.connections.producer, prefix: this.keys.bullPrefix }));
      const events = new QueueEvents(name, { connection: this.connections.events, prefix: this.keys.bullPrefix });
      events.on('completed', ({ jobId: id, returnvalue }) => this.settle(id, returnvalue as unknown as NegotiationAnswer));
      events.on('failed', ({ jobId: id, failedReason }) => this.settle(id, {
        site, offers: [], messages: [{ kind: 'urn:site-failure', level: 'WARN', template: 'Site {site} failed to answer: {reason}', values: { site, reason: failedReason }, message: `Site ${site} failed to answer: ${failedReason}` }],
      }));
      this.events.set(site, events);
      await events.waitUntilReady();
    }));
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

  async negotiate(request: NegotiationRequest, timeoutMs: number): Promise<NegotiationAnswer | 'timeout'> {
    const queue = this.queues.get(request.site);
    if (!queue) throw new Error(`no queue for site ${request.site}`);
    const id = jobId.negotiate(request.offerSetUuid, request.site);
    const answer = new Promise<NegotiationAnswer | 'timeout'>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve('timeout');
      }, timeoutMs);
      this.pending.set(id, { resolve, timer });
    });
    try {
      await queue.add(JOB.negotiate, request, {
        jobId: id,
        attempts: 1,
        removeOnComplete: { age: 60, count: 5000 },
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
    const data: LifecycleJob = { sessionUuid };
    await queue.add(JOB.activate, data, lifecycleJobOptions(jobId.lifecycle(JOB.activate, sessionUuid)));
  }

  async notifyCancelled(site: string, sessionUuid: string): Promise<void> {
    const queue = this.queues.get(site);
    if (!queue) return;
    const data: LifecycleJob = { sessionUuid };
    await queue.add(JOB.stop, data, lifecycleJobOptions(jobId.lifecycle(JOB.stop, sessionUuid)));
  }

  async close(): Promise<void> {
    for (const waiting of this.pending.values()) {
      clearTimeout(waiting.timer);
      waiting.resolve('timeout');
    }
    this.pending.clear();
    await Promise.all([...this.events.values()].map((events) => events.close()));
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
  }
}
