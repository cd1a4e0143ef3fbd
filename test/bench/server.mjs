// The benchmark's server: the broker as `npm start` runs it (API, site worker, timers in one
// process), on a private key prefix and one huge site, plus a baseline route in the same app.
// Started by run.mjs as a child process so that the load generator has its own event loop.
//
// stdout: one JSON line {"port", "prefix", "pid"} once listening.
// SIGTERM (or a "stop" line / closed stdin): closes, deletes every key of its prefix, exits 0.
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { Redis } from 'ioredis';
import { loadConfig } from '../../dist/config/load-config.js';
import { startBrokerRuntime } from '../../dist/main/broker-runtime.js';
import { BUCKET_MS } from '../../dist/domain/capacity-calendar.js';
import { RedisCapacityLedger } from '../../dist/store/redis-capacity-ledger.js';
import { redisKeys } from '../../dist/store/redis-keys.js';

const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
// BENCH_PREFIX: share one broker's keys between processes (capacity.mjs runs an API process and
// site worker processes apart: BENCH_PARTS=api, or BENCH_PARTS=worker with BENCH_WORKER_SITE).
const prefix = process.env.BENCH_PREFIX || `bench-${randomBytes(6).toString('hex')}`;
const partsName = process.env.BENCH_PARTS || 'all';
// NOTIFY_EGRESS_ALLOW: the webhook bench's receiver runs on this machine.
const base = loadConfig({ REDIS_URL: redisUrl, EB_KEY_PREFIX: prefix, ...(process.env.NOTIFY_EGRESS_ALLOW ? { NOTIFY_EGRESS_ALLOW: process.env.NOTIFY_EGRESS_ALLOW } : {}) });
// Sites so big that holds never fill them, whatever the run's length. BENCH_SITES makes several.
const siteCount = Number(process.env.BENCH_SITES || 1);
// Each site its own empty scratch directory: the demo site's shared one may hold hundreds of other
// runs' session directories, which each site worker would sweep at start (reading each session)
// while the load runs, five times over with five sites.
// Traversable by others: a sandboxed run's own uid must reach its session directory.
const scratch = mkdtempSync(join(tmpdir(), 'eb-bench-'));
chmodSync(scratch, 0o711);
const config = {
  ...base,
  sites: Array.from({ length: siteCount }, (_, i) => ({
    ...base.sites[0], name: siteCount === 1 ? 'demo' : `demo${i}`, cores: 1e9, memoryGiB: 1e9, scratchDir: join(scratch, `site${i}`),
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

const parts = {
  all: { api: true, siteWorkers: true, timers: true, notify: true, extraRoutes },
  api: { api: true, timers: true, notify: true, extraRoutes },
  worker: { siteWorkers: [process.env.BENCH_WORKER_SITE || config.sites[0].name] },
}[partsName];
if (!parts) throw new Error(`BENCH_PARTS must be all, api or worker, not ${partsName}`);
const runtime = await startBrokerRuntime(config, parts);
const server = runtime.app && await new Promise((ready, fail) => {
  const s = runtime.app.listen(0, '127.0.0.1', () => ready(s));
  s.on('error', fail);
});
if (server) server.keepAliveTimeout = 30_000;
process.stdout.write(`${JSON.stringify({ port: server ? server.address().port : null, prefix, pid: process.pid })}\n`);

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
    if (server) await new Promise((done) => { server.close(done); server.closeIdleConnections?.(); });
    await runtime.close();
    // A worker of a shared prefix leaves the keys to its API process.
    const deleted = partsName === 'worker' ? 0 : await deleteKeys();
    console.error(`bench server: stopped on ${signal}, deleted ${deleted} keys under ${prefix}:*`);
  } catch (error) {
    console.error(`bench server: error while stopping: ${error?.stack ?? error}`);
    code = 1;
  } finally {
    await redis.quit().catch(() => redis.disconnect());
    rmSync(scratch, { recursive: true, force: true });
    clearTimeout(watchdog);
  }
  // A normal exit, so that --cpu-prof writes its profile.
  process.exit(code);
}
process.on('SIGTERM', () => { void stop('SIGTERM'); });
process.on('SIGINT', () => { void stop('SIGINT'); });
process.stdin.on('data', (chunk) => { if (String(chunk).includes('stop')) void stop('stop'); });
process.stdin.on('end', () => { void stop('stdin closed'); });
