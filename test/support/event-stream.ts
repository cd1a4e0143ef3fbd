/** One server-sent event as read from a stream (comments are kept apart). */
export interface ReadEvent { event: string; data: string }

export interface EventStreamReader {
  status: number;
  headers: Headers;
  events: ReadEvent[];
  comments: string[];
  /** Resolves once the stream has ended (by the server, or by close()). */
  ended: Promise<void>;
  /** The first event (from the start of the stream) that matches, waiting for it at most `ms`. */
  waitFor(match: (event: ReadEvent) => boolean, ms?: number): Promise<ReadEvent>;
  close(): void;
}

/**
 * Reads `GET /events` as the web page does: fetch with the bearer header and a stream parser (an
 * EventSource could not send the header), keeping every event and comment it reads.
 */
export async function openEventStream(url: string, headers: Record<string, string> = {}): Promise<EventStreamReader> {
  const abort = new AbortController();
  const response = await fetch(url, { headers: { Accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const events: ReadEvent[] = [];
  const comments: string[] = [];
  const waiters = new Set<() => void>();
  const wake = (): void => { for (const waiter of [...waiters]) waiter(); };
  const ended = (async () => {
    if (!response.body) return;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
          }
          if (data.length) events.push({ event, data: data.join('\n') });
          wake();
        }
      }
    } catch {
      // aborted by close()
    } finally {
      wake();
    }
  })();
  let closed = false;
  void ended.then(() => { closed = true; wake(); });
  return {
    status: response.status,
    headers: response.headers,
    events,
    comments,
    ended,
    waitFor(match, ms = 10_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = events.find(match);
          if (found) { cleanup(); resolve(found); } else if (closed) { cleanup(); reject(new Error(`the stream ended without the event; read ${JSON.stringify(events)}`)); }
        };
        const timer = setTimeout(() => { cleanup(); reject(new Error(`no such event within ${ms} ms; read ${JSON.stringify(events)}`)); }, ms);
        const cleanup = (): void => { clearTimeout(timer); waiters.delete(check); };
        waiters.add(check);
        check();
      });
    },
    close() { abort.abort(); },
  };
}
