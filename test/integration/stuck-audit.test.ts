import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { redisKeys } from '../../src/store/redis-keys.js';
import { deleteKeys, randomPrefix, redisUrl } from '../support/test-broker.js';

const AUDIT = fileURLToPath(new URL('../../dist/main/audit.js', import.meta.url));
const MINUTE = 60_000;

/** `npm run audit` (dist/main/audit.js) as an operator runs it, against sessions written as the broker writes them. */
describe('npm run audit', () => {
  const redis = new Redis(redisUrl());
  const prefix = randomPrefix();
  const keys = redisKeys(prefix);
  afterAll(async () => {
    await deleteKeys(redis, prefix);
    await redis.quit();
  });

  const audit = (): Promise<{ code: number; report: Record<string, string[]> }> => new Promise((done) => {
    execFile(process.execPath, [AUDIT], { env: { ...process.env, REDIS_URL: redisUrl(), EB_KEY_PREFIX: prefix, BROKER_CONFIG: '' } }, (error, stdout) => {
      done({ code: error ? Number(error.code) : 0, report: JSON.parse(stdout) as Record<string, string[]> });
    });
  });
  const slot = (start: number) => JSON.stringify({
    preparing: { start, end: start }, available: { start, end: start + 10 * MINUTE, latestStart: start }, releasing: { start: start + 10 * MINUTE, end: start + 10 * MINUTE }, cores: 1, memoryGiB: 1,
  });

  it('exits 0 when nothing is stuck, and 1 naming a session past its schedule, a stop that never ran and a hold whose session ended', async () => {
    const now = Date.now();
    await redis.hset(keys.session('done'), { phase: 'COMPLETED', site: 'demo', modified: now, expires: now });
    expect(await audit()).toEqual({ code: 0, report: { holds: 0, overbookings: [], leakedHolds: [], missingHolds: [], calendarMismatches: [], shareMismatches: [], stuckSessions: [] } });

    // On time (not named): waiting for a preparation that starts in ten minutes.
    await redis.hset(keys.session('on-time'), { phase: 'WAITING', site: 'demo', modified: now, expires: now, slot: slot(now + 10 * MINUTE) });

    await redis.hset(keys.session('waiting-late'), { phase: 'WAITING', site: 'demo', modified: now - 20 * MINUTE, expires: now, slot: slot(now - 10 * MINUTE) });
    await redis.hset(keys.session('running-late'), { phase: 'RUNNING', site: 'demo', modified: now - 30 * MINUTE, expires: now, slot: slot(now - 30 * MINUTE) });
    await redis.hset(keys.session('never-stopped'), { phase: 'CANCELLED', site: 'demo', modified: now - 5 * MINUTE, expires: now, next: 'stop 1' });
    await redis.zadd(keys.due('demo'), now - 5 * MINUTE, 'never-stopped');
    await redis.hset(keys.session('ended'), { phase: 'COMPLETED', site: 'demo', modified: now - 5 * MINUTE, expires: now });
    await redis.hset(keys.hold('ended'), { site: 'demo', from: 1, to: 2, 'r:cores': 1 });
    const { code, report } = await audit();
    expect(code).toBe(1);
    expect(report.stuckSessions).toEqual(expect.arrayContaining([
      expect.stringMatching(/^waiting-late \(WAITING since .*, should have moved on by /),
      expect.stringMatching(/^running-late \(RUNNING since .*, should have moved on by /),
      expect.stringMatching(/^never-stopped \(CANCELLED since .*, its stop step due at .* never ran\)$/),
    ]));
    expect(report.stuckSessions).toHaveLength(3);
    expect(report.leakedHolds).toEqual(['ended (COMPLETED)']);
  }, 30_000);
});
