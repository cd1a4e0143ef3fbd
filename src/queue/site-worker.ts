import { randomUUID } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { evaluateNegotiation } from '../broker/evaluate-negotiation.js';
import type { Executor, Stager } from '../broker/executor.js';
import type { OutrankedHolds } from '../broker/outranked-holds.js';
import type { BrokerStore, CapacityLedger, NegotiationAnswer, NegotiationRequest, NotebookTokens, SiteCredentials } from '../broker/ports.js';
import { reconcileSessions } from '../broker/reconcile-sessions.js';
import {
  activateSession, checkStaging, giveUpStep, pollSession, prepareSession, startSession, stopSession,
  type LifecycleScheduler, type LifecycleStep, type RunSessionDeps,
} from '../broker/run-session.js';
import { removeSessionDirectory, sweepSessionDirectories, type RetentionDeps, type SessionDirectories } from '../broker/session-retention.js';
import { defaultAbilities, nothingRuns, withinConfigured } from '../domain/executable-abilities.js';
import { isTerminal } from '../domain/phases.js';
import type { SiteEconomics } from '../domain/site-economics.js';
import type { SiteProfile } from '../domain/site-profile.js';
import type { Logger } from '../observability/logger.js';
import { currentRequestId, withRequestId } from '../observability/request-context.js';
import type { RedisKeys } from '../store/redis-keys.js';
import {
  HEARTBEAT_INTERVAL_MS, HEARTBEAT_TTL_MS, JOB, jobId, lifecycleJobOptions, RECONCILE_GRACE_MS, siteQueueName,
  type LifecycleJob,
} from './queue-names.js';

export interface SiteWorkerOptions {
  connection: Redis;
  /** For the site's own timers (delayed lifecycle jobs). */
  producer: Redis;
  keys: RedisKeys;
  site: SiteProfile;
  ledger: CapacityLedger;
  store: BrokerStore;
  executor: Executor | { unavailable: string };
  stager: Stager;
  /** For a site that acts for the user (token exchange): its tokens, and the hosts that may see them. */
  credentials?: { source: SiteCredentials; hosts: readonly string[] };
  /** Where interactive notebook servers' tokens are made and kept. */
  notebookTokens?: NotebookTokens;
  now: () => number;
  concurrency?: number;
  pollIntervalMs?: number;
  /** How often the site's reconciler looks for sessions whose next step was lost (a crash). */
  reconcileIntervalMs?: number;
  logger?: Logger;
  /** The site's session directories, removed `site.limits.retention` after their session ends. */
  directories?: SessionDirectories;
  /** The site's economics now (a carbon forecast file read again when it changes); absent: the profile's. */
  economics?: (site: SiteProfile) => SiteEconomics;
  /** The group of this worker's process (queue-names.ts negotiationGroup()), published with its heartbeat; the site alone by default. */
  group?: string;
}

export interface RunningSiteWorker {
  worker: Worker;
  /** The site's answer to a negotiation (its process's negotiation-worker.ts takes the jobs). */
  negotiate(request: NegotiationRequest, outranked?: OutrankedHolds): Promise<NegotiationAnswer>;
  close(): Promise<void>;
}

const LIFECYCLE_STEPS: ReadonlySet<string> = new Set([JOB.activate, JOB.prepare, JOB.stage, JOB.start, JOB.poll, JOB.stop]);

/**
 * The store, scheduling the removal of the session's directory whenever the site worker ends a
 * session (COMPLETED, FAILED), in the step that ends it.
 */
function removingAfterEnd(store: BrokerStore, retention: RetentionDeps): BrokerStore {
  const finishing = Object.create(store) as BrokerStore;
  finishing.finish = async (uuid, from, to, now, note) => {
    const ended = await store.finish(uuid, from, to, now, note);
    if (ended && isTerminal(to)) await retention.scheduleRemoval(uuid, now + retention.retentionMs);
    return ended;
  };
  return finishing;
}

/**
 * A site's worker: answers negotiations for the site, and carries the sessions accepted on it
 * through their lives, one short job per step (never a job held open for the whole run). Every
 * step checks the session's phase first, so a step run twice does nothing twice. It beats a
 * heartbeat into Redis so that the API knows the site is there.
 */
