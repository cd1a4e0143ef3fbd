#!/usr/bin/env node
// A fake container CLI, for tests on machines without apptainer: it records its arguments, its
// APPTAINERENV_* variables and its working directory in ./fake-apptainer.json, then runs the
// entrypoint (after `exec ... docker://<image>`) as a plain process with those variables only.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const args = process.argv.slice(2);
const env = Object.fromEntries(Object.entries(process.env)
  .filter(([name]) => name.startsWith('APPTAINERENV_')).map(([name, value]) => [name.slice('APPTAINERENV_'.length), value]));
writeFileSync('fake-apptainer.json', JSON.stringify({ args, env, cwd: process.cwd() }));
const image = args.findIndex((arg) => arg.startsWith('docker://'));
if (args[0] !== 'exec' || image < 0) {
  console.error('fake apptainer: only `exec ... docker://<image> <program> [args]` runs here');
  process.exit(255);
}
const [program, ...rest] = args.slice(image + 1);
const child = spawn(program, rest, { stdio: 'inherit', env: { PATH: '/usr/bin:/bin', ...env } });
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15)));
