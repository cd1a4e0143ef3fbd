import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';

/** Answers true when a Redis server replies to PING at host:port within the timeout (after AUTH, given a password). */
export function redisAnswers(host: string, port: number, timeoutMs = 500, password?: string): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host, port });
    let replies = '';
    const finish = (ok: boolean) => { socket.destroy(); done(ok); };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write(password ? `AUTH ${password}\r\nPING\r\n` : 'PING\r\n'));
    socket.on('data', (data) => {
      replies += data.toString();
      if (replies.includes('+PONG')) finish(true);
      else if (replies.startsWith('-') || replies.includes('\r\n-')) finish(false);
    });
  });
}

export interface PrivateRedis { url: string; stop(): void }

/** Where ensureLocalRedis looks and what it starts (the defaults; tests use their own). */
export interface LocalRedisPlaces { defaultPort: number; privatePort: number; dataDir: string }

/**
 * The private Redis's password, made once and kept in its data directory (owner-only): where no
 * sandbox works, the demo site's runs are plain processes on the host's network, and must not
 * reach the broker's records.
 */
function privatePassword(dir: string): string {
  const file = join(dir, 'password');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const password = randomBytes(24).toString('hex');
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/**
 * For `npm start` without REDIS_URL: use the Redis on the default port if one answers, else start
 * a private redis-server (data in ./.redis-data, append-only file on, a password of its own) and
 * stop it on exit. Returns undefined, after saying how to get a Redis, when neither is possible.
 */
export async function ensureLocalRedis(log: (line: string) => void, places: Partial<LocalRedisPlaces> = {}): Promise<PrivateRedis | undefined> {
  const { defaultPort = 6379, privatePort = 6399, dataDir: dir = resolve('.redis-data') } = places;
  if (await redisAnswers('127.0.0.1', defaultPort)) return { url: `redis://127.0.0.1:${defaultPort}`, stop: () => undefined };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const password = privatePassword(dir);
  const url = `redis://:${password}@127.0.0.1:${privatePort}`;
  const shown = `redis://127.0.0.1:${privatePort}`;
  if (await redisAnswers('127.0.0.1', privatePort, 500, password)) return { url, stop: () => undefined };
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    log(`No Redis answers on redis://127.0.0.1:${defaultPort} and redis-server is not installed: install it (Debian: apt-get install redis-server) or set REDIS_URL.`);
    return undefined;
  }
  // The password goes in on stdin (redis-server reads a configuration file named "-" from it), not
  // in the command line that every process of the host can read.
  const child: ChildProcess = spawn('redis-server', [
    '-', '--port', String(privatePort), '--bind', '127.0.0.1', '--dir', dir,
    '--appendonly', 'yes', '--save', '', '--maxmemory-policy', 'noeviction', '--daemonize', 'no',
  ], { stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin?.end(`requirepass ${password}\n`);
  for (let attempt = 0; attempt < 50; attempt++) {
    if (await redisAnswers('127.0.0.1', privatePort, 500, password)) {
      log(`Started a private redis-server on ${shown} (data in ${dir}, append-only file on, its password in ${join(dir, 'password')}).`);
      return { url, stop: () => { child.kill('SIGTERM'); } };
    }
    await new Promise((wait) => setTimeout(wait, 100));
  }
  child.kill('SIGKILL');
  log(`redis-server did not start on port ${privatePort}; set REDIS_URL to a Redis you run yourself.`);
  return undefined;
}
