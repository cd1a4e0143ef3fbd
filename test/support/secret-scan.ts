import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';

// Where a secret could leak to, each as one text to search: Redis, files, processes.

/** Every key under the prefix (BullMQ's included) with every value it holds, as text. */
export async function dumpRedis(redis: Redis, prefix: string): Promise<string> {
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      parts.push(key);
      const type = await redis.type(key);
      if (type === 'string') parts.push((await redis.getBuffer(key))?.toString('latin1') ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(key, 0, -1, 'WITHSCORES')));
      else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(key, '-', '+')));
      else parts.push(`<${type}>`);
    }
  } while (cursor !== '0');
  return parts.join('\n');
}

/** Every file under a directory, as text. */
export function dumpFiles(dir: string): string {
  const parts: string[] = [];
  const walk = (path: string): void => {
    for (const name of readdirSync(path)) {
      const full = join(path, name);
      const info = statSync(full);
      if (info.isDirectory()) walk(full);
      // Files only: a FIFO or a socket has nothing to read (and reading a FIFO waits for a writer).
      else if (info.isFile()) parts.push(`${full}\n${readFileSync(full).toString('latin1')}`);
    }
  };
  walk(dir);
  return parts.join('\n');
}

/** The command line and environment of every process of this machine that can be read. */
export function processTexts(): string {
  const parts: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    for (const file of ['cmdline', 'environ']) {
      try { parts.push(readFileSync(`/proc/${pid}/${file}`).toString('latin1')); } catch { /* gone, or not ours to read */ }
    }
  }
  return parts.join('\n');
}

