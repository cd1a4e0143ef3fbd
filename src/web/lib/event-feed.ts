import type { ApiClient } from './api-client.js';
import { SseParser } from './sse-parser.js';

/** A phase change as /events announces it. */
export interface SessionNotice { uuid: string; owner: string; site: string; phase: string; at: string }

export type FeedState = 'connecting' | 'live' | 'offline' | 'unauthenticated';

export type FeedEvent = { type: 'notice'; notice: SessionNotice } | { type: 'resync' };

/**
 * The page's one reader of `GET /events`: fetch with the bearer header and a stream parser (an
 * EventSource could not send the header, and a token must never go in a URL). Each (re)connection,
 * and every `resync`, tells the listeners to read everything again: a notice lost while
 * disconnected costs nothing. Reconnects with a growing delay, up to 30 s.
 */
export class EventFeed {
  private readonly listeners = new Set<(event: FeedEvent) => void>();
  private readonly stateListeners = new Set<(state: FeedState) => void>();
  private abort: AbortController | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;
  state: FeedState = 'connecting';

  constructor(private readonly api: ApiClient) {}

  on(listener: (event: FeedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  onState(listener: (state: FeedState) => void): () => void {
    this.stateListeners.add(listener);
    return () => { this.stateListeners.delete(listener); };
  }

  start(): void {
    this.stop();
    const abort = new AbortController();
    this.abort = abort;
    void this.run(abort.signal);
  }

  stop(): void {
    this.abort?.abort();
    this.abort = undefined;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private setState(state: FeedState): void {
    this.state = state;
    for (const listener of [...this.stateListeners]) listener(state);
  }

  private emit(event: FeedEvent): void {
    for (const listener of [...this.listeners]) listener(event);
  }

  private async run(signal: AbortSignal): Promise<void> {
    this.setState('connecting');
    const parser = new SseParser();
    try {
      const response = await this.api.send('/events', { headers: { Accept: 'text/event-stream' }, signal });
      if (!response.body) throw new Error('no stream');
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of parser.push(value ?? '')) {
          if (event.event === 'ready') {
            this.failures = 0;
            this.setState('live');
            this.emit({ type: 'resync' });
          } else if (event.event === 'resync') {
            this.emit({ type: 'resync' });
          } else if (event.event === 'session') {
            try { this.emit({ type: 'notice', notice: JSON.parse(event.data) as SessionNotice }); } catch { /* not a notice */ }
          }
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      if ((error as { status?: number }).status === 401) { this.setState('unauthenticated'); return; }
    }
    if (signal.aborted) return;
    // Ended (the broker restarting, a token that expired, a network that dropped): come back.
    this.failures += 1;
    this.setState('offline');
    const delay = Math.min(30_000, (parser.retryMs ?? 1000) * 2 ** Math.min(this.failures - 1, 5));
    this.retryTimer = setTimeout(() => { if (!signal.aborted) void this.run(signal); }, delay);
  }
}
