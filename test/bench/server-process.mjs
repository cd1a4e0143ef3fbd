// Starts test/bench/server.mjs as a child process and waits for its {"port", ...} line.
// Shared by run.mjs, capacity.mjs and node-versions.mjs.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const START_FLAGS = JSON.parse(readFileSync(join(here, '../../package.json'), 'utf8')).scripts.start
  .split(/\s+/).filter((word) => word.startsWith('--'));

/**
 * `env` is added to this process's environment; `cpuProfDir` runs the server under --cpu-prof;
 * `node` is the Node.js binary to run it with (default: this one).
 */
export function startServer({ env = {}, cpuProfDir = '', node = process.execPath } = {}) {
  // Node's flags as `npm start` gives them (package.json), so that the bench runs the broker as deployed.
  const args = [...START_FLAGS];
  if (cpuProfDir) {
    mkdirSync(cpuProfDir, { recursive: true });
    args.push('--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, '--cpu-prof-interval=200');
  }
  const child = spawn(node, [...args, join(here, 'server.mjs')], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderrTail = [];
  let stderrLines = 0;
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text) => {
    for (const line of text.split('\n')) {
      if (!line) continue;
      stderrLines += 1;
      stderrTail.push(line.slice(0, 500));
      if (stderrTail.length > 20) stderrTail.shift();
    }
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const ready = new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text) => {
      out += text;
      const newline = out.indexOf('\n');
      if (newline >= 0) {
        try { resolve(JSON.parse(out.slice(0, newline))); } catch (error) { reject(new Error(`bad line from server: ${out.slice(0, 200)}`)); }
      }
    });
    exited.then(({ code, signal }) => reject(new Error(`server exited before listening (code ${code}, signal ${signal}):\n${stderrTail.join('\n')}`)));
    // Generous: the dense scenario first puts 100,000 holds on the calendar.
    setTimeout(() => reject(new Error('server did not start within 180 s')), 180_000).unref();
  });
  return {
    child,
    ready,
    exited,
    stderr: () => ({ lines: stderrLines, tail: [...stderrTail] }),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}
