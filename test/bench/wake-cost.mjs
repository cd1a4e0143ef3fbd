// What this machine charges a process for work that arrives while it is idle: a trivial HTTP
// server (it reads a small body and answers 2 KB of JSON) in a child process, its CPU per request
// at a paced rate and flat out at concurrency 32. No broker code is involved, so the ratio
// between the two is the machine's (waking an idle process, cold caches), not ours. capacity.mjs
// prints it beside the apart rows, whose API processes run at very different rates.
// Alone: `node test/bench/wake-cost.mjs`.
import { fork } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { processCpuMs } from './cpu-usage.mjs';
import { runLoad } from './load.mjs';

function serve() {
  const answer = { offers: 'x'.repeat(2000) };
  const server = http.createServer((request, response) => {
    let bytes = 0;
    request.on('data', (chunk) => { bytes += chunk.length; });
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ bytes, ...answer }));
    });
  });
  server.listen(0, '127.0.0.1', () => process.send?.(server.address().port));
}

/** The server's CPU per request (us) at `rate` requests a second (0: flat out), 32 in flight at most, for `seconds`. */
async function cpuPerRequest(port, pid, rate, seconds) {
  const target = { host: '127.0.0.1', port, path: '/', headers: { 'Content-Type': 'application/json' }, body: '{"executable":"x"}' };
  const samples = {};
  const result = await runLoad({
    target, concurrency: 32, warmupMs: 1000, durationMs: seconds * 1000, ratePerSecond: rate,
    check: (answer) => (answer.status === 200 ? undefined : `status ${answer.status}`),
    onWindow: (edge) => { samples[edge] = processCpuMs(pid); },
  });
  if (result.errors) throw new Error(`wake cost: ${result.errors} failed requests: ${result.errorReasons.map((r) => r.reason).join('; ')}`);
  return ((samples.end - samples.start) * 1000) / result.requests;
}

/** { pacedRate, pacedUs, flatOutUs, ratio }: a trivial server's CPU per request paced and flat out. */
export async function measureWakeCost({ pacedRate = 100, seconds = 4 } = {}) {
  const child = fork(fileURLToPath(import.meta.url), ['serve'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  try {
    const port = await new Promise((resolve) => child.once('message', resolve));
    const pacedUs = await cpuPerRequest(port, child.pid, pacedRate, seconds);
    const flatOutUs = await cpuPerRequest(port, child.pid, 0, seconds);
    return { pacedRate, pacedUs, flatOutUs, ratio: pacedUs / flatOutUs };
  } finally {
    child.kill();
  }
}

if (process.argv[2] === 'serve') serve();
else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const cost = await measureWakeCost();
  console.log(`a trivial HTTP server's CPU per request: ${cost.pacedUs.toFixed(0)} us at ${cost.pacedRate}/s, ${cost.flatOutUs.toFixed(0)} us flat out (${cost.ratio.toFixed(1)}x)`);
}
