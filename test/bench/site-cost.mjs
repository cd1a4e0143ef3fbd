// What one more site costs a negotiation, in CPU rather than time (the machine is shared and noisy,
// CPU per request much less so). Run after `npm run build`: `node test/bench/site-cost.mjs`.
//
// Starts its own redis-server (from PATH) on a free port, so that Redis's CPU is ours alone, then:
//   1. the floor of one BullMQ job: add, a worker with an empty processor, completion, no broker code;
//   2. the broker (test/bench/server.mjs, as `npm start` runs it) with 1 site and with 5 sites, every
//      request asking all of them: CPU per request of Redis, the server and the load generator.
// From 2: fixed cost F and cost per site S (sites-1 = F + S, sites-5 = F + 5S). The 5/1 throughput
// ratio on a CPU-bound machine is about (F + S) / (F + 5S); with S no lower than the BullMQ floor,
// (F + floor) / (F + 5 floor) is the best any per-site code could do with one job per site.
// Environment: SITE_COST_SECONDS (default 5).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { jsonBody } from './bodies.mjs';
import { processCpuMs, redisCpuMs } from './cpu-usage.mjs';
import { runLoad } from './load.mjs';
import { startServer } from './server-process.mjs';

const SECONDS = Number(process.env.SITE_COST_SECONDS || 5);

const freePort = () => new Promise((resolve, reject) => {
  const server = createServer();
  server.listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)); });
  server.on('error', reject);
});

const port = await freePort();
const dir = mkdtempSync(join(tmpdir(), 'eb-site-cost-'));
const redisServer = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
const redisUrl = `redis://127.0.0.1:${port}`;
const info = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0 });
info.on('error', () => undefined); // refused while redis-server starts: retried below
for (let attempt = 0; ; attempt += 1) {
  try { await info.connect(); break; } catch (error) {
    if (attempt > 50) throw error;
    info.disconnect();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** One BullMQ job's round trip with nothing of ours in it: CPU of this process and of Redis per job. */
async function bullmqFloor() {
  const producer = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const consumer = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const prefix = 'site-cost';
  const queue = new Queue('floor', { connection: producer, prefix });
  const worker = new Worker('floor', async (job) => ({ site: 'demo', jobId: job.id, offers: [] }), { connection: consumer, prefix, concurrency: 64 });
  await worker.waitUntilReady();
  const waiting = new Map();
  worker.on('completed', (job) => { waiting.get(job.id)?.(); waiting.delete(job.id); });
  // About the size of a real negotiation job's data, with its options (queue-names.ts negotiationJobOptions()).
  const data = { offerSetUuid: 'o', site: 'demo', needs: { cores: { min: 1, max: 1 }, memory: { min: 1, max: 1 }, durationMs: 600_000, window: { start: 1 } }, offerIds: ['a', 'b', 'c', 'd'], now: 1, answerBy: 2, expiresAt: 3, maxOffers: 4, replyTo: 'eb:negotiation-replies:x' };
  let next = 0;
  let done = 0;
  const drive = async (ms) => {
    const end = Date.now() + ms;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (Date.now() < end) {
        const id = `job-${next++}`;
        const finished = new Promise((resolve) => waiting.set(id, resolve));
        await queue.add('negotiate', data, { jobId: id, attempts: 1, removeOnComplete: true, removeOnFail: true });
        await finished;
        done += 1;
      }
    }));
  };
  await drive(1000);
  done = 0;
  const redis0 = await redisCpuMs(info);
  const node0 = process.cpuUsage();
  await drive(SECONDS * 1000);
  const node = process.cpuUsage(node0);
  const redis = await redisCpuMs(info) - redis0;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  producer.disconnect();
  consumer.disconnect();
  return { jobs: done, node: (node.user + node.system) / done, redis: (redis * 1e3) / done };
}

async function brokerCost(sites) {
  const server = startServer({ env: { BENCH_SITES: String(sites), REDIS_URL: redisUrl } });
  const { port: httpPort, pid } = await server.ready;
  const target = { host: '127.0.0.1', port: httpPort, path: '/requests', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: jsonBody };
  const check = (answer) => (answer.status === 303 && answer.body.includes('"result":"YES"') ? undefined : `status ${answer.status}`);
  try {
    await runLoad({ target, concurrency: 32, warmupMs: 0, durationMs: 1500, check });
    const redis0 = await redisCpuMs(info);
    const server0 = processCpuMs(pid);
    const loader0 = process.cpuUsage();
    const result = await runLoad({ target, concurrency: 32, warmupMs: 0, durationMs: SECONDS * 1000, check });
    const loader = process.cpuUsage(loader0);
    if (result.errors) throw new Error(`${sites} sites: ${result.errors} failed requests`);
    const n = result.requests;
    const row = {
      sites, requests: n, rps: n / SECONDS,
      redis: ((await redisCpuMs(info) - redis0) * 1e3) / n,
      server: ((processCpuMs(pid) - server0) * 1e3) / n,
      loader: (loader.user + loader.system) / n,
    };
    row.total = row.redis + row.server + row.loader;
    return row;
  } finally {
    await server.stop();
  }
}

const us = (value) => `${value.toFixed(0).padStart(5)} us`;
try {
  const floor = await bullmqFloor();
  const floorTotal = floor.node + floor.redis;
  console.log(`BullMQ floor: ${floor.jobs} jobs; per job node ${us(floor.node)}, redis ${us(floor.redis)}, total ${us(floorTotal)}`);
  const rows = [];
  for (const sites of [1, 5, 1, 5]) {
    const row = await brokerCost(sites);
    rows.push(row);
    console.log(`sites-${sites}: ${row.rps.toFixed(0).padStart(5)} rps; CPU per request: redis ${us(row.redis)}, server ${us(row.server)}, load generator ${us(row.loader)}, total ${us(row.total)}`);
  }
  const mean = (sites, key) => rows.filter((r) => r.sites === sites).reduce((sum, r) => sum + r[key], 0) / 2;
  const perSite = (mean(5, 'total') - mean(1, 'total')) / 4;
  const fixed = mean(1, 'total') - perSite;
  console.log(`\nper request: fixed ${us(fixed)}, per site ${us(perSite)} (of which Redis ${us((mean(5, 'redis') - mean(1, 'redis')) / 4)})`);
  console.log(`5/1 sites: throughput ${(mean(5, 'rps') / mean(1, 'rps')).toFixed(3)}, CPU (F + S) / (F + 5S) ${((fixed + perSite) / (fixed + 5 * perSite)).toFixed(3)}`);
  console.log(`ceiling with every site costing only the BullMQ floor: ${((fixed + floorTotal) / (fixed + 5 * floorTotal)).toFixed(3)}`);
} finally {
  await info.quit().catch(() => info.disconnect());
  redisServer.kill('SIGTERM');
  await new Promise((resolve) => redisServer.on('exit', resolve));
  rmSync(dir, { recursive: true, force: true });
}
