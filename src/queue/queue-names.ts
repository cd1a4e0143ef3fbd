/**
 * BullMQ queue names and job names. Queue names may not contain ':'; job ids are deterministic
 * and colon-free, so adding the same job twice is harmless.
 */
export const siteQueueName = (site: string): string => `site-${site}`;
export const TIMERS_QUEUE = 'timers';

export const JOB = {
  negotiate: 'negotiate',
  activate: 'activate',
  prepare: 'prepare',
  stage: 'stage',
  start: 'start',
  poll: 'poll',
  stop: 'stop',
  expire: 'expire',
} as const;

export const jobId = {
  negotiate: (offerSetUuid: string, site: string): string => `negotiate-${offerSetUuid}-${site}`,
  activate: (sessionUuid: string): string => `activate-${sessionUuid}`,
  lifecycle: (step: string, sessionUuid: string, seq?: number): string => `${step}-${sessionUuid}${seq === undefined ? '' : `-${seq}`}`,
  expire: (offerSetUuid: string): string => `expire-${offerSetUuid}`,
};

export interface ActivateJob { sessionUuid: string }
export interface LifecycleJob { sessionUuid: string; seq?: number }
export interface ExpireJob { holdIds: string[] }

/** How long a worker's heartbeat counts as alive. */
export const HEARTBEAT_INTERVAL_MS = 2_000;
export const HEARTBEAT_TTL_MS = 10_000;
