// The planning benchmarks, run after run.mjs by `npm run bench` (or alone: `node test/bench/capacity.mjs`
// after `npm run build`). Each scenario gets its own server process (test/bench/server.mjs):
//   sparse:  one site holding 100 reservations;     dense: the same site holding 100,000;
//   sites-1: one site, throughput at concurrency 32; sites-5: five sites, every request asks all five
//   (each run twice, interleaved, and averaged).
// Reported as ratios within the run: dense/sparse offer latency (target <= 2), sites-5/sites-1
// throughput (target >= 0.5). Environment: BENCH_SECONDS (default 6), BENCH_DENSE (default 100000).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonBody } from './bodies.mjs';
import { runLoad } from './load.mjs';
import { startServer } from './server-process.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS || 6);
const DENSE = Number(process.env.BENCH_DENSE || 100_000);

const check = (answer) => {
  if (answer.status !== 303) return `status ${answer.status}: ${answer.body.slice(0, 200)}`;
  return answer.body.includes('"result":"YES"') ? undefined : `not YES: ${answer.body.slice(0, 300)}`;
};

async function scenario(name, env, concurrency) {
  const started = Date.now();
  const server = startServer({ env });
  const { port } = await server.ready;
  const preload = (Date.now() - started) / 1000;
  try {
    const result = await runLoad({
      target: { host: '127.0.0.1', port, path: '/requests', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: jsonBody },
      concurrency, warmupMs: 1500, durationMs: SECONDS * 1000, check,
    });
    if (result.errors) throw new Error(`${name}: ${result.errors} failed requests: ${result.errorReasons.map((r) => `${r.count}x ${r.reason}`).join('; ')}`);
    const row = { name, concurrency, requests: result.requests, rps: result.requests / SECONDS, p50: result.p50, p99: result.p99, startSeconds: preload };
    console.log(`  ${name.padEnd(8)} c=${String(concurrency).padEnd(3)} ${String(result.requests).padStart(6)} req ${row.rps.toFixed(0).padStart(6)} rps  p50 ${row.p50.toFixed(2)} ms  p99 ${row.p99.toFixed(2)} ms  (server ready after ${preload.toFixed(1)} s)`);
    return row;
  } finally {
    await server.stop();
  }
}

const rows = {};
console.log(`capacity benchmarks (${SECONDS} s each):`);
rows.sparse = await scenario('sparse', { BENCH_RESERVATIONS: '100' }, 1);
rows.dense = await scenario('dense', { BENCH_RESERVATIONS: String(DENSE) }, 1);
// One site and five, twice each and interleaved, so that drift on a shared machine cancels out.
const one = [await scenario('sites-1', { BENCH_SITES: '1' }, 32), await scenario('sites-5', { BENCH_SITES: '5' }, 32)];
const two = [await scenario('sites-1', { BENCH_SITES: '1' }, 32), await scenario('sites-5', { BENCH_SITES: '5' }, 32)];
const mean = (a, b) => ({ ...a, requests: a.requests + b.requests, rps: (a.rps + b.rps) / 2 });
rows.sites1 = mean(one[0], two[0]);
rows.sites5 = mean(one[1], two[1]);

const targets = [
  { name: `offer latency p50, ${DENSE} reservations / 100 <= 2`, value: rows.dense.p50 / rows.sparse.p50, pass: (v) => v <= 2 },
  { name: 'offer latency p99, dense / sparse (not a target)', value: rows.dense.p99 / rows.sparse.p99, pass: () => true },
  { name: 'throughput, 5 sites / 1 site >= 0.5', value: rows.sites5.rps / rows.sites1.rps, pass: (v) => v >= 0.5 },
];
console.log('\ntargets:');
for (const t of targets) console.log(`  ${t.pass(t.value) ? 'PASS' : 'FAIL'}  ${t.name.padEnd(48)} ${t.value.toFixed(3)}`);
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'capacity.json'), `${JSON.stringify({ date: new Date().toISOString(), seconds: SECONDS, rows, targets: targets.map(({ name, value }) => ({ name, value })) }, null, 2)}\n`);
