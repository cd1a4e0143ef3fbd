import type { NegotiationAnswer, NegotiationRequest } from '../broker/ports.js';

/**
 * BullMQ queue names and job names. Queue names may not contain ':'; job ids are deterministic
 * and colon-free, so adding the same job twice is harmless.
 */
export const siteQueueName = (site: string): string => `site-${site}`;
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
  expire: 'expire',
  unbound: 'unbound',
  reconcile: 'reconcile',
  refreshCatalogue: 'refresh-catalogue',
} as const;

/** How late a session's next step may be before the reconciler re-drives it (broker/reconcile-sessions.ts). */
export const RECONCILE_GRACE_MS = 2_000;

/** The job states counted for /metrics. */
export const JOB_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

export const jobId = {
  negotiate: (offerSetUuid: string, site: string): string => `negotiate-${offerSetUuid}-${site}`,
  lifecycle: (step: string, sessionUuid: string, seq?: number): string => `${step}-${sessionUuid}${seq === undefined ? '' : `-${seq}`}`,
  expire: (offerSetUuid: string): string => `expire-${offerSetUuid}`,
  unbound: (sessionUuid: string): string => `unbound-${sessionUuid}`,
  cleanup: (sessionUuid: string): string => `cleanup-${sessionUuid}`,
};

/** requestId: the HTTP request that led here (for the logs; see observability/request-context.ts). */
export interface LifecycleJob { sessionUuid: string; seq?: number; requestId?: string }

/**
 * A negotiation job: the request, and the pub/sub channel of the API process that waits for the
 * answer. The site worker publishes the answer there (and keeps it as the job's return value).
 */
export interface NegotiationJob extends NegotiationRequest { replyTo: string; requestId?: string }

/** What a site worker publishes on `replyTo`: the answer, or why it could not give one. */
export type NegotiationReply = { jobId: string; answer: NegotiationAnswer } | { jobId: string; site: string; error: string };

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
export interface UnboundJob { sessionUuid: string }

/** How long a worker's heartbeat counts as alive. */
export const HEARTBEAT_INTERVAL_MS = 2_000;
export const HEARTBEAT_TTL_MS = 10_000;