export async function startSiteWorker(options: SiteWorkerOptions): Promise<RunningSiteWorker> {
  const { connection, keys, site } = options;
  const workerId = randomUUID();
  const queue = new Queue(siteQueueName(site.name), { connection: options.producer, prefix: keys.bullPrefix });
  const scheduler: LifecycleScheduler = {
    async schedule(step: LifecycleStep, sessionUuid: string, at: number, seq?: number) {
      const requestId = currentRequestId();
      const data: LifecycleJob = { sessionUuid, ...(seq === undefined ? {} : { seq }), ...(requestId ? { requestId } : {}) };
      await queue.add(step, data, lifecycleJobOptions(jobId.lifecycle(step, sessionUuid, seq), Math.max(0, at - options.now())));
    },
  };
  const retention: RetentionDeps | undefined = options.directories && {
    store: options.store, directories: options.directories, retentionMs: site.limits.retentionMs, now: options.now,
    async scheduleRemoval(sessionUuid: string, at: number) {
      await queue.add(JOB.cleanup, { sessionUuid }, lifecycleJobOptions(jobId.cleanup(sessionUuid), Math.max(0, at - options.now())));
    },
  };
  const lifecycle: RunSessionDeps = {
    store: retention ? removingAfterEnd(options.store, retention) : options.store,
    executor: options.executor, stager: options.stager, scheduler, now: options.now, site: site.name,
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(options.notebookTokens ? { notebookTokens: options.notebookTokens } : {}),
    pollIntervalMs: options.pollIntervalMs ?? 500, maxLogBytes: site.limits.servedLogBytes,
    maxStagingBytes: Math.max(1, site.scratchGiB) * 1024 ** 3,
  };
  const executor = options.executor;
  const givesGpus = 'unavailable' in executor ? undefined : executor.givesGpus?.bind(executor);
  const refusesPorts = 'unavailable' in executor ? undefined : executor.refusesPorts?.bind(executor);
  // What this worker can really run, found once: negotiation refuses the rest, and the heartbeat publishes it.
  const found = 'unavailable' in executor
    ? nothingRuns(`site ${site.name} cannot run sessions: ${executor.unavailable}`)
    : await executor.abilities?.() ?? defaultAbilities();
  const abilities = withinConfigured(found, site.executableKinds, site.name);
  options.logger?.info({ site: site.name, abilities: abilities.map((a) => (a.runnable ? `${a.kind}: runnable` : `${a.kind}: not runnable (${a.reason})`)) }, 'executable kinds');
  const negotiate = (request: NegotiationRequest, outranked?: OutrankedHolds): Promise<NegotiationAnswer> =>
    evaluateNegotiation({ ledger: options.ledger, now: options.now, givesGpus, ...(refusesPorts ? { refusesPorts } : {}), abilities, ...(options.economics ? { economics: options.economics } : {}) }, site, request, outranked);
  const logger = options.logger;
  const worker = new Worker(siteQueueName(site.name), (job: Job) => withRequestId((job.data as LifecycleJob).requestId, async () => {
    const { sessionUuid, seq } = job.data as LifecycleJob;
    // Steps that change a session are logged; polls only at debug level.
    const quiet = job.name === JOB.poll || job.name === JOB.stage || job.name === JOB.reconcile;
    const started = Date.now();
    try {
      const result = await step(job, sessionUuid, seq);
      logger?.[quiet ? 'debug' : 'info']({ site: site.name, job: job.name, session: sessionUuid, ms: Date.now() - started }, 'step done');
      return result;
    } catch (error) {
      logger?.warn({ site: site.name, job: job.name, session: sessionUuid, attempt: job.attemptsMade + 1, error: (error as Error).message }, 'step failed');
      throw error;
    }
  }), {
    connection,
    prefix: keys.bullPrefix,
    concurrency: options.concurrency ?? 64,
    // Steps are short: a worker killed in the middle of one gives it up to another within seconds.
    lockDuration: 10_000,
    stalledInterval: 5_000,
  });

  async function step(job: Job, sessionUuid: string, seq: number | undefined): Promise<unknown> {
    switch (job.name) {
      case JOB.activate: return activateSession(lifecycle, sessionUuid);
      case JOB.prepare: return prepareSession(lifecycle, sessionUuid);
      case JOB.stage: return checkStaging(lifecycle, sessionUuid, seq ?? 0);
      case JOB.start: return startSession(lifecycle, sessionUuid);
      case JOB.poll: return pollSession(lifecycle, sessionUuid, seq ?? 0);
      case JOB.stop:
        await stopSession(lifecycle, sessionUuid);
        // Cancelled by the client: the API ended the session, this step ends the run.
        return retention?.scheduleRemoval(sessionUuid, options.now() + retention.retentionMs);
      case JOB.cleanup: return retention && removeSessionDirectory(retention, sessionUuid);
      case JOB.reconcile: return reconcile();
      default: throw new Error(`unknown job ${job.name}`);
    }
  }

  // No session is left stuck: when a step has used up its retries, the session fails, saying why.
  worker.on('failed', (job, error) => {
    if (!job || !LIFECYCLE_STEPS.has(job.name) || job.attemptsMade < (job.opts.attempts ?? 1)) return;
    const { sessionUuid } = job.data as LifecycleJob;
    giveUpStep(lifecycle, sessionUuid, job.name, error.message).catch(() => undefined);
  });

  // The outbox's other half: sessions whose next step is overdue are re-driven, by one worker of
  // the site at a time (a repeatable job), and by each worker once as it starts.
  const reconcile = async (): Promise<number> => {
    const redriven = await reconcileSessions({ store: options.store, scheduler, site: site.name, now: options.now, graceMs: RECONCILE_GRACE_MS });
    if (redriven) logger?.info({ site: site.name, sessions: redriven }, 'reconciler re-drove sessions whose next step was overdue');
    return redriven;
  };

  // The heartbeat carries the worker's abilities, so that every API process can list them.
  const published = JSON.stringify(abilities);
  const executorNames = JSON.stringify('unavailable' in executor ? [] : executor.names ?? []);
  const group = options.group ?? site.name;
  const beat = async (): Promise<void> => {
    const now = options.now();
    const forgotten = await connection.zrangebyscore(keys.siteWorkers(site.name), '-inf', now - 6 * HEARTBEAT_TTL_MS);
    const transaction = connection.multi()
      .zadd(keys.siteWorkers(site.name), now, workerId)
      .hset(keys.siteAbilities(site.name), workerId, published)
      .hset(keys.siteExecutors(site.name), workerId, executorNames)
      .hset(keys.siteGroups(site.name), workerId, group)
      .zremrangebyscore(keys.siteWorkers(site.name), '-inf', now - 6 * HEARTBEAT_TTL_MS);
    if (forgotten.length) transaction.hdel(keys.siteAbilities(site.name), ...forgotten).hdel(keys.siteExecutors(site.name), ...forgotten).hdel(keys.siteGroups(site.name), ...forgotten);
    await transaction.exec();
  };
  await worker.waitUntilReady();
  await beat();
  await queue.upsertJobScheduler(JOB.reconcile, { every: options.reconcileIntervalMs ?? 5_000 }, {
    name: JOB.reconcile, data: {}, opts: { removeOnComplete: true, removeOnFail: true },
  });
  await reconcile().catch((error: Error) => logger?.warn({ site: site.name, error: error.message }, 'reconciler failed at start-up'));
  // Directories left by sessions that ended while no worker ran, and orphans: in the background,
  // since a scratch directory with many sessions takes a while, and the worker serves meanwhile.
  const closing = new AbortController();
  const sweeping = retention && sweepSessionDirectories(retention, closing.signal).then((swept) => {
    if (swept.scheduled || swept.removed) logger?.info({ site: site.name, ...swept }, 'session directories swept');
  }, (error: Error) => { logger?.warn({ site: site.name, error: error.message }, 'sweeping session directories failed'); });
  const timer = setInterval(() => { beat().catch(() => undefined); }, HEARTBEAT_INTERVAL_MS);
  timer.unref();
  return {
    worker,
    negotiate,
    async close() {
      clearInterval(timer);
      closing.abort();
      await sweeping;
      await worker.close();
      await queue.close();
      await connection.multi().zrem(keys.siteWorkers(site.name), workerId).hdel(keys.siteAbilities(site.name), workerId).hdel(keys.siteExecutors(site.name), workerId).hdel(keys.siteGroups(site.name), workerId).exec().catch(() => undefined);
    },
  };
}
