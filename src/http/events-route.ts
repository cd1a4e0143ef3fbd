import express, { type Router } from 'express';
import type { SessionNotice } from '../broker/ports.js';
import { BrokerError } from '../domain/errors.js';
import { formatInstant } from '../domain/iso8601.js';
import type { AppOptions, BrokerApi } from './broker-api.js';
import { requestPrincipal } from './request-principal.js';

/** A client this far behind (its socket not draining) is dropped; it reconnects and reads afresh. */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** setTimeout's longest delay; a token expiring later is left to the next reconnection. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const noticeEvent = (notice: SessionNotice): string =>
  `event: session\ndata: ${JSON.stringify({ uuid: notice.uuid, owner: notice.owner, site: notice.site, phase: notice.phase, at: formatInstant(notice.at) })}\n\n`;

/**
 * `GET /events`: server-sent events of the phase changes of the sessions the principal may read
 * (`event: session`, data `{uuid, owner, site, phase, at}`), `event: resync` when some may have
 * been lost (read everything again), and a comment every 15 s. They are hints, never the record:
 * a client reads the resources again whenever it (re)connects. The stream ends when the token
 * expires (`event: expired`), when the process has lost its notices from Redis for a while
 * (`event: unavailable`: connect again; 503 until they are back) and at once when the process
 * begins to stop.
 */
export function eventsRoute(api: BrokerApi, options: AppOptions): Router {
  const router = express.Router();
  const open = new Set<() => void>();
  options.shutdown?.addEventListener('abort', () => { for (const end of [...open]) end(); }, { once: true });

  router.get('/events', async (req, res) => {
    const principal = requestPrincipal(req);
    if (options.shutdown?.aborted) throw new BrokerError('service-unavailable', { detail: 'The broker is stopping; connect again' });
    const timers: NodeJS.Timeout[] = [];
    let stop = (): void => undefined;
    let ended = false;
    const end = (last?: string): void => {
      if (ended) return;
      ended = true;
      open.delete(end);
      stop();
      for (const timer of timers) clearTimeout(timer);
      if (last && res.writable) res.write(last);
      res.end();
    };
    const send = (text: string): void => {
      if (res.writableLength > MAX_BUFFERED_BYTES) end();
      else res.write(text);
    };
    res.on('close', () => end());
    // `ready` only once notices flow: a client reads afresh on it, and misses nothing after.
    stop = await api.watchSessions(principal, (event) => {
      if (event === 'unavailable') end('event: unavailable\ndata: {}\n\n');
      else send(event === 'resync' ? 'event: resync\ndata: {}\n\n' : noticeEvent(event));
    });
    if (ended) { stop(); return; }
    if (options.shutdown?.aborted) { stop(); throw new BrokerError('service-unavailable', { detail: 'The broker is stopping; connect again' }); }
    open.add(end);
    res.status(200).set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no' });
    res.write('retry: 3000\nevent: ready\ndata: {}\n\n');
    timers.push(setInterval(() => send(': heartbeat\n\n'), options.eventHeartbeatMs ?? 15_000));
    const expiresAt = principal.token?.expiresAt;
    if (expiresAt !== undefined && expiresAt - Date.now() < MAX_TIMER_MS) {
      timers.push(setTimeout(() => end('event: expired\ndata: {}\n\n'), Math.max(0, expiresAt - Date.now())));
    }
  });
  return router;
}
