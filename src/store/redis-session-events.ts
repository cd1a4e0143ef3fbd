import type { Redis } from 'ioredis';
import type { SessionEvents, SessionNotice } from '../broker/ports.js';
import { isSessionPhase } from '../domain/phases.js';
import type { RedisKeys } from './redis-keys.js';

type Listener = (event: SessionNotice | 'resync') => void;

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
 * The phase-change notices the Lua steps publish on `<prefix>:session-events`, read by one
 * subscribing connection per process (subscribed on the first listener) and handed to every
 * listener. Pub/sub drops what is published while a connection is down: after a reconnection,
 * once subscribed again, each listener gets `resync`.
 */
export class RedisSessionEvents implements SessionEvents {
  private readonly listeners = new Set<Listener>();
  private subscribed?: Promise<unknown>;
  private connectedOnce = false;

  constructor(private readonly subscriber: Redis, private readonly keys: RedisKeys) {
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== keys.sessionEvents) return;
      for (const notice of readNotices(message)) this.emit(notice);
    });
    // ioredis says `ready` before it subscribes again by itself: subscribe (again) here, and tell
    // the listeners to read afresh only once that is done, so that nothing falls in between.
    subscriber.on('ready', () => {
      if (!this.connectedOnce) { this.connectedOnce = true; return; }
      if (!this.subscribed) return;
      this.subscriber.subscribe(this.keys.sessionEvents).then(() => this.emit('resync'), () => undefined);
    });
  }

  async subscribe(listener: Listener): Promise<() => void> {
    this.subscribed ??= this.subscriber.subscribe(this.keys.sessionEvents).catch((error: unknown) => {
      this.subscribed = undefined; // the next listener tries again
      throw error;
    });
    await this.subscribed;
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  private emit(event: SessionNotice | 'resync'): void {
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
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }
}
