import { decodeBody, encodeBody, type Format } from '../protocol/codecs/body-codec.js';
import { isTerminal, type SessionPhase } from '../domain/phases.js';

/**
 * A small typed client of the ExecutionBroker API, for scripts, gateways and the `eb` CLI. It
 * speaks any of the three formats with the same codecs as the server, and reads every answer as
 * the plain value those codecs give (so XML and YAML answers look exactly like JSON ones).
 */
export interface BrokerClientOptions {
  /** The broker's base URL, e.g. http://127.0.0.1:8080. */
  baseUrl: string;
  /** A bearer token sent with every request, when the broker requires one. */
  token?: string;
  /** How often watch() and followLogs() look again, in ms (default 500). */
  pollMs?: number;
}

export type Doc = Record<string, any>;

export interface MessageItem { level?: string; message?: string; time?: string }

export interface Session extends Doc {
  phase: SessionPhase;
  meta: { uuid: string; url?: string; messages?: MessageItem[]; description?: string };
}

export interface OfferSet extends Doc {
  result: 'YES' | 'NO';
  meta: { uuid: string; url?: string; messages?: MessageItem[] };
  offers?: Session[];
}

export interface OutputFile { path: string; size?: number; url: string }

/** A refusal from the broker: its status and the problem document it sent (RFC 9457). */
export class BrokerClientError extends Error {
  constructor(readonly status: number, readonly problem: Doc | undefined, text: string) {
    super(`${status}: ${problem?.detail ?? problem?.title ?? text.slice(0, 300)}`);
    this.name = 'BrokerClientError';
  }
}

const MEDIA: Record<Format, string> = { json: 'application/json', xml: 'application/xml', yaml: 'application/yaml' };

/** The format of a request file from its name, or from its first characters. */
export function formatOf(name: string, text: string): Format {
  if (/\.json$/i.test(name)) return 'json';
  if (/\.xml$/i.test(name)) return 'xml';
  if (/\.ya?ml$/i.test(name)) return 'yaml';
  const start = text.trimStart();
  return start.startsWith('<') ? 'xml' : start.startsWith('{') ? 'json' : 'yaml';
}

export class BrokerClient {
  private readonly baseUrl: string;

  constructor(private readonly options: BrokerClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  /**
   * Asks for offers. `body` is a request document: a value (sent as JSON) or text in `format`
   * (checked with the server's own decoder before it is sent, so a typo fails here).
   */
  async requestOffers(body: Doc | string, format: Format = 'json'): Promise<OfferSet> {
    return (await this.requestOffersWithSecret(body, format)).offers;
  }

  /** Asks for offers; a request that subscribes a webhook (`srcnet.notify`) is given its signing secret, once. */
  async requestOffersWithSecret(body: Doc | string, format: Format = 'json'): Promise<{ offers: OfferSet; webhookSecret?: string }> {
    const text = typeof body === 'string' ? body : encodeBody(body, format, 'ExecutionRequest');
    decodeBody(Buffer.from(text), format, 'ExecutionRequest');
    let webhookSecret: string | undefined;
    const offers = (await this.send('POST', '/requests', { text, format }, (headers) => { webhookSecret = headers.get('webhook-secret') ?? undefined; })) as OfferSet;
    return { offers, ...(webhookSecret ? { webhookSecret } : {}) };
  }

  /** Books and accepts the best offer in one step (`POST /direct`). */
  async direct(body: Doc | string, format: Format = 'json'): Promise<Session> {
    const text = typeof body === 'string' ? body : encodeBody(body, format, 'ExecutionRequest');
    return (await this.send('POST', '/direct', { text, format })) as Session;
  }

  async getOfferSet(uuid: string): Promise<OfferSet> {
    return (await this.send('GET', `/offersets/${encodeURIComponent(uuid)}`)) as OfferSet;
  }

  async getSession(uuid: string): Promise<Session> {
    return (await this.send('GET', `/sessions/${encodeURIComponent(uuid)}`)) as Session;
  }

  /** Moves a session to ACCEPTED, REJECTED or CANCELLED. */
  async setPhase(uuid: string, phase: 'ACCEPTED' | 'REJECTED' | 'CANCELLED'): Promise<Session> {
    const update = { kind: 'uri:enum-value-update', path: 'phase', value: phase };
    return (await this.send('POST', `/sessions/${encodeURIComponent(uuid)}`, { text: JSON.stringify(update), format: 'json' })) as Session;
  }

  /** The raw document in a format of choice (for `--output xml`, say). */
  async fetchText(path: string, format: Format): Promise<string> {
    const res = await this.fetch('GET', path, { accept: MEDIA[format] });
    const text = await res.text();
    if (!res.ok) throw this.refusal(res.status, text);
    return text;
  }

  async logs(uuid: string): Promise<string> {
    const res = await this.fetch('GET', `/sessions/${encodeURIComponent(uuid)}/logs`, { accept: 'text/plain' });
    const text = await res.text();
    if (!res.ok) throw this.refusal(res.status, text);
    return text;
  }

  /** The files a COMPLETED session left, each with the URL it is served at. */
  async outputs(uuid: string): Promise<OutputFile[]> {
    const res = await this.fetch('GET', `/sessions/${encodeURIComponent(uuid)}/outputs`, { accept: 'application/json' });
    const text = await res.text();
    if (!res.ok) throw this.refusal(res.status, text);
    return ((JSON.parse(text) as { files?: OutputFile[] }).files ?? []);
  }

  /** One output file's content, from the URL outputs() gave (only from this broker: the token goes with it). */
  async fetchOutput(url: string): Promise<string> {
    if (!url.startsWith(`${this.baseUrl}/`)) throw new Error(`${url} is not on this broker (${this.baseUrl})`);
    const res = await this.fetch('GET', url.slice(this.baseUrl.length), { accept: '*/*' });
    const text = await res.text();
    if (!res.ok) throw this.refusal(res.status, text);
    return text;
  }

  /** The log as it grows, until the session ends (`?follow=true`, one streamed response). */
  async *followLogs(uuid: string): AsyncGenerator<string> {
    const res = await this.fetch('GET', `/sessions/${encodeURIComponent(uuid)}/logs?follow=true`, { accept: 'text/plain' });
    if (!res.ok || !res.body) throw this.refusal(res.status, await res.text());
    const decoder = new TextDecoder();
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      const text = decoder.decode(chunk, { stream: true });
      if (text) yield text;
    }
    const rest = decoder.decode();
    if (rest) yield rest;
  }

