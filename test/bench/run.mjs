// `npm run bench`: offer requests per second and p50/p99 latency for JSON and XML against one
// server, each as a ratio to a baseline measured in the same run (a bare route in the same Express
// app that parses the same body and writes one Redis hash). The machine is shared and noisy, so
// only ratios mean anything; the baseline runs first and again last, and its drift is reported.
//
// Environment:
//   BENCH_SECONDS         measured seconds per scenario (default 8)
//   BENCH_WARMUP_SECONDS  warm-up seconds per scenario (default 2)
//   BENCH_CONCURRENCY     requests in flight for the throughput scenarios (default 32)
//   BENCH_SCENARIOS       comma-separated subset of scenario names (default: all)
//   BENCH_CPU_PROF        a directory: run the server with --cpu-prof writing there
//   REDIS_URL             default redis://127.0.0.1:6379
//
// Exit status: 0 when every request was answered as expected (even if a target is missed: this is
// a measurement, not a test), 1 when any request failed or the server could not run.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { Redis } from 'ioredis';
import { decodeBody } from '../../dist/protocol/codecs/body-codec.js';
import { jsonBody, xmlBody } from './bodies.mjs';
import { processCpuMs, redisCpuMs } from './cpu-usage.mjs';
import { runLoad, send } from './load.mjs';
import { startServer } from './server-process.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

function numberFromEnv(name, fallback, min, max) {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) {
    console.error(`${name} must be a number from ${min} to ${max}, not "${text}"`);
    process.exit(1);
  }
  return value;
}

