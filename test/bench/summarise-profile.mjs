// Summarises a V8 .cpuprofile (from `BENCH_CPU_PROF=/tmp/dir npm run bench`): busy time by
// module (self), top functions by self time, and top functions by inclusive time.
// Usage: node test/bench/summarise-profile.mjs <file.cpuprofile> [--top N] [--from S] [--to S]
//   --from/--to: only samples between S seconds after the profile starts and S seconds before it
//   ends (e.g. --from 3 --to 0.5 leaves out start-up, warm-up and shutdown).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: opts, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, from: { type: 'string', default: '0' }, to: { type: 'string', default: '0' } } });
const [file] = positionals;
if (!file) {
  console.error('usage: node test/bench/summarise-profile.mjs <file.cpuprofile> [--top N] [--from S] [--to S]');
  process.exit(1);
}
const TOP = Number(opts.top);
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

function moduleOf(frame) {
  const url = frame.url ?? '';
  if (!url) {
    if (/^\((idle|program|garbage collector|root)\)$/.test(frame.functionName)) return frame.functionName;
    return '(native)';
  }
  const pkg = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0] === 'internal' ? 'internal/' + (url.split('/')[1] ?? '') : url.slice(5)}`;
  const dist = url.match(/\/dist\/([^/]+)\/([^/]+)\.js$/);
  if (dist) return `dist/${dist[1]}/${dist[2]}`;
  const bench = url.match(/\/test\/bench\/([^/]+)$/);
  if (bench) return `bench/${bench[1]}`;
  return url;
}

const label = (frame) => `${frame.functionName || '(anonymous)'}  ${moduleOf(frame)}:${frame.lineNumber + 1}`;

const isNative = (frame) => !frame.url && !/^\((idle|program|garbage collector|root)\)$/.test(frame.functionName);
/** The module of the nearest JavaScript frame: native work (socket writes, JSON.parse) charged to its caller. */
function chargedModule(node) {
  for (let id = node.id; id !== undefined; id = parent.get(id)) {
    const frame = byId.get(id).callFrame;
    if (!isNative(frame)) return moduleOf(frame);
  }
  return '(native)';
}

const self = new Map();
const charged = new Map();
const selfModule = new Map();
const inclusive = new Map();
const inclusiveModule = new Map();
let total = 0;
let idle = 0;
const add = (map, key, value) => map.set(key, (map.get(key) ?? 0) + value);

const { samples, timeDeltas } = profile;
const span = (profile.endTime - profile.startTime) / 1000; // ms
const fromMs = Number(opts.from) * 1000;
const toMs = span - Number(opts.to) * 1000;
let clock = 0;
for (let i = 0; i < samples.length; i++) {
  const dt = (timeDeltas[i] ?? 0) / 1000; // ms
  clock += dt;
  if (clock < fromMs || clock > toMs) continue;
  const node = byId.get(samples[i]);
  if (!node) continue;
  total += dt;
  if (node.callFrame.functionName === '(idle)') { idle += dt; continue; }
  add(self, label(node.callFrame), dt);
  add(selfModule, moduleOf(node.callFrame), dt);
  add(charged, chargedModule(node), dt);
  const seen = new Set();
  const seenModules = new Set();
  for (let id = node.id; id !== undefined; id = parent.get(id)) {
    const frame = byId.get(id).callFrame;
    const key = label(frame);
    if (!seen.has(key)) { seen.add(key); add(inclusive, key, dt); }
    const mod = moduleOf(frame);
    if (!seenModules.has(mod)) { seenModules.add(mod); add(inclusiveModule, mod, dt); }
  }
}

const busy = total - idle;
const pct = (ms) => `${((100 * ms) / busy).toFixed(1).padStart(5)}%`;
const print = (title, map, n) => {
  console.log(`\n${title}`);
  for (const [key, ms] of [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(`  ${pct(ms)}  ${(ms).toFixed(0).padStart(7)} ms  ${key}`);
  }
};
console.log(`${file}: window ${(fromMs / 1000).toFixed(1)}..${(toMs / 1000).toFixed(1)} s of ${(span / 1000).toFixed(1)} s; ${(total / 1000).toFixed(1)} s sampled, ${(idle / 1000).toFixed(1)} s idle, ${(busy / 1000).toFixed(1)} s busy (percentages are of busy time)`);
print('self time by module', selfModule, TOP);
print('self time by module, native work charged to the calling module (a partition of busy time)', charged, TOP);
print('inclusive time by module (a module counted once per sample)', new Map([...inclusiveModule].filter(([k]) => k !== '(root)')), TOP);
print('top functions by self time', self, TOP);
print('top functions by inclusive time', new Map([...inclusive].filter(([k]) => !k.startsWith('(root)'))), TOP * 2);
