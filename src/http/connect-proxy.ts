import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Request, RequestHandler, Response } from 'express';
import type { Authenticator } from '../broker/ports.js';
import { BrokerError } from '../domain/errors.js';
import type { Principal } from '../domain/principal.js';
import { encodeBody } from '../protocol/codecs/body-codec.js';
import { ERROR_CATALOGUE } from '../protocol/error-catalogue.js';
import { problemFormat } from '../protocol/media-types.js';
import { problemDocument } from '../protocol/problem-document.js';
import { connectPath, proxyTarget } from '../protocol/session-connectors.js';
import { principalOf, type CookieLogin } from './authenticate.js';
import type { BrokerApi } from './broker-api.js';
import { LOGIN } from './login-cookie.js';
import { requestPrincipal } from './request-principal.js';

/** `/sessions/<uuid>/connect` and the rest of the path (which starts with `/`, or is empty). */
const CONNECT = /^\/sessions\/([0-9a-fA-F-]{36})\/connect(\/[^?#]*)?(\?[^#]*)?$/;

/** Hop-by-hop headers (RFC 9110 7.6.1) and the broker's own credentials: never passed on. */
const DROPPED = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'authorization', 'cookie', 'host', 'origin', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-prefix']);
const DROPPED_BACK = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

interface Upstream { host: string; port: number; path: string; prefix: string; authorization?: string }

/**
 * Where a request to `/sessions/<uuid>/connect/...` goes: the session's own published HTTP port,
 * for its owner only (anyone else, operators too, gets the same 404 as for an unknown session)
 * and only while its connector is AVAILABLE. The path is the one given, the prefix stripped
 * (unless the backend serves under it, as a notebook server does), so no path reaches any other
 * host or port: host and port come from the session's record alone.
 */
async function upstreamFor(api: BrokerApi, uuid: string, rest: string, principal: Principal): Promise<Upstream> {
  const session = await api.getSession(uuid.toLowerCase(), principal);
  if (session.owner !== principal.subject) throw new BrokerError('not-found', { values: { what: 'session', uuid } });
  const target = proxyTarget(session);
  if (!target) throw new BrokerError('not-found', { detail: `The session [${uuid}] has no AVAILABLE HTTP connector (it is ${session.phase})` });
  const prefix = connectPath(session.uuid);
  // A notebook server's token, added here (Jupyter takes `Authorization: token ...`): the browser never holds it.
  const token = target.keepPrefix ? await api.notebookToken(session, principal) : undefined;
  return { host: target.host, port: target.port, prefix, path: target.keepPrefix ? `${prefix}${rest}` : rest || '/', ...(token ? { authorization: `token ${token}` } : {}) };
}

/** The request's headers for the backend: no hop-by-hop ones, no broker credentials; Host and Origin the backend's own. */
function forwardHeaders(headers: IncomingHttpHeaders, upstream: Upstream, via: { origin: string; proto: string; remote: string | undefined }): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !DROPPED.has(name)) out[name] = value;
  const hostPort = `${upstream.host.includes(':') ? `[${upstream.host}]` : upstream.host}:${upstream.port}`;
  out.host = hostPort;
  // The broker checked the browser's Origin; the backend sees its own, so that its same-origin checks pass.
  if (headers.origin !== undefined) out.origin = `http://${hostPort}`;
  out['x-forwarded-host'] = new URL(via.origin).host;
  out['x-forwarded-proto'] = via.proto;
  out['x-forwarded-prefix'] = upstream.prefix;
  if (via.remote) out['x-forwarded-for'] = via.remote;
  if (upstream.authorization) out.authorization = upstream.authorization;
  return out;
}

/** A redirect or cookie of the backend, made to stay under the proxy's path. */
function backHeaders(headers: IncomingHttpHeaders, upstream: Upstream, origin: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !DROPPED_BACK.has(name)) out[name] = value;
  const location = headers.location;
  if (location) {
    const backend = new URL(`http://${upstream.host.includes(':') ? `[${upstream.host}]` : upstream.host}:${upstream.port}`);
    const url = new URL(location, `${backend.href}`);
    if (url.origin === backend.origin) {
      const path = `${url.pathname}${url.search}${url.hash}`;
      out.location = `${origin}${path.startsWith(upstream.prefix) ? '' : upstream.prefix}${path}`;
    }
  }
  if (headers['set-cookie']) {
    // The backend's cookies stay under its path, and never take the name of the broker's own.
    out['set-cookie'] = headers['set-cookie']
      .filter((cookie) => !/^\s*(__Host-|__Secure-)?eb-/i.test(cookie) && !cookie.trim().startsWith(`${LOGIN}`))
      .map((cookie) => `${cookie.replace(/;\s*(path|domain)=[^;]*/gi, '')}; Path=${upstream.prefix}/`);
  }
  return out;
}