const SECONDS = numberFromEnv('BENCH_SECONDS', 8, 0.5, 600);
const WARMUP_SECONDS = numberFromEnv('BENCH_WARMUP_SECONDS', 2, 0, 600);
const CONCURRENCY = Math.round(numberFromEnv('BENCH_CONCURRENCY', 32, 1, 1024));
const ONLY = (process.env.BENCH_SCENARIOS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF || '';

// ---- requests and their checks -----------------------------------------------------------------

const JSON_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json' };
const XML_HEADERS = { 'Content-Type': 'application/xml', Accept: 'application/xml' };

const checks = {
  baseline: (a) => (a.status === 200 ? undefined : `status ${a.status}: ${a.body.slice(0, 200)}`),
  offersJson: (a) => {
    if (a.status !== 303) return `status ${a.status}: ${a.body.slice(0, 200)}`;
    if (!a.headers.location) return '303 without Location';
    if (!a.body.includes('"result":"YES"')) return `result is not YES: ${a.body.slice(0, 300)}`;
    return undefined;
  },
  offersXml: (a) => {
    if (a.status !== 303) return `status ${a.status}: ${a.body.slice(0, 200)}`;
    if (!a.headers.location) return '303 without Location';
    if (!String(a.headers['content-type']).startsWith('application/xml')) return `content-type ${a.headers['content-type']}`;
    if (!a.body.includes('<result>YES</result>')) return `result is not YES: ${a.body.slice(0, 300)}`;
    return undefined;
  },
};

function targets(port) {
  const base = { host: '127.0.0.1', port, method: 'POST' };
  return {
    baseline: { ...base, path: '/bench/baseline', headers: JSON_HEADERS, body: jsonBody },
    offersJson: { ...base, path: '/requests', headers: JSON_HEADERS, body: jsonBody },
    offersXml: { ...base, path: '/requests', headers: XML_HEADERS, body: xmlBody },
  };
}

/** The scenarios in the order they run. Baseline first and last; low load between. */
const SCENARIOS = [
  { name: 'baseline-first', request: 'baseline', concurrency: CONCURRENCY },
  { name: 'offers-json', request: 'offersJson', concurrency: CONCURRENCY },
  { name: 'offers-xml', request: 'offersXml', concurrency: CONCURRENCY },
  { name: 'baseline-c1', request: 'baseline', concurrency: 1 },
  { name: 'offers-json-c1', request: 'offersJson', concurrency: 1 },
  { name: 'offers-xml-c1', request: 'offersXml', concurrency: 1 },
  { name: 'baseline-last', request: 'baseline', concurrency: CONCURRENCY },
].filter((s) => ONLY.length === 0 || ONLY.includes(s.name));
const unknown = ONLY.filter((name) => !SCENARIOS.some((s) => s.name === name));
if (unknown.length) {
  console.error(`BENCH_SCENARIOS names unknown scenario(s): ${unknown.join(', ')}`);
  process.exit(1);
}

// ---- CPU accounting (the server child, Redis, this process) ------------------------------------

async function sample(pid, redis) {
  const redisMs = await redisCpuMs(redis);
  const own = process.cpuUsage();
  return { at: process.hrtime.bigint(), server: processCpuMs(pid), redis: redisMs, client: (own.user + own.system) / 1000 };
}

// ---- formatting ----------------------------------------------------------------------------------

const fixed = (value, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const pad = (text, width, left = false) => (left ? String(text).padEnd(width) : String(text).padStart(width));

function table(rows, columns) {
  const widths = columns.map((c) => Math.max(c.title.length, ...rows.map((r) => String(c.value(r)).length)));
  const line = (cells) => cells.map((cell, i) => pad(cell, widths[i], columns[i].left)).join('  ');
  return [line(columns.map((c) => c.title)), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(columns.map((c) => c.value(r))))].join('\n');
}

// ---- the run -------------------------------------------------------------------------------------

async function preflight(t) {
  const problems = [];
  const canonical = (value) => JSON.stringify(value, (_k, v) => (v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v));
  const fromJson = decodeBody(jsonBody, 'json', 'ExecutionRequest');
  const fromXml = decodeBody(xmlBody, 'xml', 'ExecutionRequest');
  if (canonical(fromJson) !== canonical(fromXml)) problems.push('the XML body does not decode to the same request as the JSON body');
  const answers = {};
  for (const [name, target] of Object.entries(t)) {
    const answer = await send(undefined, target, 10_000);
    answers[name] = answer;
    const problem = checks[name](answer);
    if (problem) problems.push(`${name}: ${problem}`);
  }
  if (!problems.length) {
    const jsonSet = JSON.parse(answers.offersJson.body);
    const xmlSet = decodeBody(Buffer.from(answers.offersXml.body), 'xml', 'OfferSetResponse');
    const shape = (set) => set.offers.map((o) => [o.compute.cores.min, o.compute.memory.min, o.schedule?.available?.duration]);
    if (!isDeepStrictEqual(shape(jsonSet), shape(xmlSet))) problems.push(`JSON and XML answers differ: ${JSON.stringify(shape(jsonSet))} vs ${JSON.stringify(shape(xmlSet))}`);
    return { problems, offersPerSet: jsonSet.offers.length, jsonAnswerBytes: answers.offersJson.body.length, xmlAnswerBytes: answers.offersXml.body.length };
  }
  return { problems };
}

async function main() {
  const started = Date.now();
  console.log(`ExecutionBroker bench: ${SCENARIOS.length} scenarios x (${WARMUP_SECONDS} s warm-up + ${SECONDS} s measured), concurrency ${CONCURRENCY}; node ${process.version}, ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`request body: JSON ${jsonBody.length} bytes, XML ${xmlBody.length} bytes${CPU_PROF_DIR ? `; server CPU profile -> ${CPU_PROF_DIR}` : ''}`);
  const server = startServer({ env: { REDIS_URL: redisUrl }, cpuProfDir: CPU_PROF_DIR });
  const redis = new Redis(redisUrl, { connectionName: 'eb-bench-runner', maxRetriesPerRequest: 2 });
  const results = {};
  let fatal;
  let info;
  try {
    info = await server.ready;
    const t = targets(info.port);
    const pre = await preflight(t);
    if (pre.problems.length) throw new Error(`preflight failed:\n  ${pre.problems.join('\n  ')}`);
    console.log(`server pid ${info.pid} on 127.0.0.1:${info.port}, key prefix ${info.prefix}; ${pre.offersPerSet} offer(s) per set, answers JSON ${pre.jsonAnswerBytes} B / XML ${pre.xmlAnswerBytes} B\n`);

    let crashed = false;
    server.exited.then(() => { crashed = true; });
    for (const scenario of SCENARIOS) {
      process.stdout.write(`  ${pad(scenario.name, 16, true)} c=${pad(scenario.concurrency, 3, true)} ... `);
      const samples = {};
      const result = await runLoad({
        target: t[scenario.request],
        concurrency: scenario.concurrency,
        warmupMs: WARMUP_SECONDS * 1000,
        durationMs: SECONDS * 1000,
        check: checks[scenario.request],
        onWindow: (edge) => { samples[edge] = sample(info.pid, redis); },
      });
      const [a, b] = await Promise.all([samples.start, samples.end]);
      const seconds = Number(b.at - a.at) / 1e9;
      const perRequest = (ms) => (result.requests ? ms / result.requests : NaN);
      results[scenario.name] = {
        ...scenario,
        ...result,
        serverCpuMsPerRequest: perRequest(b.server - a.server),
        redisCpuMsPerRequest: perRequest(b.redis - a.redis),
        serverCpuUtil: (b.server - a.server) / 1000 / seconds,
        redisCpuUtil: (b.redis - a.redis) / 1000 / seconds,
        clientCpuUtil: (b.client - a.client) / 1000 / seconds,
      };
      const r = results[scenario.name];
      console.log(`${pad(r.requests, 7)} req  ${pad(fixed(r.rps, 0), 6)} rps  p50 ${fixed(r.p50)} ms  p99 ${fixed(r.p99)} ms  cpu server ${fixed(r.serverCpuUtil * 100, 0)}% redis ${fixed(r.redisCpuUtil * 100, 0)}% client ${fixed(r.clientCpuUtil * 100, 0)}%${r.errors ? `  ERRORS ${r.errors}` : ''}`);
      if (crashed) throw new Error('the server exited during the run');
    }
  } catch (error) {
    fatal = error;
  } finally {
    const exit = await server.stop();
    await redis.quit().catch(() => redis.disconnect());
    const { lines, tail } = server.stderr();
    const cleanLine = tail.find((l) => l.startsWith('bench server: stopped'));
    if (cleanLine) console.log(`\n${cleanLine}`);
    if (fatal || (exit.code !== 0 && exit.code !== null)) {
      console.error(`\nserver exit: code ${exit.code}, signal ${exit.signal}; ${lines} stderr line(s), last ones:\n${tail.join('\n')}`);
    }
    if (!fatal && exit.code !== 0) fatal = new Error(`the server did not stop cleanly (code ${exit.code}, signal ${exit.signal})`);
  }
  if (fatal) {
    console.error(`\nBENCH INVALID: ${fatal.message}`);
    return 1;
  }

  // ---- ratios, table, targets ----
  const mean = (...values) => { const v = values.filter(Number.isFinite); return v.length ? v.reduce((x, y) => x + y, 0) / v.length : NaN; };
  const first = results['baseline-first'];
  const last = results['baseline-last'];
  const baseline = { rps: mean(first?.rps, last?.rps), p50: mean(first?.p50, last?.p50), p99: mean(first?.p99, last?.p99) };
  const drift = first && last ? (last.rps - first.rps) / baseline.rps : NaN;
  const lowBase = results['baseline-c1'];
  const baseFor = (r) => (r.concurrency === 1 ? lowBase : baseline);
  for (const r of Object.values(results)) {
    const b = baseFor(r);
    r.rpsRatio = b ? r.rps / b.rps : NaN;
    r.p50Ratio = b ? r.p50 / b.p50 : NaN;
    r.p99Ratio = b ? r.p99 / b.p99 : NaN;
  }
  const rows = Object.values(results);
  console.log(`\n${table(rows, [
    { title: 'scenario', left: true, value: (r) => r.name },
    { title: 'conc', value: (r) => r.concurrency },
    { title: 'requests', value: (r) => r.requests },
    { title: 'errors', value: (r) => r.errors },
    { title: 'rps', value: (r) => fixed(r.rps, 0) },
    { title: 'p50 ms', value: (r) => fixed(r.p50) },
    { title: 'p99 ms', value: (r) => fixed(r.p99) },
    { title: 'rps/base', value: (r) => fixed(r.rpsRatio, 3) },
    { title: 'p50/base', value: (r) => fixed(r.p50Ratio, 2) },
    { title: 'p99/base', value: (r) => fixed(r.p99Ratio, 2) },
    { title: 'srv cpu ms/req', value: (r) => fixed(r.serverCpuMsPerRequest, 3) },
    { title: 'redis cpu ms/req', value: (r) => fixed(r.redisCpuMsPerRequest, 3) },
  ])}`);
  console.log(`\nbaseline (c=${CONCURRENCY}) = mean of first and last: ${fixed(baseline.rps, 0)} rps, p50 ${fixed(baseline.p50)} ms; drift last vs first ${fixed(drift * 100, 1)}%${Math.abs(drift) > 0.15 ? '  (NOISY: more than 15%, treat the ratios with care)' : ''}`);
  console.log('rows at c=1 are compared with baseline-c1; the others with the c=' + CONCURRENCY + ' baseline mean.');

  const json = results['offers-json'];
  const xml = results['offers-xml'];
  const lowJson = results['offers-json-c1'];
  // Redis is the federation's one shared server: what an offer costs it, against the baseline's one HSET.
  const baseRedis = mean(first?.redisCpuMsPerRequest, last?.redisCpuMsPerRequest);
  const checksList = [
    { name: 'Redis CPU per JSON offer / baseline <= 15', value: json ? json.redisCpuMsPerRequest / baseRedis : NaN, limit: 15, pass: (v) => v <= 15, detail: json ? `${fixed(json.redisCpuMsPerRequest, 3)} / ${fixed(baseRedis, 3)} ms; at c=1 ${fixed(lowJson?.redisCpuMsPerRequest, 3)} / ${fixed(lowBase?.redisCpuMsPerRequest, 3)} ms` : '' },
    { name: 'JSON offer throughput / baseline >= 0.3', value: json ? json.rps / baseline.rps : NaN, limit: 0.3, pass: (v) => v >= 0.3, detail: json ? `${fixed(json.rps, 0)} / ${fixed(baseline.rps, 0)} rps` : '' },
    { name: 'offers-json p50 at low load (c=1) < 5 ms', value: lowJson?.p50 ?? NaN, limit: 5, pass: (v) => v < 5, detail: lowJson ? `p50 ${fixed(lowJson.p50)} ms (baseline-c1 p50 ${fixed(lowBase?.p50)} ms)` : '' },
    { name: 'XML offer throughput / JSON >= 0.5', value: json && xml ? xml.rps / json.rps : NaN, limit: 0.5, pass: (v) => v >= 0.5, detail: json && xml ? `${fixed(xml.rps, 0)} / ${fixed(json.rps, 0)} rps` : '' },
  ].map((c) => ({ ...c, verdict: Number.isFinite(c.value) ? (c.pass(c.value) ? 'PASS' : 'FAIL') : 'n/a' }));
  console.log('\ntargets:');
  for (const c of checksList) console.log(`  ${pad(c.verdict, 4, true)}  ${pad(c.name, 44, true)} ${fixed(c.value, 3)}  (${c.detail})`);

  // The same ratios from server CPU time per request: less sensitive to other load on the machine
  // (it ignores waiting), so a large gap between the two says the run was disturbed.
  const baseCpu = mean(first?.serverCpuMsPerRequest, last?.serverCpuMsPerRequest);
  const cpuCheck = {
    jsonVsBaseline: json ? baseCpu / json.serverCpuMsPerRequest : NaN,
    xmlVsJson: json && xml ? json.serverCpuMsPerRequest / xml.serverCpuMsPerRequest : NaN,
  };
  console.log(`  cross-check from server CPU ms per request (not a target): JSON/baseline ${fixed(cpuCheck.jsonVsBaseline, 3)}, XML/JSON ${fixed(cpuCheck.xmlVsJson, 3)}`);

  const totalErrors = rows.reduce((n, r) => n + r.errors, 0);
  const report = {
    date: new Date(started).toISOString(),
    elapsedSeconds: (Date.now() - started) / 1000,
    node: process.version,
    cpus: os.cpus().length,
    loadAverage: os.loadavg(),
    settings: { seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, concurrency: CONCURRENCY, scenarios: SCENARIOS.map((s) => s.name), cpuProfileDir: CPU_PROF_DIR || undefined },
    bodies: { jsonBytes: jsonBody.length, xmlBytes: xmlBody.length },
    baseline: { ...baseline, driftLastVsFirst: drift, serverCpuMsPerRequest: baseCpu, redisCpuMsPerRequest: baseRedis },
    cpuCrossCheck: cpuCheck,
    scenarios: results,
    targets: checksList.map(({ name, value, limit, verdict, detail }) => ({ name, value, limit, verdict, detail })),
    errors: totalErrors,
    valid: totalErrors === 0,
  };
  // A run of some scenarios only (BENCH_SCENARIOS) does not replace the last full result.
  const out = join(here, 'results', ONLY.length ? 'partial.json' : 'latest.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nresults: ${out} (${fixed(report.elapsedSeconds, 0)} s)`);

  if (totalErrors) {
    console.error(`\nBENCH INVALID: ${totalErrors} request(s) failed:`);
    for (const r of rows) for (const { reason, count } of r.errorReasons) console.error(`  ${r.name}: ${count} x ${reason}`);
    return 1;
  }
  return 0;
}

process.exitCode = await main();
