import { connect, createServer, type Server, type Socket } from 'node:net';

interface Pair { client: Socket; upstream: Socket; toUpstream: Buffer[]; toClient: Buffer[] }

/**
 * A TCP proxy between the broker and Redis, for fault tests: it forwards, stalls (holds every byte
 * in both directions, as a network path that stops forwarding does, and delivers them on resume),
 * or refuses (closes every connection and stops listening, until it accepts again on the same port).
 */
export class TcpProxy {
  private stalled = false;
  private readonly pairs = new Set<Pair>();
  private server: Server;

  private constructor(private readonly targetPort: number, readonly port: number, server: Server) {
    this.server = server;
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const holder: { proxy?: TcpProxy } = {};
    const server = createServer((client) => holder.proxy?.adopt(client));
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    holder.proxy = new TcpProxy(targetPort, (server.address() as { port: number }).port, server);
    return holder.proxy;
  }

  get url(): string { return `redis://127.0.0.1:${this.port}`; }

  private adopt(client: Socket): void {
    const upstream = connect(this.targetPort, '127.0.0.1');
    const pair: Pair = { client, upstream, toUpstream: [], toClient: [] };
    this.pairs.add(pair);
    client.on('data', (data) => { if (this.stalled) pair.toUpstream.push(data); else upstream.write(data); });
    upstream.on('data', (data) => { if (this.stalled) pair.toClient.push(data); else client.write(data); });
    const drop = (): void => { this.pairs.delete(pair); client.destroy(); upstream.destroy(); };
    for (const socket of [client, upstream]) { socket.on('error', drop); socket.on('close', drop); }
  }

  /** The local ports of its connections to Redis: how Redis (CLIENT LIST) knows the clients behind it. */
  upstreamPorts(): Set<number> {
    return new Set([...this.pairs].map((pair) => pair.upstream.localPort).filter((port): port is number => port !== undefined));
  }

  /** Stops forwarding: connections stay open, bytes wait. */
  stall(): void { this.stalled = true; }

  /** Forwards again, the held bytes first. */
  resume(): void {
    this.stalled = false;
    for (const pair of this.pairs) {
      for (const data of pair.toUpstream.splice(0)) pair.upstream.write(data);
      for (const data of pair.toClient.splice(0)) pair.client.write(data);
    }
  }

  /** Closes every connection and stops listening: connecting is refused. */
  async refuse(): Promise<void> {
    for (const pair of [...this.pairs]) { pair.client.destroy(); pair.upstream.destroy(); }
    this.pairs.clear();
    if (this.server.listening) await new Promise((done) => this.server.close(done));
  }

  /** Listens again on the same port. */
  async accept(): Promise<void> {
    if (this.server.listening) return;
    this.server = createServer((client) => this.adopt(client));
    const server = this.server;
    await new Promise<void>((done, fail) => { server.once('error', fail); server.listen(this.port, '127.0.0.1', () => done()); });
  }

  async close(): Promise<void> {
    this.stalled = false;
    await this.refuse().catch(() => undefined);
  }
}
