// The webhook benchmark (part of `npm run bench`): from a phase change to its webhook's arrival,
// the time from each change (the `time` the broker recorded with it, on this machine's clock) to
// the arrival of its webhook at a receiver in this process, as percentiles. Each arrival's
// signature is checked too (Standard Webhooks). Two cases:
//   scheduled: 100 sessions accepted for starts 2-10 s ahead (as the lifecycle bench does), each
//              subscribed (srcnet.notify) with the default events (AVAILABLE, RUNNING, the end);
//              target p99 < 1 s;
//   burst:     100 sessions requested and accepted at once, subscribed to every phase change: the
//              first events compete with the 200 requests that make them (reported, no target).
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './server-process.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const V1 = 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds';
const SESSIONS = Number(process.env.BENCH_WEBHOOK_SESSIONS || 100);
const EVENTS = ['ACCEPTED', 'WAITING', 'PREPARING', 'AVAILABLE', 'RUNNING', 'RELEASING', 'COMPLETED', 'FAILED', 'CANCELLED'];

function call(port, method, path, body) {
  return new Promise((resolve, reject) => {
    const data = body ? Buffer.from(JSON.stringify(body)) : undefined;
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

const secrets = new Map();
const arrivals = [];
let unverified = 0;
const receiver = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const at = Date.now();
    const body = Buffer.concat(chunks).toString('utf8');
    const payload = JSON.parse(body);
    const secret = secrets.get(payload.data.session) ?? '';
    const { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': signature = '' } = req.headers;
    const expected = createHmac('sha256', Buffer.from(secret.slice(6), 'base64')).update(`${id}.${ts}.${body}`).digest();
    const given = Buffer.from(signature.split(',')[1] ?? '', 'base64');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) unverified += 1;
    arrivals.push({ session: payload.data.session, phase: payload.data.phase, latency: at - Date.parse(payload.data.time) });
    res.writeHead(204).end();
  });
});
await new Promise((ready) => receiver.listen(0, '127.0.0.1', ready));
const target = `http://127.0.0.1:${receiver.address().port}/hook`;

const percentile = (values, p) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(p * values.length))];

function requestBody(events, startAt) {
  return {
    executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/bin/sh', command: ['-c', 'true'] },
    compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 } },
    schedule: { requested: { duration: 'PT1M', ...(startAt ? { start: `${new Date(startAt).toISOString()}/PT5S` } : {}) } },
    'srcnet.notify': [events ? { target, events } : target],
  };
}

async function runCase(port, name, events, startAt) {
  arrivals.length = 0;
  unverified = 0;
  const uuids = await Promise.all(Array.from({ length: SESSIONS }, async (_, i) => {
    const set = await call(port, 'POST', '/requests', requestBody(events, startAt?.(i)));
    if (set.status !== 303) throw new Error(`request answered ${set.status}: ${JSON.stringify(set.body).slice(0, 300)}`);
    const uuid = set.body.offers[0].meta.uuid;
    secrets.set(uuid, set.headers['webhook-secret']);
    const accepted = await call(port, 'POST', `/sessions/${uuid}`, { kind: 'uri:enum-value-update', path: '/phase', value: 'ACCEPTED' });
    if (accepted.status !== 200) throw new Error(`accept answered ${accepted.status}`);
    return uuid;
  }));
  const end = Date.now() + 90_000;
  const ended = () => uuids.every((uuid) => arrivals.some((a) => a.session === uuid && ['COMPLETED', 'FAILED'].includes(a.phase)));
  while (!ended()) {
    if (Date.now() > end) throw new Error('not every session\'s last webhook arrived within 90 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const latencies = arrivals.map((a) => a.latency);
  const phases = [...new Set(arrivals.map((a) => a.phase))];
  const result = {
    sessions: uuids.length,
    events: latencies.length,
    unverified,
    latencyMs: { p50: percentile(latencies, 0.5), p90: percentile(latencies, 0.9), p99: percentile(latencies, 0.99), max: Math.max(...latencies) },
    byPhase: Object.fromEntries(phases.map((phase) => {
      const list = arrivals.filter((a) => a.phase === phase).map((a) => a.latency);
      return [phase, { events: list.length, p50: percentile(list, 0.5), p99: percentile(list, 0.99) }];
    })),
  };
  console.log(`  ${name}: phase change -> webhook arrival: p50 ${result.latencyMs.p50} ms, p90 ${result.latencyMs.p90} ms, p99 ${result.latencyMs.p99} ms, max ${result.latencyMs.max} ms over ${result.events} events of ${result.sessions} sessions (${unverified} signatures that did not verify)`);
  console.log(`    by phase (p50/p99 ms): ${Object.entries(result.byPhase).map(([phase, v]) => `${phase} ${v.p50}/${v.p99}`).join(', ')}`);
  return result;
}

const server = startServer({ env: { BENCH_PREPARATION_MS: '0', NOTIFY_EGRESS_ALLOW: '127.0.0.1' } });
const { port } = await server.ready;
try {
  console.log('webhooks:');
  const now = Date.now();
  const scheduled = await runCase(port, 'scheduled', undefined, (i) => now + 2000 + (i % 9) * 1000);
  const burst = await runCase(port, 'burst', EVENTS);
  const pass = scheduled.latencyMs.p99 < 1000 && scheduled.unverified === 0 && burst.unverified === 0;
  console.log(`  ${pass ? 'PASS' : 'FAIL'}  webhooks within 1 s of the phase change (p99, scheduled), every signature verified`);
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', 'webhooks.json'), `${JSON.stringify({ date: new Date().toISOString(), scheduled, burst }, null, 2)}\n`);
  if (scheduled.unverified + burst.unverified > 0) process.exitCode = 1;
} finally {
  await server.stop();
  receiver.close();
}
