import type { Redis } from 'ioredis';
import type { SessionEvent, SessionEvents, SessionNotice } from '../broker/ports.js';
import { BrokerError } from '../domain/errors.js';
import { isSessionPhase } from '../domain/phases.js';
import { ChannelSubscription, type SubscriptionOptions } from './channel-subscription.js';
import type { RedisKeys } from './redis-keys.js';

type Listener = (event: SessionEvent) => void;

/** One notice as the Lua helper publish() writes it; anything else is ignored. */
function noticeOf(value: unknown): SessionNotice | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const { uuid, owner, site, phase, at } = value as Record<string, unknown>;
  if (typeof uuid !== 'string' || typeof owner !== 'string' || typeof site !== 'string' || typeof at !== 'number') return undefined;
  if (typeof phase !== 'string' || !isSessionPhase(phase)) return undefined;
  return { uuid, owner, site, phase, at };
}

/** A message on the channel: the notices of one Lua step, as a JSON array (a lone notice is taken too). */
function readNotices(text: string): SessionNotice[] {
  try {
    const value = JSON.parse(text) as unknown;
    return (Array.isArray(value) ? value : [value]).map(noticeOf).filter((notice): notice is SessionNotice => notice !== undefined);
  } catch {
    return [];
  }
}

/**
 * How long a new listener (a `GET /events` request) waits for a subscription that is not up before
 * it is told 503: within the 2 s a request gets while Redis cannot be reached.
 */
const NEW_LISTENER_WAIT_MS = 1_500;

/**
 * The phase-change notices the Lua steps publish on `<prefix>:session-events`, read by one
 * subscribing connection per process (subscribed on the first listener) and handed to every
 * listener. Pub/sub drops what is published while a connection is down: after a reconnection,
 * once subscribed again, each listener gets `resync`; if the subscription stays down, each gets
 * `unavailable` (and new listeners are refused) until it is back.
 */
export class RedisSessionEvents implements SessionEvents {
  private readonly listeners = new Set<Listener>();
  private readonly channel: ChannelSubscription;

  constructor(subscriber: Redis, keys: RedisKeys, options: SubscriptionOptions = {}) {
    this.channel = new ChannelSubscription(subscriber, keys.sessionEvents, {
      message: (text) => { for (const notice of readNotices(text)) this.emit(notice); },
      restored: () => this.emit('resync'),
      lost: () => this.emit('unavailable'),
    }, options);
  }

  /** Subscribed now (for /metrics). */
  get up(): boolean {
    return this.channel.up;
  }

  async subscribe(listener: Listener): Promise<() => void> {
    try {
      await this.channel.start(NEW_LISTENER_WAIT_MS);
    } catch {
      throw new BrokerError('service-unavailable', { detail: 'The broker has lost its live events from Redis and is reconnecting; connect again shortly' });
    }
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  private emit(event: SessionEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // One listener's failure (a stream that broke) must not keep the notice from the others.
      }
    }
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.channel.close();
  }
}
