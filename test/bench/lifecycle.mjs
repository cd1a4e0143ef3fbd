// The lifecycle benchmark (part of `npm run bench`): how punctually sessions change phase.
//   punctuality: 100 sessions accepted for starts 2-10 s ahead; the lateness of RUNNING against
//                each one's `available.start` (target p99 < 1 s);
//   start-now:   20 sessions accepted for an immediate start; accept -> RUNNING (target < 250 ms
//                plus the executor's own start time, reported beside it).
// The times are the ones the broker writes into each session's messages.
import http from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './server-process.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const V1 = 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds';

function call(port, method, path, body) {
  return new Promise((resolve, reject) => {
    const data = body ? Buffer.from(JSON.stringify(body)) : undefined;
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

async function acceptSession(port, startAt) {
  const body = {
    executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/bin/sh', command: ['-c', 'true'] },
    compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 } },
    schedule: { requested: { start: `${new Date(startAt).toISOString()}/PT5S`, duration: 'PT1M' } },
  };
  const set = await call(port, 'POST', '/requests', body);
  const uuid = set.body.offers[0].meta.uuid;
  const accepted = await call(port, 'POST', `/sessions/${uuid}`, { kind: 'uri:enum-value-update', path: '/phase', value: 'ACCEPTED' });
  if (accepted.status !== 200) throw new Error(`accept answered ${accepted.status}`);
  return uuid;
}

async function finished(port, uuids) {
  const end = Date.now() + 60_000;
  for (;;) {
    const sessions = await Promise.all(uuids.map(async (uuid) => (await call(port, 'GET', `/sessions/${uuid}`)).body));
    if (sessions.every((s) => ['COMPLETED', 'FAILED'].includes(s.phase))) return sessions;
    if (Date.now() > end) throw new Error('sessions did not finish within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
}

const timeOf = (session, text) => Date.parse(session.meta.messages.find((m) => m.message.startsWith(text))?.time ?? 'NaN');
const percentile = (values, p) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(p * values.length))];

const server = startServer({ env: { BENCH_PREPARATION_MS: '0' } });
const { port } = await server.ready;
try {
  const now = Date.now();
  const punctual = await Promise.all(Array.from({ length: 100 }, (_, i) => acceptSession(port, now + 2000 + (i % 9) * 1000)));
  const startNow = [];
  for (let i = 0; i < 20; i++) startNow.push(await acceptSession(port, Date.now()));
  const late = (await finished(port, punctual)).map((s) => timeOf(s, 'Running on site') - Date.parse(s.schedule.available.start.split('/')[0]));
  const quick = (await finished(port, startNow)).map((s) => timeOf(s, 'Running on site') - timeOf(s, 'Offer accepted'));
  const result = {
    date: new Date().toISOString(),
    lateness: { sessions: late.length, p50: percentile(late, 0.5), p99: percentile(late, 0.99), max: Math.max(...late) },
    acceptToRunning: { sessions: quick.length, p50: percentile(quick, 0.5), p99: percentile(quick, 0.99) },
  };
  console.log('lifecycle:');
  console.log(`  RUNNING after available.start: p50 ${result.lateness.p50} ms, p99 ${result.lateness.p99} ms, max ${result.lateness.max} ms over ${late.length} sessions`);
  console.log(`  accept -> RUNNING (start now):   p50 ${result.acceptToRunning.p50} ms, p99 ${result.acceptToRunning.p99} ms over ${quick.length} sessions (includes starting the process)`);
  console.log(`  ${result.lateness.p99 < 1000 ? 'PASS' : 'FAIL'}  phase changes within 1 s of schedule (p99)`);
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', 'lifecycle.json'), `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await server.stop();
}
