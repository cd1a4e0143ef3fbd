import type { PublishedPort } from '../broker/executor.js';
import type { SessionRecord } from '../broker/ports.js';
import type { SessionPhase } from '../domain/phases.js';
import { connectPath } from '../domain/connect-path.js';
import { notebookExecutable, NOTEBOOK_SERVER_PORT, readNotebookExecutable } from '../domain/notebook-executable.js';

type Doc = Record<string, unknown>;
const isDoc = (value: unknown): value is Doc => typeof value === 'object' && value !== null && !Array.isArray(value);

export const CONNECTOR_KINDS = {
  logs: 'urn:srcnet:connector:logs',
  port: 'urn:srcnet:connector:port',
  outputs: 'urn:srcnet:connector:outputs',
  notebook: 'urn:srcnet:connector:notebook',
} as const;

const LOGS_FROM: ReadonlySet<SessionPhase> = new Set(['RUNNING', 'RELEASING', 'COMPLETED', 'FAILED', 'CANCELLED']);
/** Accepted and not running yet: a port's connector is coming. */
const BEFORE_RUN: ReadonlySet<SessionPhase> = new Set(['ACCEPTED', 'WAITING', 'PREPARING', 'AVAILABLE']);
const AFTER_RUN: ReadonlySet<SessionPhase> = new Set(['RELEASING', 'COMPLETED', 'FAILED', 'CANCELLED']);

/** The executable's ports with `access: true`, as the request wrote them. */
function accessPorts(session: SessionRecord): Doc[] {
  const exe = session.document.executable;
  const network = isDoc(exe) && isDoc(exe.network) ? exe.network : {};
  return (Array.isArray(network.ports) ? network.ports.filter(isDoc) : []).filter((port) => port.access === true);
}

const protocolOf = (port: Doc): string => (typeof port.protocol === 'string' && port.protocol !== '' ? port.protocol.toUpperCase() : 'TCP');
const internalOf = (port: Doc): unknown => (isDoc(port.internal) ? port.internal.port : undefined);

/** The published port behind a port of the executable (UDP and the TCP family are told apart). */
function publishedFor(port: Doc, run: SessionRecord['run']): PublishedPort | undefined {
  const udp = protocolOf(port) === 'UDP';
  return run?.ports?.find((p) => p.internal === internalOf(port) && (p.protocol === 'UDP') === udp);
}

export { connectPath };

/**
 * The URL a client opens: an HTTP port through the broker's proxy (which only the session's owner
 * passes), with the port's path; else https://, tcp:// or udp:// at the published port.
 */
function urlOf(port: Doc, published: PublishedPort, proxy: string | undefined): string {
  const host = published.host.includes(':') && !published.host.startsWith('[') ? `[${published.host}]` : published.host;
  const protocol = protocolOf(port);
  if (protocol === 'HTTP' || protocol === 'HTTPS') {
    const path = typeof port.path === 'string' && port.path !== '' ? encodeURI(port.path.startsWith('/') ? port.path : `/${port.path}`) : '/';
    return proxy ? `${proxy}${path}` : `${protocol.toLowerCase()}://${host}:${published.external}${path}`;
  }
  return `${protocol.toLowerCase()}://${host}:${published.external}`;
}

/** Where the proxy forwards to, and what it adds: only while the connector is AVAILABLE. */
export interface ProxyTarget {
  host: string;
  port: number;
  /** The backend serves under the proxy's path (a notebook's base URL); otherwise the proxy strips it. */
  keepPrefix: boolean;
}

/**
 * The one port the broker's proxy reaches for a session while its connector is AVAILABLE (the
 * session RUNNING): an interactive notebook's server once it answers (served under the proxy's
 * path, its base URL), else the first HTTP port with `access: true` once published; nothing otherwise.
 */
export function proxyTarget(session: SessionRecord): ProxyTarget | undefined {
  if (session.phase !== 'RUNNING') return undefined;
  const server = interactiveNotebook(session) ? session.run?.ports?.find((p) => p.internal === NOTEBOOK_SERVER_PORT && p.protocol !== 'UDP') : undefined;
  if (server) return session.run?.answering ? { host: server.host, port: server.external, keepPrefix: true } : undefined;
  for (const port of accessPorts(session)) {
    if (protocolOf(port) !== 'HTTP') continue;
    const published = publishedFor(port, session.run);
    if (published) return { host: published.host, port: published.external, keepPrefix: false };
  }
  return undefined;
}

