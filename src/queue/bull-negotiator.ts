import type { KindAbility } from '../domain/executable-abilities.js';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { NegotiationAnswer, NegotiationRequest, Negotiator } from '../broker/ports.js';
import { currentRequestId } from '../observability/request-context.js';
import { ChannelSubscription, SUBSCRIBER_OPTIONS, type SubscriptionOptions } from '../store/channel-subscription.js';
import type { RedisKeys } from '../store/redis-keys.js';
import {
  HEARTBEAT_TTL_MS, JOB, JOB_STATES, jobId, lifecycleJobOptions, negotiationJobOptions, negotiationQueueName,
  OFFER_PATH_QUEUE_STREAMS, siteQueueName, type LifecycleJob, type NegotiationJob, type NegotiationReply, type SiteReply,
} from './queue-names.js';

/** How long an answer about live workers is reused (well under the heartbeat's lifetime). */
const LIVENESS_CACHE_MS = 1_000;

/**
 * Negotiation jobs a group may have in flight from one API process; requests that come while that
 * many are out wait and go together, as one job, when one comes back (group commit). At low load a
 * request goes at once, alone; under load a job carries many, and what BullMQ costs a job (an add,
 * a take and a finish, three stream entries, a reply) is paid once for all of them.
 */
export const NEGOTIATION_JOBS_IN_FLIGHT = 2;
/** The most site requests one negotiation job carries. */
export const NEGOTIATION_BATCH_MAX = 64;

/** One negotiate() call's requests to one group, and who waits for their answers. */
interface Waiter {
  requests: NegotiationRequest[];
  requestId: string | undefined;
  /** Set when its job has gone out: the job, and where its requests start in the job's. */
  job?: InFlightJob;
  offset: number;
  timer: NodeJS.Timeout;
  done: boolean;
  resolve: (parts: SiteReply[] | undefined) => void;
  reject: (error: unknown) => void;
}

/** A job out on a group's queue: its waiters, and how many of them still wait. */
interface InFlightJob { id: string; group: string; waiters: Waiter[]; waiting: number }

/** A group's requests waiting to go, and its jobs in flight. */
interface GroupLane { queued: Waiter[]; inFlight: number; flushing: boolean }

/**
 * The API's side of negotiation. The requests of an offer set go out as one BullMQ job per worker
 * process that serves some of the sites asked (its group: the sites it serves, published with its
 * heartbeat), on the group's queue; one of the group's workers takes it and publishes the answers
 * of all its sites on this process's own reply channel, where they are matched to the waiting
 * request by job id. Under load, offer sets asked of a group while NEGOTIATION_JOBS_IN_FLIGHT of
 * its jobs are out wait and go together in the next job (each with its own part of the reply). A
 * reply channel per API process (rather than every process reading every queue's event stream)
 * keeps the cost of an answer the same however many API processes share Redis. An answer that
 * never arrives (a worker that died, a lost subscription) leaves the request to answer 'timeout'
 * at its bound, after one last look at the reply the worker keeps for a minute (looked at at once
 * when a cut subscription is back); the sites' holds for it are released at the offer's expiry
 * (each hold enters the expiry sweep as it is made). Lifecycle steps (accept, cancel) are jobs on
 * each site's queue.
 */
