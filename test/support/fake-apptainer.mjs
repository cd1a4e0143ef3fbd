#!/usr/bin/env node
// A fake container CLI, for tests on machines without apptainer: it records its arguments, its
// APPTAINERENV_* variables and its working directory in ./fake-apptainer.json, then runs the
// entrypoint (after `exec ... docker://<image>`) as a plain process with those variables only;
// `run ... <image>` (a singularity image's runscript) says which image it stands for and ends;
// `--version` answers, as a real apptainer does, for the site's detection.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const args = process.argv.slice(2);
if (args[0] === '--version') {
  console.log('apptainer version 0.0.0-fake');
  process.exit(0);
}
const env = Object.fromEntries(Object.entries(process.env)
  .filter(([name]) => name.startsWith('APPTAINERENV_')).map(([name, value]) => [name.slice('APPTAINERENV_'.length), value]));
writeFileSync('fake-apptainer.json', JSON.stringify({ args, env, cwd: process.cwd() }));
const image = args.findIndex((arg) => /^(docker|library|oras|shub):\/\//.test(arg));
if (args[0] === 'run' && image >= 0) {
  // An image's runscript: the fake has none, and says which image it would have run.
  console.log(`fake apptainer: the runscript of ${args[image]} ran`);
  process.exit(0);
}
if (args[0] !== 'exec' || image < 0) {
  console.error('fake apptainer: only `exec ... docker://<image> <program> [args]` and `run ... <image>` run here');
  process.exit(255);
}
const [program, ...rest] = args.slice(image + 1);
const child = spawn(program, rest, { stdio: 'inherit', env: { PATH: '/usr/bin:/bin', ...env } });
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15)));
