import { createServer, type RequestListener, type Server } from 'node:http';

export interface ClientTimeouts {
  /** How long a client may take to send its headers. */
  headersTimeoutMs: number;
  /** How long it may take to send the whole request (headers and body); a response may take longer. */
  requestTimeoutMs: number;
}

/**
 * The HTTP server for an app, with time-outs for slow clients: a client that has not sent its
 * headers, or its whole body (a Content-Length larger than what it sends), within its time-out
 * gets Node's own `408 Request Timeout` and the connection is closed. Node looks at its
 * connections every `connectionsCheckingInterval`, so the 408 comes at most a fifth of the
 * time-out (and at most a second) late.
 */
export function createHttpServer(app: RequestListener, timeouts: ClientTimeouts): Server {
  const shortest = Math.min(timeouts.headersTimeoutMs, timeouts.requestTimeoutMs);
  return createServer({
    headersTimeout: timeouts.headersTimeoutMs,
    requestTimeout: timeouts.requestTimeoutMs,
    connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(shortest / 5))),
  }, app);
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