  /**
   * Follows a session until it ends (or until `until` says stop), calling `onChange` at every
   * phase it sees. Resolves with the last session read.
   */
  async watch(uuid: string, onChange: (session: Session) => void = () => undefined, until: (session: Session) => boolean = (s) => isTerminal(s.phase)): Promise<Session> {
    let last: SessionPhase | undefined;
    for (;;) {
      const session = await this.getSession(uuid);
      if (session.phase !== last) {
        last = session.phase;
        onChange(session);
      }
      if (until(session)) return session;
      await new Promise((resolve) => setTimeout(resolve, this.options.pollMs ?? 500));
    }
  }

  /** What a script wants in one call: offers, the best one accepted, followed to its end. */
  async run(body: Doc | string, format: Format = 'json', onChange?: (session: Session) => void): Promise<Session> {
    const offers = await this.requestOffers(body, format);
    const best = offers.offers?.[0];
    if (offers.result !== 'YES' || !best) {
      const why = (offers.meta.messages ?? []).map((m) => m.message).filter(Boolean).join('; ');
      throw new BrokerClientError(200, undefined, `no offer: ${why || 'the broker gave no reason'}`);
    }
    await this.setPhase(best.meta.uuid, 'ACCEPTED');
    return this.watch(best.meta.uuid, onChange);
  }

  private async send(method: string, path: string, body?: { text: string; format: Format }, onHeaders?: (headers: Headers) => void): Promise<Doc> {
    const res = await this.fetch(method, path, { accept: MEDIA.json, ...(body ? { body: body.text, contentType: MEDIA[body.format] } : {}) });
    onHeaders?.(res.headers);
    const text = await res.text();
    // 303 after POST /requests carries the offer set itself; 400 from /direct a FAILED session.
    if (res.ok || res.status === 303 || (res.status === 400 && path === '/direct' && text.includes('"phase"'))) return JSON.parse(text) as Doc;
    throw this.refusal(res.status, text);
  }

  private fetch(method: string, path: string, options: { accept: string; body?: string; contentType?: string }): Promise<Response> {
    const headers: Record<string, string> = { Accept: options.accept };
    if (options.contentType) headers['Content-Type'] = options.contentType;
    if (this.options.token) headers.Authorization = `Bearer ${this.options.token}`;
    return fetch(`${this.baseUrl}${path}`, { method, headers, redirect: 'manual', ...(options.body === undefined ? {} : { body: options.body }) });
  }

  private refusal(status: number, text: string): BrokerClientError {
    let problem: Doc | undefined;
    try {
      problem = JSON.parse(text) as Doc;
    } catch {
      problem = undefined;
    }
    return new BrokerClientError(status, problem, text);
  }
}
