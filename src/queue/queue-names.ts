import type { NegotiationAnswer, NegotiationRequest } from '../broker/ports.js';

/**
 * BullMQ queue names and job names. Queue names may not contain ':'; job ids are deterministic
 * and colon-free, so adding the same job twice is harmless.
 */
export const siteQueueName = (site: string): string => `site-${site}`;
/**
 * The negotiation queue of a worker process's group (negotiationGroup()): one job there asks all
 * the sites the process serves that an offer set asks.
 */
export const negotiationQueueName = (group: string): string => `negotiate-${group}`;
export const TIMERS_QUEUE = 'timers';
/** Webhook and mail deliveries (queue/notify-worker.ts). */
export const NOTIFY_QUEUE = 'notify';
/** The site capabilities catalogue's refresh (queue/catalogue-refresher.ts). */
export const CATALOGUE_QUEUE = 'catalogue-refresh';

export const JOB = {
  negotiate: 'negotiate',
  activate: 'activate',
  prepare: 'prepare',
  stage: 'stage',
  start: 'start',
  poll: 'poll',
  stop: 'stop',
  cleanup: 'cleanup',
  /** An offer set's expiry timer of earlier versions (still run if one is found in Redis). */
  expire: 'expire',
  /** The offer expiry sweep (timer-worker.ts). */
  expireOffers: 'expire-offers',
  unbound: 'unbound',
  reconcile: 'reconcile',
  refreshCatalogue: 'refresh-catalogue',
} as const;

/** How late a session's next step may be before the reconciler re-drives it (broker/reconcile-sessions.ts). */
export const RECONCILE_GRACE_MS = 2_000;

/** The job states counted for /metrics. */
export const JOB_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

export const jobId = {
  negotiate: (offerSetUuid: string, group: string): string => `negotiate-${offerSetUuid}-${group}`,
  lifecycle: (step: string, sessionUuid: string, seq?: number): string => `${step}-${sessionUuid}${seq === undefined ? '' : `-${seq}`}`,
  unbound: (sessionUuid: string): string => `unbound-${sessionUuid}`,
  cleanup: (sessionUuid: string): string => `cleanup-${sessionUuid}`,
};

/** requestId: the HTTP request that led here (for the logs; see observability/request-context.ts). */
export interface LifecycleJob { sessionUuid: string; seq?: number; requestId?: string }

/**
 * A negotiation job: the requests of one offer set (or of several, asked together under load) to
 * the sites one worker process serves (its group, negotiationGroup()), and the pub/sub channel of
 * the API process that waits for the answer. A BullMQ job on the group's queue (negotiationQueueName()), taken by one of the group's
 * worker processes (queue/negotiation-worker.ts), which publishes one reply for all the sites.
 * It needs none of a lifecycle step's retries: a job lost with its worker is an API that stops
 * waiting at answerBy, and whatever the worker held for it is released at the offer's expiry (each
 * hold enters the expiry sweep in the step that makes it).
 */
export interface NegotiationJob {
  replyTo: string;
  /** The latest of its requests' answerBy: past it, nobody waits for any of them. */
  answerBy: number;
  /** The requests of one offer set, or of several that went together (bull-negotiator.ts NEGOTIATION_JOBS_IN_FLIGHT). */
  requests: NegotiationRequest[];
  /** Per request (same order), the HTTP request that led to it ('' for none); absent when none did. */
  requestIds?: string[];
  /** The HTTP request of every request (jobs of earlier versions). */
  requestId?: string;
}

/** One site's part of a reply: its answer, or why the worker could not evaluate the request. */
export type SiteReply = { answer: NegotiationAnswer } | { site: string; error: string };

/** What a worker publishes on `replyTo` (and keeps a minute in `<prefix>:negotiation-answer:<id>`): a part per request, in order. */
export interface NegotiationReply { jobId: string; answers: SiteReply[] }

/** The group of a worker process: the names of the sites it serves, sorted, joined by commas. */
export const negotiationGroup = (sites: readonly string[]): string => [...sites].sort().join(',');

/** How long a worker keeps a negotiation's reply for an API process whose subscription was cut. */
export const NEGOTIATION_ANSWER_KEPT_MS = 60_000;

/**
 * A negotiation job's options, the fewest writes BullMQ allows: removed as it completes or fails
 * (its reply is kept apart, NEGOTIATION_ANSWER_KEPT_MS), never retried (a late answer is no use).
 */
export function negotiationJobOptions(id: string) {
  return { jobId: id, attempts: 1, removeOnComplete: true, removeOnFail: true };
}

/**
 * The queues on the offer path keep a short event stream: BullMQ's scripts append to it on every
 * add, take and finish whatever one asks, and no one reads it there (replies go by pub/sub).
 */
export const OFFER_PATH_QUEUE_STREAMS = { events: { maxLen: 100 } };

/**
 * Every step of a session's life, wherever it is added (the API's accept and cancel, the site's
 * own timers): a few quick retries, then the site worker fails the session rather than leave it stuck.
 */
export const LIFECYCLE_ATTEMPTS = 6;
export function lifecycleJobOptions(id: string, delay = 0) {
  return {
    jobId: id,
    delay,
    attempts: LIFECYCLE_ATTEMPTS,
    backoff: { type: 'exponential' as const, delay: 100 },
    removeOnComplete: true,
    removeOnFail: { age: 24 * 3600 },
  };
}
export interface ExpireJob { holdIds: string[] }

/**
 * How often the offer expiry sweep runs (timer-worker.ts): an offer's capacity is free again at
 * most this long after its expiry (accepting it is refused from its expiry on, whatever the sweep).
 */
export const OFFER_EXPIRY_SWEEP_MS = 1_000;
/** The most holds one sweep step expires (the step runs again at once while it finds that many). */
export const OFFER_EXPIRY_BATCH = 500;
export interface UnboundJob { sessionUuid: string }

/** How long a worker's heartbeat counts as alive. */
export const HEARTBEAT_INTERVAL_MS = 2_000;
export const HEARTBEAT_TTL_MS = 10_000;
