import type { Redis } from 'ioredis';
import type { SessionEvents, SessionNotice } from '../broker/ports.js';
import { isSessionPhase } from '../domain/phases.js';
import type { RedisKeys } from './redis-keys.js';

type Listener = (event: SessionNotice | 'resync') => void;

/** A notice as the Lua helper notify() publishes it; anything else on the channel is ignored. */
function readNotice(text: string): SessionNotice | undefined {
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    const { uuid, owner, site, phase, at } = value;
    if (typeof uuid !== 'string' || typeof owner !== 'string' || typeof site !== 'string' || typeof at !== 'number') return undefined;
    if (typeof phase !== 'string' || !isSessionPhase(phase)) return undefined;
    return { uuid, owner, site, phase, at };
  } catch {
    return undefined;
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
      const notice = readNotice(message);
      if (notice) this.emit(notice);
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
