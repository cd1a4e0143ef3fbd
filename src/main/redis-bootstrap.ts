import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { resolve } from 'node:path';

/** Answers true when a Redis server replies to PING at host:port within the timeout. */
export function redisAnswers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host, port });
    const finish = (ok: boolean) => { socket.destroy(); done(ok); };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => finish(data.toString().startsWith('+PONG')));
  });
}

export interface PrivateRedis { url: string; stop(): void }

const PRIVATE_PORT = 6399;

/**
 * For `npm start` without REDIS_URL: use the Redis on the default port if one answers, else start
 * a private redis-server (data in ./.redis-data, append-only file on) and stop it on exit.
 * Returns undefined, after saying how to get a Redis, when neither is possible.
 */
export async function ensureLocalRedis(log: (line: string) => void): Promise<PrivateRedis | undefined> {
  if (await redisAnswers('127.0.0.1', 6379)) return { url: 'redis://127.0.0.1:6379', stop: () => undefined };
  const url = `redis://127.0.0.1:${PRIVATE_PORT}`;
  if (await redisAnswers('127.0.0.1', PRIVATE_PORT)) return { url, stop: () => undefined };
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    log('No Redis answers on redis://127.0.0.1:6379 and redis-server is not installed: install it (Debian: apt-get install redis-server) or set REDIS_URL.');
    return undefined;
  }
  const dir = resolve('.redis-data');
  mkdirSync(dir, { recursive: true });
  const child: ChildProcess = spawn('redis-server', [
    '--port', String(PRIVATE_PORT), '--bind', '127.0.0.1', '--dir', dir,
    '--appendonly', 'yes', '--save', '', '--maxmemory-policy', 'noeviction', '--daemonize', 'no',
  ], { stdio: 'ignore' });
  for (let attempt = 0; attempt < 50; attempt++) {
    if (await redisAnswers('127.0.0.1', PRIVATE_PORT)) {
      log(`Started a private redis-server on ${url} (data in ${dir}, append-only file on).`);
      return { url, stop: () => { child.kill('SIGTERM'); } };
    }
    await new Promise((wait) => setTimeout(wait, 100));
  }
  child.kill('SIGKILL');
  log(`redis-server did not start on port ${PRIVATE_PORT}; set REDIS_URL to a Redis you run yourself.`);
  return undefined;
}
