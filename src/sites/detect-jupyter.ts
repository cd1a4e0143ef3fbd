import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The PATH a process run gets unless its request sets another (local-process-executor.ts). */
export const RUN_PATH = '/usr/local/bin:/usr/bin:/bin';

export type JupyterAvailability =
  | { available: true; /** The interpreter Jupyter runs on (from the `jupyter` script's first line), for the headless runner. */ python: string }
  | { available: false; reason: string };

/** The program answers (status 0); else why not, in a few words. */
function answers(program: string, args: string[], what: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(program, args, { env, timeout: timeoutMs }, (error, _stdout, stderr) => {
      if (!error) { resolve(undefined); return; }
      const said = String(stderr).trim().split('\n').at(-1)?.slice(0, 200);
      resolve(`${what} failed${said ? `: ${said}` : ''}`);
    });
  });
}

/** The first executable `name` on `path`. */
function onPath(name: string, path: string): string | undefined {
  for (const dir of path.split(':').filter(Boolean)) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch { /* next */ }
  }
  return undefined;
}

/** The interpreter a script's `#!` line names (`#!/usr/bin/env python3` gives python3). */
function interpreterOf(script: string): string | undefined {
  try {
    const first = readFileSync(script, 'utf8').slice(0, 200).split('\n')[0] ?? '';
    const words = first.replace(/^#!\s*/, '').trim().split(/\s+/);
    if (!first.startsWith('#!') || !words[0]) return undefined;
    return words[0].endsWith('/env') ? words[1] : words[0];
  } catch {
    return undefined;
  }
}

/**
 * Whether this host can run Jupyter notebooks the way process runs see it (the run's PATH):
 * `jupyter notebook --version` answers (the interactive server, classic Notebook 6), and
 * Jupyter's own interpreter imports nbconvert's executor and ipykernel (headless runs, and the
 * kernels of both). Headless runs use nbconvert as a library (notebook-run.ts), so Debian's
 * python3-nbconvert is enough; its `jupyter nbconvert` command (package jupyter-nbconvert) is not
 * needed. Debian: apt-get install jupyter-notebook python3-nbconvert python3-ipykernel.
 */
export async function detectJupyter(env: NodeJS.ProcessEnv = { PATH: RUN_PATH }, timeoutMs = 15_000): Promise<JupyterAvailability> {
  const path = env.PATH ?? RUN_PATH;
  const jupyter = onPath('jupyter', path);
  const hint = '(Debian: apt-get install jupyter-notebook python3-nbconvert python3-ipykernel)';
  if (!jupyter) return { available: false, reason: `Jupyter is not installed on the site's host: no jupyter on ${path} ${hint}` };
  const clean = { PATH: path, HOME: env.HOME ?? '/tmp', ...(env.JUPYTER_PATH ? { JUPYTER_PATH: env.JUPYTER_PATH } : {}) };
  const python = interpreterOf(jupyter) ?? 'python3';
  const why = await answers(jupyter, ['notebook', '--version'], '`jupyter notebook --version`', clean, timeoutMs)
    ?? await answers(python, ['-c', 'import nbconvert.preprocessors, ipykernel'], `${python} importing nbconvert and ipykernel`, clean, timeoutMs);
  if (why) return { available: false, reason: `Jupyter cannot run notebooks on the site's host: ${why} ${hint}` };
  return { available: true, python };
}

const detected = new Map<string, Promise<JupyterAvailability>>();

/**
 * detectJupyter() once per PATH in a process (each answer takes Python a second): the worker's
 * abilities at start-up and the executor's checks share the answer.
 */
export function detectJupyterOnce(path = RUN_PATH, timeoutMs?: number): Promise<JupyterAvailability> {
  let found = detected.get(path);
  if (!found) {
    found = detectJupyter({ PATH: path }, timeoutMs);
    detected.set(path, found);
  }
  return found;
}
