import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Standard Webhooks verification, written from the specification and not from the broker's code:
 * the secret is `whsec_` and base64 key bytes; the signed content is "id.timestamp.body"; the
 * header holds space-separated `v1,<base64 HMAC-SHA256>` signatures, one of which must match; the
 * timestamp must be within five minutes of now.
 */
export function verifyStandardWebhook(secret: string, headers: Record<string, string | string[] | undefined>, body: string): boolean {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const header = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof header !== 'string' || !secret.startsWith('whsec_')) return false;
  if (!/^\d+$/.test(timestamp) || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const expected = createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64')).update(`${id}.${timestamp}.${body}`).digest();
  return header.split(' ').some((part) => {
    const [version, signature] = part.split(',');
    if (version !== 'v1' || !signature) return false;
    const given = Buffer.from(signature, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

export type Answer = 'ok' | '500' | 'hang' | 'close';

export interface Arrival {
  id: string;
  body: string;
  payload: { type: string; timestamp: string; data: { session: string; phase: string; time: string; url: string; [key: string]: unknown } };
  verified: boolean;
  answer: Answer;
  /** When it arrived (ms). */
  at: number;
}

/** A local webhook receiver: records every attempt, verifies each signature, answers as told. */
export class WebhookReceiver {
  readonly arrivals: Arrival[] = [];
  /** Each session's secret (the requester keeps it from the answer to its request). */
  readonly secrets = new Map<string, string>();
  /** How to answer an attempt; `attempt` counts the attempts with this webhook-id, from 1. */
  answer: (arrival: Omit<Arrival, 'answer' | 'verified'>, attempt: number) => Answer = () => 'ok';
  private readonly hanging = new Set<ServerResponse>();
  private server?: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => { void this.handle(req, res); });
    await new Promise<void>((ready) => this.server?.listen(0, '127.0.0.1', ready));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A GET is for data a test's job stages from this host, not a webhook.
    if (req.method === 'GET') { res.writeHead(200, { 'Content-Type': 'text/csv' }).end('ra,dec\n10.5,-30.1\n'); return; }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const id = String(req.headers['webhook-id']);
    const payload = JSON.parse(body) as Arrival['payload'];
    const seen = { id, body, payload, at: Date.now() };
    const attempt = this.arrivals.filter((a) => a.id === id).length + 1;
    const answer = this.answer(seen, attempt);
    // A phase change names its session; an offer set's EXPIRING notice, its offer set.
    const secret = this.secrets.get(payload.data.session ?? String(payload.data.offerset));
    this.arrivals.push({ ...seen, answer, verified: secret !== undefined && verifyStandardWebhook(secret, req.headers, body) });
    if (answer === 'ok') res.writeHead(204).end();
    else if (answer === '500') res.writeHead(500).end('not now');
    else if (answer === 'close') req.socket.destroy();
    else this.hanging.add(res);
  }

  /** Delivered events (answered 2xx) of a session, in arrival order. */
  delivered(session: string): Arrival[] {
    return this.arrivals.filter((a) => a.answer === 'ok' && (a.payload.data.session ?? a.payload.data.offerset) === session);
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.socket?.destroy();
    this.server?.closeAllConnections();
    await new Promise((done) => this.server?.close(done));
  }
}
