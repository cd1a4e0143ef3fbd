import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { BrokerError, type ErrorCode } from '../domain/errors.js';
import { encodeBody } from '../protocol/codecs/body-codec.js';
import { ERROR_CATALOGUE } from '../protocol/error-catalogue.js';
import { problemFormat } from '../protocol/media-types.js';
import { problemDocument } from '../protocol/problem-document.js';

export interface ClientTimeouts {
  /** How long a client may take to send its headers. */
  headersTimeoutMs: number;
  /** How long it may take to send the whole request (headers and body); a response may take longer. */
  requestTimeoutMs: number;
}

/**
 * The HTTP server for an app, with time-outs for slow clients: a client that has not sent its
 * headers, or its whole body (a Content-Length larger than what it sends), within its time-out
 * gets `408 Request Timeout` and the connection is closed. Node looks at its connections every
 * `connectionsCheckingInterval`, so the 408 comes at most a fifth of the time-out (and at most a
 * second) late. What Node refuses before the app sees a request (a time-out, headers too large,
 * bytes that are not HTTP) is answered as the app answers errors: a problem document, in the
 * format the request's Accept names when its headers had arrived, else JSON.
 */
export function createHttpServer(app: RequestListener, timeouts: ClientTimeouts): Server {
  const shortest = Math.min(timeouts.headersTimeoutMs, timeouts.requestTimeoutMs);
  const server = createServer({
    headersTimeout: timeouts.headersTimeoutMs,
    requestTimeout: timeouts.requestTimeoutMs,
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(shortest / 5))),
  }, app);
  const upgrade = (app as { handleUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void }).handleUpgrade;
  if (upgrade) server.on('upgrade', upgrade);
  // The request whose headers arrived last on each connection: a time-out while its body comes answers in its format.
  const latest = new WeakMap<Duplex, IncomingMessage>();
  server.on('request', (req: IncomingMessage) => { latest.set(req.socket, req); });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    const refusal = clientRefusal(error, latest.get(socket), timeouts);
    if (!refusal || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(refusal);
  });
  return server;
}

/** The whole response for what Node refused, or undefined for a client that went away (nothing to answer). */
function clientRefusal(error: NodeJS.ErrnoException, request: IncomingMessage | undefined, timeouts: ClientTimeouts): string | undefined {
  let brokerError: BrokerError;
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    const headersArrived = request !== undefined && !request.complete;
    const ms = headersArrived ? timeouts.requestTimeoutMs : timeouts.headersTimeoutMs;
    brokerError = new BrokerError('request-timeout', { values: { seconds: String(Math.round(ms / 100) / 10), part: headersArrived ? 'the body' : 'the headers' } });
  } else if (error.code === 'HPE_HEADER_OVERFLOW') {
    brokerError = new BrokerError('headers-too-large');
  } else if (error.code?.startsWith('HPE_')) {
    brokerError = new BrokerError('malformed-request', { detail: `The bytes received are not an HTTP/1.1 request (${error.code.slice(4).toLowerCase().replace(/_/g, ' ')})` });
  } else {
    return undefined; // ECONNRESET and the like
  }
  const code: ErrorCode = brokerError.code;
  const negotiated = problemFormat(request && !request.complete ? request.headers.accept : undefined);
  const body = Buffer.from(encodeBody(problemDocument(brokerError, request && !request.complete ? request.url : undefined), negotiated.format, 'Problem'));
  const status = ERROR_CATALOGUE[code].status;
  return `HTTP/1.1 ${status} ${ERROR_CATALOGUE[code].title}\r\nContent-Type: ${negotiated.mediaType}; charset=utf-8\r\n`
    + `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.toString('utf8')}`;
}

/** Listens on port and host; rejects with the server's error (a port in use, say) instead of ignoring it. */
export function listen(server: Server, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const failed = (error: Error): void => reject(error);
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve(server);
    });
  });
}

/** A listen error in words an operator can act on: which address, and what to change. */
export function listenFailure(error: NodeJS.ErrnoException, port: number, host: string): string {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (error.code) {
    case 'EADDRINUSE': return `Cannot listen on ${where}: port ${port} is already in use by another process. Stop that process, or set PORT to a free port.`;
    case 'EACCES': return `Cannot listen on ${where}: not allowed to use port ${port} (ports below 1024 need privileges). Set PORT to a port above 1023.`;
    case 'EADDRNOTAVAIL': return `Cannot listen on ${where}: ${host} is not an address of this machine. Set HOST to one of its addresses (or 127.0.0.1).`;
    default: return `Cannot listen on ${where}: ${error.message}. Check PORT and HOST.`;
  }
}
