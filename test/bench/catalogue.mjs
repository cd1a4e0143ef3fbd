// The catalogue's cost (`node test/bench/catalogue.mjs` after `npm run build`, with REDIS_URL): one
// site's calendar holding BENCH_HOLDS holds (default 2000) over a week, on cores, memory and one
// GPU model, read by the outlook script GET /sites calls per site, for 0, 24 and 168 hours. Prints
// the time inside Redis per call (INFO commandstats) and the round trip. Not part of `npm run bench`.
import { Redis } from 'ioredis';
import { RedisCapacityLedger } from '../../dist/store/redis-capacity-ledger.js';
import { redisKeys } from '../../dist/store/redis-keys.js';

const HOLDS = Number(process.env.BENCH_HOLDS || 2000);
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const keys = redisKeys(`bench-catalogue-${process.pid}`);
const ledger = new RedisCapacityLedger(redis, keys);
const site = { name: 'b', cores: 100_000, memoryGiB: 1e7, scratchGiB: 1e7, gpus: { A100: 1000 } };
const now = Math.floor(Date.now() / 60_000);
try {
  for (let i = 0; i < HOLDS; i++) {
    const earliest = now + Math.floor(Math.random() * 7 * 24 * 60);
    await ledger.findAndHold(site, { id: `h${i}`, amounts: { cores: 1 + (i % 8), memory: 2, 'gpu:A100': i % 3 }, earliest, latest: earliest, length: 10 + (i % 300) }, 0, 1);
  }
  const inRedis = async () => {
    const match = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(await redis.info('commandstats'));
    return match ? Number(match[2]) / Number(match[1]) / 1000 : NaN;
  };
  for (const hours of [0, 24, 168]) {
    await redis.config('RESETSTAT');
    const calls = 50;
    const started = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) await ledger.outlook(site.name, ['cores', 'memory', 'gpu:A100'], now, 60, hours);
    const roundTrip = Number(process.hrtime.bigint() - started) / 1e6 / calls;
    console.log(`hours=${hours}: ${(await inRedis()).toFixed(2)} ms in Redis per site, ${roundTrip.toFixed(2)} ms round trip (${HOLDS} holds over a week, 3 resources)`);
  }
} finally {
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${keys.prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (found.length) await redis.unlink(...found);
  } while (cursor !== '0');
  await redis.quit();
}
