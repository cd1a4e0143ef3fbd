import { connect, type Socket } from 'node:net';

/**
 * Every command Redis receives, from any client, as the raw lines of Redis's MONITOR
 * (`+<time> [<db> <client>] "command" "arg" ...`, arguments quoted and escaped by Redis).
 *
 * On a plain socket rather than ioredis's `monitor()`: ioredis switches a connection to monitor
 * mode only once the reply to MONITOR has gone through a promise, so a busy Redis whose first
 * monitored command arrives in the same read as that reply makes it throw "Command queue state
 * error" (seen in CI with a shared Redis).
 */
export class RedisMonitor {
  private buffer = '';
  private started = false;

  private constructor(private readonly socket: Socket, private readonly onLine: (line: string) => void) {}

  static async start(url: string, onLine: (line: string) => void): Promise<RedisMonitor> {
    const parsed = new URL(url);
    const socket = connect(Number(parsed.port || 6379), parsed.hostname.replace(/^\[|\]$/g, ''));
    const monitor = new RedisMonitor(socket, onLine);
    await new Promise<void>((ready, fail) => {
      socket.once('error', fail);
      socket.on('data', (chunk: Buffer) => monitor.read(chunk.toString('utf8'), ready, fail));
      const user = decodeURIComponent(parsed.username);
      const password = decodeURIComponent(parsed.password);
      const commands = [
        ...(password ? [user ? ['AUTH', user, password] : ['AUTH', password]] : []),
        ...(parsed.pathname.length > 1 ? [['SELECT', parsed.pathname.slice(1)]] : []),
        ['MONITOR'],
      ];
      monitor.pendingReplies = commands.length;
      socket.write(commands.map(encode).join(''));
    });
    socket.on('error', () => undefined); // a test's Redis going away ends the monitor, nothing more
    return monitor;
  }

  /** Replies still to come to what was sent (AUTH, SELECT, MONITOR): the stream starts after the last. */
  private pendingReplies = 0;

  private read(text: string, ready: () => void, fail: (error: Error) => void): void {
    this.buffer += text;
    let end: number;
    while ((end = this.buffer.indexOf('\r\n')) >= 0) {
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      if (this.started) {
        this.onLine(line.slice(1));
        continue;
      }
      if (line.startsWith('-')) return fail(new Error(`Redis refused the monitor: ${line.slice(1)}`));
      if (--this.pendingReplies === 0) {
        this.started = true;
        ready();
      }
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

const encode = (args: string[]): string => `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
