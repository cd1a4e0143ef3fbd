// The benchmark's server: the broker as `npm start` runs it (API, site worker, timers in one
// process), on a private key prefix and one huge site, plus a baseline route in the same app.
// Started by run.mjs as a child process so that the load generator has its own event loop.
//
// stdout: one JSON line {"port", "prefix", "pid"} once listening.
// SIGTERM (or a "stop" line / closed stdin): closes, deletes every key of its prefix, exits 0.
import { randomBytes, randomUUID } from 'node:crypto';
import express from 'express';
import { Redis } from 'ioredis';
import { loadConfig } from '../../dist/config/load-config.js';
import { startBrokerRuntime } from '../../dist/main/broker-runtime.js';
import { BUCKET_MS } from '../../dist/domain/capacity-calendar.js';
import { RedisCapacityLedger } from '../../dist/store/redis-capacity-ledger.js';
import { redisKeys } from '../../dist/store/redis-keys.js';

const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const prefix = `bench-${randomBytes(6).toString('hex')}`;
// NOTIFY_EGRESS_ALLOW: the webhook bench's receiver runs on this machine.
const base = loadConfig({ REDIS_URL: redisUrl, EB_KEY_PREFIX: prefix, ...(process.env.NOTIFY_EGRESS_ALLOW ? { NOTIFY_EGRESS_ALLOW: process.env.NOTIFY_EGRESS_ALLOW } : {}) });
// Sites so big that holds never fill them, whatever the run's length. BENCH_SITES makes several.
const siteCount = Number(process.env.BENCH_SITES || 1);
const config = {
  ...base,
  sites: Array.from({ length: siteCount }, (_, i) => ({
    ...base.sites[0], name: siteCount === 1 ? 'demo' : `demo${i}`, cores: 1e9, memoryGiB: 1e9,
    // Plain processes whatever the machine has: the lifecycle bench measures the broker, not a runtime.
    executor: { type: 'local', containerRuntime: 'none' },
    // BENCH_PREPARATION_MS: the site's base preparation time (the lifecycle bench wants none).
    ...(process.env.BENCH_PREPARATION_MS ? { preparationMs: Number(process.env.BENCH_PREPARATION_MS), releasingMs: 0 } : {}),
  })),
};

const redis = new Redis(redisUrl, { connectionName: 'eb-bench-baseline' });

// The baseline: what any route must do at least — read the same body, parse it, write one hash.
const extraRoutes = express.Router();
extraRoutes.post('/bench/baseline', express.raw({ type: () => true, limit: config.bodyLimitBytes }), async (req, res, next) => {
  try {
    const document = JSON.parse(req.body.toString('utf8'));
    const id = randomUUID();
    await redis.hset(`${prefix}:bench:${id}`, {
      created: Date.now(),
      kind: String(document?.executable?.kind ?? ''),
      cores: String(document?.compute?.cores?.max ?? ''),
      bytes: req.body.length,
    });
    res.status(200).json({ ok: true, id });
  } catch (error) {
    next(error);
  }
});

// BENCH_RESERVATIONS: real holds put on the first site's calendar before the run, spread over its
// booking horizon, so that offers are planned on a calendar that full.
const reservations = Number(process.env.BENCH_RESERVATIONS || 0);
if (reservations > 0) {
  const ledger = new RedisCapacityLedger(redis, redisKeys(prefix));
  const site = config.sites[0];
  const now = Math.floor(Date.now() / BUCKET_MS);
  const horizon = Math.floor(site.horizonMs / BUCKET_MS);
  let seed = 42;
  const next = () => { seed = (seed * 1664525 + 1013904223) >>> 0; return seed / 2 ** 32; };
  for (let done = 0; done < reservations;) {
    const batch = [];
    for (let i = 0; i < 2000 && done < reservations; i++, done++) {
      const start = now + Math.floor(next() * horizon);
      batch.push(ledger.findAndHold(site, { id: `preload-${done}`, amounts: { cores: 1 + Math.floor(next() * 8), memory: 1 }, earliest: start, latest: start, length: 10 + Math.floor(next() * 110) }, 0, 1));
    }
    await Promise.all(batch);
  }
}

const runtime = await startBrokerRuntime(config, { api: true, siteWorkers: true, timers: true, notify: true, extraRoutes });
const server = await new Promise((ready, fail) => {
  const s = runtime.app.listen(0, '127.0.0.1', () => ready(s));
  s.on('error', fail);
});
server.keepAliveTimeout = 30_000;
process.stdout.write(`${JSON.stringify({ port: server.address().port, prefix, pid: process.pid })}\n`);

async function deleteKeys() {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

let stopping = false;
async function stop(signal) {
  if (stopping) return;
  stopping = true;
  const watchdog = setTimeout(() => { console.error(`bench server: shutdown took too long (${signal})`); process.exit(2); }, 20_000);
  let code = 0;
  try {
    await new Promise((done) => { server.close(done); server.closeIdleConnections?.(); });
    await runtime.close();
    const deleted = await deleteKeys();
    console.error(`bench server: stopped on ${signal}, deleted ${deleted} keys under ${prefix}:*`);
  } catch (error) {
    console.error(`bench server: error while stopping: ${error?.stack ?? error}`);
    code = 1;
  } finally {
    await redis.quit().catch(() => redis.disconnect());
    clearTimeout(watchdog);
  }
  // A normal exit, so that --cpu-prof writes its profile.
  process.exit(code);
}
process.on('SIGTERM', () => { void stop('SIGTERM'); });
process.on('SIGINT', () => { void stop('SIGINT'); });
process.stdin.on('data', (chunk) => { if (String(chunk).includes('stop')) void stop('stop'); });
process.stdin.on('end', () => { void stop('stdin closed'); });
