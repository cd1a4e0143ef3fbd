// The offer path (POST /requests, JSON) on two Node.js versions in one run: the bench server under
// the machine's Node and under another (default 24, from the npm registry by .ci/install-node),
// measured in turns, A B A B ..., so that the machine's changing load falls on both alike. The
// load generator is this process for both. Prints, per version, the median over the rounds of
// throughput at BENCH_CONCURRENCY, of the server's CPU time per request (the steadier figure on a
// shared machine), and of p50 latency at c=1, then each as a ratio other/machine.
//
//   npm run build && node test/bench/node-versions.mjs [VERSION]
//
// Environment: BENCH_ROUNDS (default 3), BENCH_SECONDS (default 4), BENCH_WARMUP_SECONDS (default
// 1), BENCH_CONCURRENCY (default 32), REDIS_URL (default redis://127.0.0.1:6379).
// Exit status: 0 when every request was answered as expected; 1 otherwise (a measurement, not a test).
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jsonBody } from './bodies.mjs';
import { processCpuMs } from './cpu-usage.mjs';
import { runLoad } from './load.mjs';
import { startServer } from './server-process.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const env = (name, fallback) => Number(process.env[name] || fallback);
const ROUNDS = env('BENCH_ROUNDS', 3);
const SECONDS = env('BENCH_SECONDS', 4);
const WARMUP_SECONDS = env('BENCH_WARMUP_SECONDS', 1);
const CONCURRENCY = env('BENCH_CONCURRENCY', 32);
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

const other = process.argv[2] || '24';
const otherBin = execFileSync(join(here, '../../.ci/install-node'), [other], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
const nodes = [
  { label: `machine ${process.version}`, path: process.execPath },
  { label: `${execFileSync(join(otherBin, 'node'), ['--version'], { encoding: 'utf8' }).trim()}`, path: join(otherBin, 'node') },
];

const check = (answer) => (answer.status === 303 && answer.body.includes('"result":"YES"') ? undefined : `status ${answer.status}: ${answer.body.slice(0, 200)}`);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function measure(server, concurrency) {
  const cpu = {};
  const result = await runLoad({
    target: { host: '127.0.0.1', port: server.port, method: 'POST', path: '/requests', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: jsonBody },
    concurrency, warmupMs: WARMUP_SECONDS * 1000, durationMs: SECONDS * 1000, check,
    onWindow: (edge) => { cpu[edge] = processCpuMs(server.pid); },
  });
  return { ...result, cpuMsPerRequest: result.requests ? (cpu.end - cpu.start) / result.requests : NaN };
}

const servers = nodes.map((node) => ({ ...node, process: startServer({ env: { REDIS_URL: redisUrl }, node: node.path }), rounds: [] }));
let errors = 0;
try {
  for (const server of servers) Object.assign(server, await server.process.ready);
  console.log(`offer path on ${servers.map((s) => s.label).join(' and ')}: ${ROUNDS} round(s) of ${WARMUP_SECONDS} + ${SECONDS} s at c=${CONCURRENCY} and at c=1 each, in turns`);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const server of servers) {
      const busy = await measure(server, CONCURRENCY);
      const single = await measure(server, 1);
      errors += busy.errors + single.errors;
      server.rounds.push({ rps: busy.rps, cpuMsPerRequest: busy.cpuMsPerRequest, p50: single.p50 });
      console.log(`  round ${round} ${server.label.padEnd(17)} ${busy.rps.toFixed(0).padStart(5)} rps  ${busy.cpuMsPerRequest.toFixed(3)} cpu ms/req  p50 at c=1 ${single.p50.toFixed(2)} ms${busy.errors + single.errors ? `  ERRORS ${busy.errors + single.errors}` : ''}`);
    }
  }
} finally {
  await Promise.all(servers.map((server) => server.process.stop()));
}
const [machine, candidate] = servers.map((server) => ({
  label: server.label,
  rps: median(server.rounds.map((r) => r.rps)),
  cpu: median(server.rounds.map((r) => r.cpuMsPerRequest)),
  p50: median(server.rounds.map((r) => r.p50)),
}));
for (const s of [machine, candidate]) console.log(`median ${s.label.padEnd(17)} ${s.rps.toFixed(0).padStart(5)} rps  ${s.cpu.toFixed(3)} cpu ms/req  p50 at c=1 ${s.p50.toFixed(2)} ms`);
console.log(`${candidate.label} / ${machine.label}: throughput ${(candidate.rps / machine.rps).toFixed(3)} (higher is better), server CPU per request ${(candidate.cpu / machine.cpu).toFixed(3)}, p50 at c=1 ${(candidate.p50 / machine.p50).toFixed(3)} (lower is better)`);
if (errors) console.error(`BENCH INVALID: ${errors} request(s) failed`);
process.exit(errors ? 1 : 0);