/** The session's notebook, when it is one served interactively. */
function interactiveNotebook(session: SessionRecord): { name: string } | undefined {
  const exe = notebookExecutable(session.document.executable);
  const notebook = exe ? readNotebookExecutable(exe) : undefined;
  return notebook && typeof notebook !== 'string' && notebook.mode === 'interactive' ? notebook : undefined;
}

/**
 * An interactive notebook's server (`urn:srcnet:connector:notebook`, HTTP): PREPARING from the
 * accept, AVAILABLE while RUNNING once the server has answered, FINISHED after. Its location is
 * the broker's proxy (only the owner passes it, and the proxy adds the server's token: no browser
 * ever holds it), at the notebook's page.
 */
function notebookConnector(session: SessionRecord, baseUrl: string): Doc | undefined {
  const notebook = interactiveNotebook(session);
  if (!notebook) return undefined;
  const phase = session.phase;
  if (!BEFORE_RUN.has(phase) && phase !== 'RUNNING' && !AFTER_RUN.has(phase)) return undefined;
  const published = session.run?.ports?.find((p) => p.internal === NOTEBOOK_SERVER_PORT && p.protocol !== 'UDP');
  // AVAILABLE once the server has answered (the site looks at each poll), not merely started.
  const status = AFTER_RUN.has(phase) ? 'FINISHED' : phase === 'RUNNING' && published && session.run?.answering ? 'AVAILABLE' : 'PREPARING';
  if (!published || status === 'PREPARING') return { kind: CONNECTOR_KINDS.notebook, status, protocol: 'HTTP' };
  return { kind: CONNECTOR_KINDS.notebook, status, protocol: 'HTTP', location: `${baseUrl}${connectPath(session.uuid)}/notebooks/${encodeURIComponent(notebook.name)}` };
}

/**
 * The session's live access points, with the status vocabulary of the schema (PREPARING,
 * AVAILABLE, FINISHED): its log from the moment it runs; each port the executable exposes with
 * `access: true` once the session is accepted (a location once the port is published); an
 * interactive notebook's server (notebookConnector); and its outputs once COMPLETED.
 */
export function sessionConnectors(session: SessionRecord, baseUrl: string): Doc[] {
  const connectors: Doc[] = [];
  const phase = session.phase;
  if (LOGS_FROM.has(phase)) {
    const live = phase === 'RUNNING' || phase === 'RELEASING';
    connectors.push({ kind: CONNECTOR_KINDS.logs, status: live ? 'AVAILABLE' : 'FINISHED', protocol: 'HTTP', location: `${baseUrl}/sessions/${session.uuid}/logs` });
  }
  if (BEFORE_RUN.has(phase) || phase === 'RUNNING' || AFTER_RUN.has(phase)) {
    // The first HTTP port is reached through the broker's proxy (proxyTarget); any other directly.
    const proxied = accessPorts(session).find((port) => protocolOf(port) === 'HTTP');
    for (const port of accessPorts(session)) {
      const published = publishedFor(port, session.run);
      const status = AFTER_RUN.has(phase) ? 'FINISHED' : phase === 'RUNNING' && published ? 'AVAILABLE' : 'PREPARING';
      const proxy = port === proxied ? `${baseUrl}${connectPath(session.uuid)}` : undefined;
      connectors.push({ kind: CONNECTOR_KINDS.port, status, protocol: protocolOf(port), ...(published ? { location: urlOf(port, published, proxy) } : {}) });
    }
  }
  const notebook = notebookConnector(session, baseUrl);
  if (notebook) connectors.push(notebook);
  if (phase === 'COMPLETED' && session.run?.outputs) {
    connectors.push({ kind: CONNECTOR_KINDS.outputs, status: 'AVAILABLE', protocol: 'HTTP', location: `${baseUrl}/sessions/${session.uuid}/outputs` });
  }
  return connectors;
}

/** The executable with `external` filled in for each port published for the run. */
export function withPublishedPorts(executable: Doc, run: SessionRecord['run']): Doc {
  const network = isDoc(executable.network) ? executable.network : undefined;
  if (!network || !Array.isArray(network.ports) || !run?.ports?.length) return executable;
  const ports = network.ports.map((port: unknown) => {
    if (!isDoc(port)) return port;
    const published = publishedFor(port, run);
    return published ? { ...port, external: { port: published.external, addresses: [published.host] } } : port;
  });
  return { ...executable, network: { ...network, ports } };
}
