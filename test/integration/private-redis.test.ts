import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ensureLocalRedis, redisAnswers } from '../../src/main/redis-bootstrap.js';
import { freePort } from '../support/test-broker.js';

/**
 * `npm start` without a Redis starts a private redis-server: with a password of its own, kept in
 * its data directory, never on a command line or in the log (the demo site's runs have the host's
 * network and must not reach the broker's records).
 */
/** The first reply line to a command sent on a bare connection (no AUTH). */
function firstReply(port: number, command: string): Promise<string> {
  return new Promise((done, fail) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => socket.write(`${command}\r\n`));
    socket.once('data', (data) => { socket.destroy(); done(data.toString().split('\r\n')[0]!); });
    socket.once('error', fail);
  });
}

describe('the private redis-server npm start makes', () => {
  const installed = spawnSync('redis-server', ['--version']).status === 0;
  (installed ? it : it.skip)('has a password a run does not have, kept for the next start, and said nowhere', async () => {
    const dataDir = join(mkdtempSync(join(tmpdir(), 'eb-private-redis-')), 'data');
    const places = { defaultPort: await freePort(), privatePort: await freePort(), dataDir };
    const said: string[] = [];
    const first = await ensureLocalRedis((line) => said.push(line), places);
    try {
      expect(first).toBeDefined();
      const password = readFileSync(join(dataDir, 'password'), 'utf8').trim();
      expect(password).toMatch(/^[0-9a-f]{48}$/);
      expect(statSync(join(dataDir, 'password')).mode & 0o777).toBe(0o600);
      expect(first!.url).toBe(`redis://:${password}@127.0.0.1:${places.privatePort}`);
      // Without the password: refused, as a run on the host's network would be.
      expect(await redisAnswers('127.0.0.1', places.privatePort)).toBe(false);
      expect(await firstReply(places.privatePort, 'KEYS *')).toMatch(/^-NOAUTH/);
      const owner = new Redis(first!.url);
      expect(await owner.ping()).toBe('PONG');
      await owner.quit();
      // Nowhere else: not in the log, not in any process's command line.
      expect(said.join('\n')).not.toContain(password);
      expect(said.join('\n')).toContain(`redis://127.0.0.1:${places.privatePort}`);
      expect(spawnSync('ps', ['-eo', 'args']).stdout.toString()).not.toContain(password);
      // The next start finds it running, with the same password.
      const again = await ensureLocalRedis(() => undefined, places);
      expect(again?.url).toBe(first!.url);
    } finally {
      first?.stop();
    }
  });
});
