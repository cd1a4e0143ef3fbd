import type { Redis, RedisOptions } from 'ioredis';

/**
 * The options of a connection that a ChannelSubscription owns. No ready check: ioredis sends INFO
 * once a connection's handshake is answered, and a SUBSCRIBE written before that (ioredis writes it
 * at once while the handshake is on its way) turns INFO into "Connection in subscriber mode", a
 * fatal ready check, an unhandled error event and a reconnection that never subscribes again. No
 * automatic resubscription either: the subscription subscribes itself on every `ready`, so that it
 * knows when it is done.
 */
export const SUBSCRIBER_OPTIONS = { maxRetriesPerRequest: null, enableReadyCheck: false, autoResubscribe: false } as const satisfies RedisOptions;

export interface SubscriptionHandlers {
  message(text: string): void;
  /** Subscribed again after the connection was down: what was published meanwhile is lost. */
  restored?(): void;
  /** Down for longer than `lostAfterMs`, and still trying. */
  lost?(): void;
}

export interface SubscriptionOptions {
  /** How long the subscription may be down before it is reported lost (default 10 s). */
  lostAfterMs?: number;
  log?: (level: 'info' | 'warn', message: string) => void;
}

interface Waiter { resolve: () => void; reject: (error: Error) => void }

/**
 * One channel kept subscribed on its own connection across every reconnection (a connection cut,
 * a Redis restart, a time-out under load): it subscribes once the connection is ready, each time,
 * says `restored` when it is back, and `lost` (in the log too) when it stays down, while ioredis
 * keeps reconnecting. Pub/sub keeps nothing for a connection that is down, so a user of the
 * channel reads afresh on `restored`.
 */
export class ChannelSubscription {
  private wanted = false;
  private subscribed = false;
  private everSubscribed = false;
  private reportedLost = false;
  private downSince = 0;
  private attempt = 0;
  private lostTimer: NodeJS.Timeout | undefined;
  private errorLogged = false;
  private readonly waiters = new Set<Waiter>();
  private readonly lostAfterMs: number;
  private readonly log: NonNullable<SubscriptionOptions['log']>;

  constructor(readonly connection: Redis, readonly channel: string, private readonly handlers: SubscriptionHandlers, options: SubscriptionOptions = {}) {
    this.lostAfterMs = options.lostAfterMs ?? 10_000;
    this.log = options.log ?? (() => undefined);
    connection.on('message', (from: string, text: string) => { if (from === channel) handlers.message(text); });
    connection.on('ready', () => this.subscribeNow());
    connection.on('close', () => this.down());
    // Without a listener ioredis prints every error as unhandled; a reconnection is under way.
    connection.on('error', (error: Error) => {
      if (this.errorLogged || !this.wanted) return;
      this.errorLogged = true;
      this.log('warn', `Redis subscription to ${channel}: ${error.message}; reconnecting`);
    });
  }

  /** Subscribed now: what is published from here on is delivered. */
  get up(): boolean {
    return this.subscribed;
  }

  /**
   * Starts (once) and resolves when subscribed; rejects if the subscription is reported lost first,
   * or is not up within `waitAtMostMs` (a caller on a request's path must answer in time).
   */
  async start(waitAtMostMs = Number.POSITIVE_INFINITY): Promise<void> {
    if (!this.wanted) {
      this.wanted = true;
      if (this.connection.status === 'ready') this.subscribeNow();
      else this.down();
    }
    if (this.subscribed) return;
    if (this.reportedLost) throw new Error(`the Redis subscription to ${this.channel} is lost`);
    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = { resolve: () => { clearTimeout(timer); resolve(); }, reject: (error) => { clearTimeout(timer); reject(error); } };
      if (Number.isFinite(waitAtMostMs)) {
        timer = setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new Error(`the Redis subscription to ${this.channel} is not up`));
        }, waitAtMostMs);
      }
      this.waiters.add(waiter);
    });
  }

  private subscribeNow(): void {
    if (!this.wanted) return;
    const attempt = ++this.attempt;
    this.connection.subscribe(this.channel).then(() => {
      if (attempt === this.attempt && this.connection.status === 'ready') this.markUp();
    }, (error: Error) => {
      if (attempt !== this.attempt || !this.wanted) return;
      this.log('warn', `Redis subscription to ${this.channel} failed: ${error.message}; reconnecting`);
      if (this.connection.status === 'ready') this.connection.disconnect(true);
    });
  }

  private markUp(): void {
    if (this.subscribed) return;
    this.subscribed = true;
    this.errorLogged = false;
    clearTimeout(this.lostTimer);
    this.lostTimer = undefined;
    if (this.reportedLost) this.log('info', `Redis subscription to ${this.channel} restored after ${Date.now() - this.downSince} ms`);
    this.reportedLost = false;
    for (const waiter of this.takeWaiters()) waiter.resolve();
    if (this.everSubscribed) this.handlers.restored?.();
    this.everSubscribed = true;
  }

  private down(): void {
    this.attempt += 1; // a SUBSCRIBE still on its way answers for a connection that is gone
    if (!this.wanted || this.lostTimer || this.reportedLost) { this.subscribed = false; return; }
    if (this.subscribed || !this.everSubscribed) this.downSince = Date.now();
    this.subscribed = false;
    this.lostTimer = setTimeout(() => {
      this.lostTimer = undefined;
      if (this.subscribed || !this.wanted) return;
      this.reportedLost = true;
      this.log('warn', `Redis subscription to ${this.channel} lost for ${Date.now() - this.downSince} ms; still reconnecting`);
      const error = new Error(`the Redis subscription to ${this.channel} is lost`);
      for (const waiter of this.takeWaiters()) waiter.reject(error);
      this.handlers.lost?.();
    }, this.lostAfterMs);
  }

  private takeWaiters(): Waiter[] {
    const waiters = [...this.waiters];
    this.waiters.clear();
    return waiters;
  }

  async close(): Promise<void> {
    this.wanted = false;
    clearTimeout(this.lostTimer);
    const error = new Error('closed');
    for (const waiter of this.takeWaiters()) waiter.reject(error);
    await this.connection.quit().catch(() => this.connection.disconnect());
  }
}
