import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Timers } from '../broker/ports.js';
import type { RedisKeys } from '../store/redis-keys.js';
import { JOB, JOB_STATES, jobId, TIMERS_QUEUE, type UnboundJob } from './queue-names.js';

/**
 * Timers are delayed BullMQ jobs with deterministic ids: setting the same timer twice is a no-op.
 * (Offers expire by the sweep of timer-worker.ts, which their holds enter as they are made.)
 */
export class BullTimers implements Timers {
  private readonly queue: Queue;

  constructor(connection: Redis, keys: RedisKeys, private readonly now: () => number) {
    this.queue = new Queue(TIMERS_QUEUE, { connection, prefix: keys.bullPrefix });
  }

  async scheduleBindingExpiry(sessionUuid: string, at: number): Promise<void> {
    const data: UnboundJob = { sessionUuid };
    await this.queue.add(JOB.unbound, data, this.options(jobId.unbound(sessionUuid), at));
  }

  private options(id: string, at: number) {
    return {
      jobId: id,
      delay: Math.max(0, at - this.now()),
      attempts: 20,
      backoff: { type: 'exponential' as const, delay: 500 },
      removeOnComplete: true,
      removeOnFail: { age: 7 * 24 * 3600 },
    };
  }

  /** Jobs in the timers queue by state (for /metrics). */
  async jobCounts(): Promise<Record<string, Record<string, number>>> {
    return { [TIMERS_QUEUE]: await this.queue.getJobCounts(...JOB_STATES) };
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
