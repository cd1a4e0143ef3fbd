// A closed-loop load generator: `concurrency` requests in flight at all times over keep-alive
// connections, for a warm-up and then a measured window. A request counts in the window when it
// completes inside it; its latency is measured from just before it is written to its last byte.
import http from 'node:http';

const NS_PER_MS = 1_000_000n;

/** One request; resolves to {status, headers, body} or rejects on a socket error or timeout. */
function send(agent, target, timeoutMs) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      agent,
      host: target.host,
      port: target.port,
      method: target.method ?? 'POST',
      path: target.path,
      headers: { ...target.headers, 'Content-Length': target.body.length },
    }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(target.body);
  });
}

export { send };

/**
 * Runs one scenario. `check(answer)` returns undefined when the answer is good, or a short reason.
 * `ratePerSecond` caps the rate: each request waits for its turn on a schedule of that many a
 * second (still at most `concurrency` in flight), to compare two setups at the same load.
 * Returns counts, latencies (ms, sorted) and the first few error reasons.
 */
export async function runLoad({ target, concurrency, warmupMs, durationMs, check, timeoutMs = 10_000, onWindow, ratePerSecond = 0 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const t0 = process.hrtime.bigint();
  const windowStart = t0 + BigInt(Math.round(warmupMs)) * NS_PER_MS;
  const windowEnd = windowStart + BigInt(Math.round(durationMs)) * NS_PER_MS;
  const latencies = [];
  const reasons = new Map();
  let errors = 0;
  let warmupRequests = 0;
  let windowOpened = false;
  let windowClosed = false;
  const windowTimer = setTimeout(() => { windowOpened = true; onWindow?.('start'); }, warmupMs);
  const closeTimer = setTimeout(() => { windowClosed = true; onWindow?.('end'); }, warmupMs + durationMs);

  const noteError = (reason) => {
    errors += 1;
    const key = String(reason).slice(0, 300);
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
  };

  const spacingNs = ratePerSecond > 0 ? BigInt(Math.round(1e9 / ratePerSecond)) : 0n;
  let nextTurn = t0;
  async function loop() {
    for (;;) {
      if (spacingNs) {
        const turn = nextTurn;
        nextTurn += spacingNs;
        const waitNs = turn - process.hrtime.bigint();
        if (waitNs > 0n) await new Promise((resolve) => setTimeout(resolve, Number(waitNs / NS_PER_MS)));
      }
      const started = process.hrtime.bigint();
      if (started >= windowEnd) return;
      let problem;
      try {
        const answer = await send(agent, target, timeoutMs);
        problem = check(answer);
      } catch (error) {
        problem = `request failed: ${error?.message ?? error}`;
      }
      const ended = process.hrtime.bigint();
      if (ended < windowStart) {
        warmupRequests += 1;
        if (problem) noteError(`(warm-up) ${problem}`);
        continue;
      }
      if (ended > windowEnd) return;
      if (problem) noteError(problem);
      else latencies.push(Number(ended - started) / 1e6);
    }
  }

  await Promise.all(Array.from({ length: concurrency }, loop));
  clearTimeout(windowTimer);
  clearTimeout(closeTimer);
  if (!windowOpened) onWindow?.('start');
  if (!windowClosed) onWindow?.('end');
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    warmupRequests,
    seconds: durationMs / 1000,
    rps: latencies.length / (durationMs / 1000),
    p50: percentile(latencies, 0.5),
    p90: percentile(latencies, 0.9),
    p99: percentile(latencies, 0.99),
    max: latencies.length ? latencies[latencies.length - 1] : NaN,
    mean: latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length : NaN,
    errorReasons: [...reasons.entries()].slice(0, 5).map(([reason, count]) => ({ reason, count })),
  };
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const rank = Math.ceil(p * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}
