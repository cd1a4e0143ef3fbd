import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { decideAbilities, type HostFacts, type KindAbility } from '../domain/executable-abilities.js';
import { detectJupyterOnce, RUN_PATH } from './detect-jupyter.js';

/**
 * Where a site's worker looks for the programs its runs need (apptainer, jupyter): `path` is the
 * PATH searched (the worker's own by default). Tests give a PATH without jupyter, or with a fake
 * apptainer, to run a site as a host without them would.
 */
export interface HostTools {
  path?: string;
  /** How long a `--version` may take before the program counts as absent. */
  timeoutMs?: number;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const searchPath = (tools: HostTools): string => tools.path ?? process.env.PATH ?? DEFAULT_PATH;

/** The absolute path of an executable file named `name` on the PATH, if any. */
export function findProgram(name: string, tools: HostTools = {}): string | undefined {
  for (const dir of searchPath(tools).split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The program answers these arguments (exit status 0) within the time allowed. */
export function answers(program: string, args: readonly string[], tools: HostTools = {}): Promise<boolean> {
  const env = { PATH: searchPath(tools), HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8' };
  return new Promise((resolve) => {
    execFile(program, args, { env, timeout: tools.timeoutMs ?? 20_000 }, (error) => resolve(!error));
  });
}

/** apptainer (or, older, singularity) on the PATH and answering `--version`: its absolute path. */
export async function findApptainer(tools: HostTools = {}): Promise<string | undefined> {
  for (const name of ['apptainer', 'singularity']) {
    const program = findProgram(name, tools);
    if (program && await answers(program, ['--version'], tools)) return program;
  }
  return undefined;
}

/**
 * What the site's executor can really run on this host, kind by kind, with the reason for each it
 * cannot. `apptainer`: whether the executor has apptainer to run singularity images with (found
 * by findApptainer when the executor was made). Jupyter is looked for only where notebooks would
 * run on the host (process and Slurm sites); container sites need a configured image instead.
 */
export async function detectAbilities(
  facts: Omit<HostFacts, 'jupyter'>,
  tools: HostTools = {},
  runs?: readonly string[],
): Promise<KindAbility[]> {
  const onHost = facts.family === 'process' || facts.family === 'slurm';
  const jupyter = onHost ? await detectJupyterOnce(tools.path ?? RUN_PATH, tools.timeoutMs ?? 20_000) : undefined;
  return decideAbilities({ ...facts, jupyter: jupyter?.available === true, ...(jupyter && !jupyter.available ? { jupyterProblem: jupyter.reason } : {}) }, runs);
}
