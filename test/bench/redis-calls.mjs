// Where an offer's Redis time goes: runs test/bench/server.mjs (as `npm start` runs it, on a
// private key prefix), sends N JSON offer requests (C at a time), and prints per offer the calls
// and time of each Redis command (INFO commandstats: commands a Lua script runs count too), and of
// each script by name (SLOWLOG with every command logged; BullMQ's scripts by their key). Also Redis
// CPU per offer (INFO cpu). Use a Redis of your own: it changes slowlog settings for the run.
// Run after `npm run build`: REDIS_URL=... node test/bench/redis-calls.mjs [N=300] [sites=1]
// Environment: C (requests in flight, default 1).
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import * as calendarScripts from '../../dist/store/calendar-lua.js';
import * as brokerScripts from '../../dist/store/lua-scripts.js';
import { jsonBody } from './bodies.mjs';
import { redisCpuMs } from './cpu-usage.mjs';
import { send } from './load.mjs';
import { startServer } from './server-process.mjs';

const N = Number(process.argv[2] || 300);
const sites = process.argv[3] || '1';
const C = Number(process.env.C || 1);
const url = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const scriptNames = new Map(Object.entries({ ...calendarScripts, ...brokerScripts })
  .filter(([, text]) => typeof text === 'string')
  .map(([name, text]) => [createHash('sha1').update(text).digest('hex'), name]));

const server = startServer({ env: { REDIS_URL: url, BENCH_SITES: sites } });
const { port } = await server.ready;
const redis = new Redis(url, { connectionName: 'eb-bench-redis-calls' });
const target = { host: '127.0.0.1', port, method: 'POST', path: '/requests', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: jsonBody };
const offer = async () => {
  const answer = await send(undefined, target, 10_000);
  if (answer.status !== 303) throw new Error(`status ${answer.status}: ${answer.body.slice(0, 200)}`);
};
for (let i = 0; i < 20; i++) await offer();
await new Promise((resolve) => setTimeout(resolve, 500));

const commandstats = async () => {
  const text = await redis.info('commandstats');
  return Object.fromEntries([...text.matchAll(/cmdstat_(\S+):calls=(\d+),usec=(\d+)/g)].map((m) => [m[1], { calls: Number(m[2]), usec: Number(m[3]) }]));
};
const [slower, maxLen] = [(await redis.config('GET', 'slowlog-log-slower-than'))[1], (await redis.config('GET', 'slowlog-max-len'))[1]];
await redis.config('SET', 'slowlog-log-slower-than', '0');
await redis.config('SET', 'slowlog-max-len', '1000000');
await redis.slowlog('RESET');
const before = await commandstats();
const cpuBefore = await redisCpuMs(redis);
let next = 0;
await Promise.all(Array.from({ length: C }, async () => { while (next++ < N) await offer(); }));
await new Promise((resolve) => setTimeout(resolve, 300));
const cpuAfter = await redisCpuMs(redis);
const after = await commandstats();
const slowlog = await redis.slowlog('GET', 1_000_000);
await redis.config('SET', 'slowlog-log-slower-than', slower);
await redis.config('SET', 'slowlog-max-len', maxLen);

let calls = 0;
let usec = 0;
const rows = [];
for (const [name, value] of Object.entries(after)) {
  const delta = { calls: value.calls - (before[name]?.calls ?? 0), usec: value.usec - (before[name]?.usec ?? 0) };
  if (!delta.calls) continue;
  rows.push([name, delta.calls / N, delta.usec / N]);
  calls += delta.calls;
  usec += delta.usec;
}
rows.sort((a, b) => b[2] - a[2]);
console.log(`${N} JSON offers, ${sites} site(s), ${C} at a time; per offer:`);
for (const [name, perOffer, us] of rows) console.log(`  ${name.padEnd(24)} ${perOffer.toFixed(2).padStart(7)} calls ${us.toFixed(1).padStart(8)} us`);
console.log(`  total: ${(calls / N).toFixed(1)} calls, ${(usec / N).toFixed(0)} us (commandstats); Redis CPU ${((cpuAfter - cpuBefore) / N).toFixed(3)} ms`);
const scripts = {};
for (const entry of slowlog) {
  const args = entry[3].map(String);
  if (args[0].toLowerCase() !== 'evalsha') continue;
  const name = scriptNames.get(args[1]) ?? `BullMQ ${args[1].slice(0, 8)} (${(args[3] ?? '').split(':').slice(-2).join(':').slice(0, 24)})`;
  scripts[name] ??= { count: 0, usec: 0 };
  scripts[name].count += 1;
  scripts[name].usec += entry[2];
}
console.log('scripts (SLOWLOG, wall time inside Redis):');
for (const [name, s] of Object.entries(scripts).sort((a, b) => b[1].usec - a[1].usec)) {
  console.log(`  ${name.padEnd(40)} ${(s.count / N).toFixed(2).padStart(6)} per offer, ${(s.usec / s.count).toFixed(1).padStart(7)} us each`);
}
await server.stop();
await redis.quit();
