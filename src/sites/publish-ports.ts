import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { PublishedPort, RunSpec } from '../broker/executor.js';

/** A port the kernel says is free now, for TCP or UDP. */
async function freePort(protocol: string): Promise<number> {
  if (protocol.toUpperCase() === 'UDP') {
    const socket = createSocket('udp4');
    await new Promise<void>((ready, fail) => { socket.once('error', fail); socket.bind(0, ready); });
    const { port } = socket.address();
    await new Promise<void>((done) => socket.close(() => done()));
    return port;
  }
  const server = createServer();
  await new Promise<void>((ready, fail) => { server.once('error', fail); server.listen(0, ready); });
  const address = server.address();
  await new Promise<void>((done) => server.close(() => done()));
  if (!address || typeof address !== 'object') throw new Error('no free port');
  return address.port;
}

/**
 * A host port for each port the executable listens on, chosen here rather than by the runtime, so
 * that the session can show its connectors from the moment the run is handed over (an image pull
 * may take minutes before a runtime would say which port it chose).
 */
export async function publishPorts(ports: RunSpec['ports'], host: string): Promise<PublishedPort[]> {
  const published: PublishedPort[] = [];
  for (const port of ports ?? []) {
    published.push({ internal: port.internal, external: await freePort(port.protocol), protocol: port.protocol, host });
  }
  return published;
}

/**
 * Where a run without port mapping (a plain process, apptainer) must listen: `EB_PORT_<internal>`
 * for each port, and `PORT` when there is exactly one.
 */
export function portEnvironment(published: readonly PublishedPort[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const port of published) env[`EB_PORT_${port.internal}`] = String(port.external);
  if (published.length === 1) env.PORT = String((published[0] as PublishedPort).external);
  return env;
}

/** Listen on loopback only when the site's public host is loopback itself. */
export const bindAddress = (publicHost: string): string =>
  /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/i.test(publicHost) ? '127.0.0.1' : '0.0.0.0';