const viaOf = (req: IncomingMessage, origin: string): { origin: string; proto: string; remote: string | undefined } =>
  ({ origin, proto: origin.startsWith('https:') ? 'https' : 'http', remote: req.socket.remoteAddress });

/** HTTP requests to `/sessions/<uuid>/connect/...` (mounted after authentication). */
export function connectProxyRoute(api: BrokerApi, ownOrigin: (req: Request) => string): RequestHandler {
  return async (req, res, next) => {
    const match = CONNECT.exec(req.originalUrl);
    if (!match) { next(); return; }
    const upstream = await upstreamFor(api, match[1]!, `${match[2] ?? ''}${match[3] ?? ''}`, requestPrincipal(req));
    await forwardHttp(req, res, upstream, ownOrigin(req));
  };
}

function forwardHttp(req: Request, res: Response, upstream: Upstream, origin: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest({
      host: upstream.host, port: upstream.port, method: req.method, path: upstream.path,
      headers: forwardHeaders(req.headers, upstream, viaOf(req, origin)), timeout: 30_000,
    });
    outgoing.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, backHeaders(answer.headers, upstream, origin));
      answer.pipe(res);
      answer.on('end', () => resolve());
      answer.on('error', () => { res.destroy(); resolve(); });
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error('the session\'s server did not answer within 30 s')));
    outgoing.on('error', (error) => {
      if (res.headersSent) { res.destroy(); resolve(); return; }
      reject(new BrokerError('connector-unavailable', { values: { reason: error.message }, cause: error }));
    });
    req.on('aborted', () => outgoing.destroy());
    req.pipe(outgoing);
  });
}

/** A problem document as a raw HTTP response on a socket that asked to upgrade. */
function refuse(socket: Duplex, error: unknown, req: IncomingMessage): void {
  const brokerError = error instanceof BrokerError ? error : new BrokerError('internal-error', { cause: error });
  const { status, title } = ERROR_CATALOGUE[brokerError.code];
  const negotiated = problemFormat(req.headers.accept);
  const body = Buffer.from(encodeBody(problemDocument(brokerError, req.url), negotiated.format, 'Problem'));
  socket.end(`HTTP/1.1 ${status} ${title}\r\nContent-Type: ${negotiated.mediaType}; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.toString('utf8')}`);
}

/**
 * WebSocket handshakes (HTTP upgrades) to `/sessions/<uuid>/connect/...`, for the HTTP server's
 * `upgrade` event: authenticated as any request (a handshake with the login cookie must come from
 * the broker's own origin, which stops cross-site WebSocket hijacking), then the bytes go both
 * ways between the browser and the session's port. Any other upgrade is refused.
 */
export function connectProxyUpgrade(api: BrokerApi, authenticator: Authenticator, cookies: CookieLogin | undefined, ownOrigin: (req: IncomingMessage) => string, shutdown?: AbortSignal):
  (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  // Open WebSockets end when the process begins to stop (the browser reconnects to another).
  const open = new Set<Duplex>();
  shutdown?.addEventListener('abort', () => { for (const socket of open) socket.destroy(); }, { once: true });
  return (req, socket, head) => {
    if (shutdown?.aborted) { socket.destroy(); return; }
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => socket.destroy());
    void (async () => {
      const match = CONNECT.exec(req.url ?? '');
      if (!match) throw new BrokerError('route-not-found', { values: { method: req.method ?? 'GET', path: (req.url ?? '').split('?')[0]!.slice(0, 200) } });
      const principal = await principalOf(req, authenticator, cookies, true);
      const upstream = await upstreamFor(api, match[1]!, `${match[2] ?? ''}${match[3] ?? ''}`, principal);
      const origin = ownOrigin(req);
      const headers = forwardHeaders(req.headers, upstream, viaOf(req, origin));
      headers.connection = 'Upgrade';
      headers.upgrade = req.headers.upgrade ?? 'websocket';
      const backend = connect(upstream.port, upstream.host);
      await new Promise<void>((ready, failed) => {
        backend.once('connect', ready);
        backend.once('error', (error) => failed(new BrokerError('connector-unavailable', { values: { reason: error.message }, cause: error })));
      });
      const lines = [`${req.method ?? 'GET'} ${upstream.path} HTTP/1.1`];
      for (const [name, value] of Object.entries(headers)) for (const one of ([] as unknown[]).concat(value)) lines.push(`${name}: ${String(one)}`);
      backend.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) backend.write(head);
      backend.on('error', () => socket.destroy());
      socket.on('close', () => backend.destroy());
      backend.on('close', () => socket.destroy());
      backend.pipe(socket);
      socket.pipe(backend);
    })().catch((error: unknown) => { if (socket.writable) refuse(socket, error, req); else socket.destroy(); });
  };
}