export class BullNegotiator implements Negotiator {
  private readonly queues = new Map<string, Queue>();
  /** The negotiation queue of each group asked so far (opened on first use: groups come and go with their workers). */
  private readonly groupQueues = new Map<string, Queue>();
  /** The jobs in flight by id. */
  private readonly pending = new Map<string, InFlightJob>();
  private readonly lanes = new Map<string, GroupLane>();
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
      restored: () => { for (const id of [...this.pending.keys()]) void this.lookUp(id); },
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
    this.settleJob(reply.jobId, reply);
  }

  /** The reply the worker keeps, if it has answered. */
  private async keptReply(id: string): Promise<NegotiationReply | undefined> {
    const text = await this.connections.store.get(this.keys.negotiationAnswer(id));
    return text ? JSON.parse(text) as NegotiationReply : undefined;
  }

  /** A job whose reply may have been published while the subscription was down. */
  private async lookUp(id: string): Promise<void> {
    const reply = this.pending.has(id) ? await this.keptReply(id).catch(() => undefined) : undefined;
    if (reply) this.settleJob(id, reply);
  }

  /** A job's reply: each waiter still waiting gets its part. */
  private settleJob(id: string, reply: NegotiationReply): void {
    const job = this.pending.get(id);
    if (!job) return;
    this.pending.delete(id);
    for (const waiter of job.waiters) this.answer(waiter, reply.answers.slice(waiter.offset, waiter.offset + waiter.requests.length));
    this.jobDone(job.group);
  }

  private answer(waiter: Waiter, parts: SiteReply[] | undefined): void {
    this.finish(waiter, () => waiter.resolve(parts));
  }

  /** Ends a waiter's wait once (an answer, a time-out or a failed add, whichever comes first). */
  private finish(waiter: Waiter, settle: () => void): void {
    if (waiter.done) return;
    waiter.done = true;
    clearTimeout(waiter.timer);
    settle();
  }

  /**
   * A waiter's time is up. Still queued: it leaves the queue unanswered. In a job: the reply may
   * have been lost on the way (a reconnecting subscriber), and the worker keeps it; none, and
   * nobody else waits for the job: it goes if no worker has taken it (its group's processes
   * died), so that a group that never comes back leaves no job waiting in Redis; a job being run stays.
   */
  private timeUp(waiter: Waiter, group: string): void {
    const job = waiter.job;
    if (!job) {
      const lane = this.lanes.get(group);
      if (lane) lane.queued = lane.queued.filter((queued) => queued !== waiter);
      this.answer(waiter, undefined);
      return;
    }
    this.keptReply(job.id).then(async (kept) => {
      if (kept) return this.settleJob(job.id, kept);
      this.answer(waiter, undefined);
      job.waiting -= 1;
      if (job.waiting > 0 || !this.pending.has(job.id)) return;
      this.pending.delete(job.id);
      await this.groupQueue(group).remove(job.id).catch(() => 0);
      this.jobDone(group);
    }, () => this.answer(waiter, undefined));
  }

  private lane(group: string): GroupLane {
    let lane = this.lanes.get(group);
    if (!lane) {
      lane = { queued: [], inFlight: 0, flushing: false };
      this.lanes.set(group, lane);
    }
    return lane;
  }

  /** A job of the group came back (or gave up): the requests waiting go, together. */
  private jobDone(group: string): void {
    const lane = this.lane(group);
    lane.inFlight -= 1;
    this.flushSoon(group);
  }

  /**
   * Sends the group's waiting requests once this turn of the event loop is over (requests that
   * reach negotiation in the same turn go together), in as many jobs as the lane has room for.
   */
  private flushSoon(group: string): void {
    const lane = this.lane(group);
    if (lane.flushing || lane.queued.length === 0 || lane.inFlight >= NEGOTIATION_JOBS_IN_FLIGHT) return;
    lane.flushing = true;
    setImmediate(() => {
      lane.flushing = false;
      while (lane.queued.length && lane.inFlight < NEGOTIATION_JOBS_IN_FLIGHT) this.send(group, lane);
    });
  }

  /** One job of the waiters at the head of the lane (as many as NEGOTIATION_BATCH_MAX requests allow, at least one). */
  private send(group: string, lane: GroupLane): void {
    const waiters: Waiter[] = [];
    let count = 0;
    while (lane.queued.length) {
      const next = lane.queued[0] as Waiter;
      if (waiters.length && count + next.requests.length > NEGOTIATION_BATCH_MAX) break;
      lane.queued.shift();
      waiters.push(next);
      count += next.requests.length;
    }
    const id = jobId.negotiate(waiters[0]?.requests[0]?.offerSetUuid ?? randomUUID(), group);
    const job: InFlightJob = { id, group, waiters, waiting: waiters.length };
    const requests: NegotiationRequest[] = [];
    const requestIds: string[] = [];
    for (const waiter of waiters) {
      waiter.job = job;
      waiter.offset = requests.length;
      requests.push(...waiter.requests);
      requestIds.push(...waiter.requests.map(() => waiter.requestId ?? ''));
    }
    // The worker drops the job unread once every request's answerBy has passed (each is checked again as it is held).
    const answerBy = Math.max(...requests.map((request) => request.answerBy));
    const data: NegotiationJob = { replyTo: this.replyTo, answerBy, requests, ...(requestIds.some(Boolean) ? { requestIds } : {}) };
    lane.inFlight += 1;
    this.pending.set(id, job);
    this.groupQueue(group).add(JOB.negotiate, data, negotiationJobOptions(id)).catch((error: unknown) => {
      if (this.pending.get(id) !== job) return;
      this.pending.delete(id);
      for (const waiter of waiters) this.finish(waiter, () => waiter.reject(error));
      this.jobDone(group);
    });
  }

  /** Queues one call's requests to a group; resolves with their parts of the reply, or undefined when none came in time. */
  private ask(group: string, requests: NegotiationRequest[], timeoutMs: number): Promise<SiteReply[] | undefined> {
    const requestId = currentRequestId();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { requests, requestId, offset: 0, done: false, resolve, reject, timer: setTimeout(() => this.timeUp(waiter, group), timeoutMs) };
      this.lane(group).queued.push(waiter);
      this.flushSoon(group);
    });
  }

  /**
   * Which sites have a live worker. Heartbeats come every HEARTBEAT_INTERVAL_MS, so an answer a
   * moment old is as good as a new one: it is kept for LIVENESS_CACHE_MS and shared by concurrent
   * requests, instead of costing every request a round trip.
   */
  async liveSites(names: readonly string[]): Promise<Set<string>> {
    const live = await this.liveGroups(names);
    return new Set(names.filter((name) => live.has(name)));
  }

  /** The groups of the live workers of each site that has one (a worker that publishes none: the site alone). */
  private async liveGroups(names: readonly string[]): Promise<Map<string, string[]>> {
    const now = this.now();
    if (!this.liveness || now - this.liveness.at > LIVENESS_CACHE_MS || names.some((name) => !this.liveness!.asked.has(name))) {
      const asked = new Set([...(this.liveness?.asked ?? []), ...names]);
      this.liveness = { at: now, asked, live: this.readLiveness([...asked], now) };
      this.liveness.live.catch(() => { this.liveness = undefined; });
    }
    return this.liveness.live;
  }

  private liveness: { at: number; asked: Set<string>; live: Promise<Map<string, string[]>> } | undefined;

  private async readLiveness(names: string[], now: number): Promise<Map<string, string[]>> {
    const live = new Map<string, string[]>();
    for (const [name, { workers, published }] of await this.publishedByLiveWorkers(names, (site) => this.keys.siteGroups(site), now)) {
      if (workers.length) live.set(name, [...new Set(workers.map((worker) => (Object.hasOwn(published, worker) ? published[worker] as string : name)))].sort());
    }
    return live;
  }

  /**
   * Per site, its workers with a fresh heartbeat and what each published in the hash at
   * `hashOf(site)` (its group, abilities or executors, keyed by worker id), in one round trip.
   */
  private async publishedByLiveWorkers(names: readonly string[], hashOf: (site: string) => string, now = this.now()): Promise<Map<string, { workers: string[]; published: Record<string, string> }>> {
    const pipeline = this.connections.store.pipeline();
    for (const name of names) pipeline.zrangebyscore(this.keys.siteWorkers(name), now - HEARTBEAT_TTL_MS, '+inf').hgetall(hashOf(name));
    const replies = (await pipeline.exec()) ?? [];
    return new Map(names.map((name, index) => [name, {
      workers: (replies[2 * index]?.[1] ?? []) as string[],
      published: (replies[2 * index + 1]?.[1] ?? {}) as Record<string, string>,
    }]));
  }

  /**
   * What each live worker of each site published with its heartbeat that it can run (site ->
   * one list of kinds per live worker); a site with no live worker has none.
   */
  async workerAbilities(names: readonly string[]): Promise<Map<string, KindAbility[][]>> {
    const byWorker = await this.publishedByLiveWorkers(names, (site) => this.keys.siteAbilities(site));
    return new Map([...byWorker].map(([name, { workers, published }]) => [name,
      workers.filter((worker) => Object.hasOwn(published, worker)).map((worker) => JSON.parse(published[worker] as string) as KindAbility[])]));
  }

  /** What the live workers of each site make their runs with, by name (each worker's list, as it published it). */
  async workerExecutors(names: readonly string[]): Promise<Map<string, string[]>> {
    const byWorker = await this.publishedByLiveWorkers(names, (site) => this.keys.siteExecutors(site));
    return new Map([...byWorker].map(([name, { workers, published }]) => {
      const all = workers.filter((worker) => Object.hasOwn(published, worker)).flatMap((worker) => {
        try { return (JSON.parse(published[worker] as string) as unknown[]).filter((item): item is string => typeof item === 'string'); } catch { return []; }
      });
      return [name, [...new Set(all)]];
    }));
  }

  /** Jobs in each site's queue by state (for /metrics). */
  async jobCounts(): Promise<Record<string, Record<string, number>>> {
    const entries = await Promise.all([
      ...[...this.queues.entries()].map(async ([site, queue]) => [siteQueueName(site), await queue.getJobCounts(...JOB_STATES)] as const),
      ...[...this.groupQueues.entries()].map(async ([group, queue]) => [negotiationQueueName(group), await queue.getJobCounts(...JOB_STATES)] as const),
    ]);
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

  /** The negotiation queue of a group. */
  private groupQueue(group: string): Queue {
    let queue = this.groupQueues.get(group);
    if (!queue) {
      queue = new Queue(negotiationQueueName(group), { connection: this.connections.producer, prefix: this.keys.bullPrefix, streams: OFFER_PATH_QUEUE_STREAMS });
      this.groupQueues.set(group, queue);
    }
    return queue;
  }

  async negotiate(requests: readonly NegotiationRequest[], timeoutMs: number): Promise<Array<NegotiationAnswer | 'timeout'>> {
    if (requests.length === 0) return [];
    const jobs = byGroup(requests, await this.liveGroups(requests.map((r) => r.site)));
    // Every group is asked at once; requests to a busy group wait to go with others (ask()).
    const asking = [...jobs].map(([group, asked]) => ({ asked, reply: this.ask(group, asked, timeoutMs) }));
    const settled = await Promise.allSettled(asking.map(({ reply }) => reply));
    const failed = settled.find((result) => result.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const answers = new Map<string, NegotiationAnswer | 'timeout'>();
    asking.forEach(({ asked }, index) => {
      const got = (settled[index] as PromiseFulfilledResult<SiteReply[] | undefined>).value;
      asked.forEach((request, at) => {
        const part = got?.[at];
        answers.set(request.site, !part ? 'timeout' : 'answer' in part ? part.answer : siteFailed(part.site, part.error));
      });
    });
    return requests.map((request) => answers.get(request.site) ?? 'timeout');
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
    for (const lane of this.lanes.values()) {
      for (const waiter of lane.queued) this.answer(waiter, undefined);
      lane.queued = [];
    }
    for (const job of this.pending.values()) for (const waiter of job.waiters) this.answer(waiter, undefined);
    this.pending.clear();
    await this.replies?.close();
    await Promise.all([...this.queues.values(), ...this.groupQueues.values()].map((queue) => queue.close()));
  }
}

function lifecycleJob(sessionUuid: string): LifecycleJob {
  const requestId = currentRequestId();
  return { sessionUuid, ...(requestId ? { requestId } : {}) };
}

/**
 * The requests by the group that is asked them: each time the live group that serves the most of
 * the sites left (the fewest jobs: one when one worker process serves every site asked).
 */
function byGroup(requests: readonly NegotiationRequest[], groups: Map<string, string[]>): Map<string, NegotiationRequest[]> {
  const jobs = new Map<string, NegotiationRequest[]>();
  const groupsOf = (request: NegotiationRequest): string[] => groups.get(request.site) ?? [request.site];
  let left = [...requests];
  while (left.length) {
    const counts = new Map<string, number>();
    for (const request of left) for (const group of groupsOf(request)) counts.set(group, (counts.get(group) ?? 0) + 1);
    const [best] = [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0] ?? [''];
    jobs.set(best, left.filter((request) => groupsOf(request).includes(best)));
    left = left.filter((request) => !groupsOf(request).includes(best));
  }
  return jobs;
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
