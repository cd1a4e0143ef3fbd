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

function serve() {
  const answer = JSON.stringify({ offers: 'x'.repeat(2000) });
  const server = http.createServer((request, response) => {
    let bytes = 0;
    request.on('data', (chunk) => { bytes += chunk.length; });
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ bytes, ...JSON.parse(answer) }));
    });
  });
  server.listen(0, '127.0.0.1', () => process.send?.(server.address().port));
}

/** The server's CPU per request (us) at `rate` requests a second (0: flat out, 32 in flight) for `seconds`. */
async function cpuPerRequest(port, pid, rate, seconds) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const post = () => new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent, headers: { 'content-type': 'application/json' } }, (response) => {
      response.resume();
      response.on('end', resolve);
    });
    request.on('error', reject);
    request.end('{"executable":"x"}');
  });
  await Promise.all(Array.from({ length: 200 }, post)); // warm up
  const before = processCpuMs(pid);
  const started = Date.now();
  const end = started + seconds * 1000;
  let count = 0;
  if (rate > 0) {
    const sent = [];
    while (Date.now() < end) {
      const due = Math.floor(((Date.now() - started) / 1000) * rate);
      while (count < due) { count += 1; sent.push(post()); }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await Promise.all(sent);
  } else {
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (Date.now() < end) { await post(); count += 1; }
    }));
  }
  const usedMs = processCpuMs(pid) - before;
  agent.destroy();
  return (usedMs * 1000) / count;
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
