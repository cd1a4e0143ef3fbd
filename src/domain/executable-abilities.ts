/**
 * What a site can really run, per executable kind, decided from what its worker found on its host
 * (sites/detect-abilities.ts). An offer is a promise: a kind that is not runnable is never offered.
 */

export const EXECUTABLE_KINDS = ['executable/docker-container', 'executable/singularity-container', 'executable/jupyter-notebook'] as const;

/**
 * The kinds the broker turns into a run (broker/run-session.ts builds a RunSpec for these, and
 * refuses the rest). The one source of truth: whoever teaches runSpec a kind adds it here, and
 * the sites that have what it needs offer it from then on.
 */
export const KINDS_THAT_RUN: readonly string[] = ['executable/docker-container', 'executable/singularity-container', 'executable/jupyter-notebook'];

/**
 * Which executors run each kind the broker runs (their `unsupported()` refuses the kind elsewhere).
 * Notebooks are to run as processes of the host first; a family added here must run them.
 */
export const FAMILIES_THAT_RUN: Readonly<Record<string, readonly ExecutorFamily[]>> = {
  'executable/docker-container': ['process', 'container', 'apptainer', 'slurm'],
  'executable/singularity-container': ['process', 'apptainer'],
  'executable/jupyter-notebook': ['process'],
};

const FAMILY_NAMES: Record<ExecutorFamily, string> = { process: 'process', container: 'container', apptainer: 'apptainer', slurm: 'Slurm' };

export type KindAbility =
  | { kind: string; runnable: true }
  | { kind: string; runnable: false; reason: string };

/** How a site's runs are made: processes of the host, docker or podman, apptainer, Slurm batch jobs. */
export type ExecutorFamily = 'process' | 'container' | 'apptainer' | 'slurm';

/** What the worker found out about its host, for its site's executor. */
export interface HostFacts {
  site: string;
  family: ExecutorFamily;
  /** docker or podman, for the `container` family. */
  runtime?: string;
  /** apptainer (or singularity) answers on the worker's host. */
  apptainer: boolean;
  /** Jupyter runs notebooks on the host as process runs see it (sites/detect-jupyter.ts). */
  jupyter: boolean;
  /** Why not, when it does not. */
  jupyterProblem?: string;
  /** The image notebooks run in, on container sites (executor.jupyterImage). */
  jupyterImage?: string;
}

const short = (kind: string): string => kind.replace(/^executable\//, '');

/** Why the host cannot run the kind; undefined when it can (whether the broker runs the kind is asked apart). */
function hostProblem(kind: string, facts: HostFacts): string | undefined {
  const { site, family } = facts;
  const noApptainer = `apptainer (or singularity) is not installed on site ${site}'s workers`;
  switch (kind) {
    case 'executable/docker-container':
      return family === 'apptainer' && !facts.apptainer ? noApptainer : undefined;
    case 'executable/singularity-container':
      if (family === 'container') return `site ${site} runs ${facts.runtime ?? 'docker'} containers, which cannot run singularity images`;
      if (family === 'slurm') return `site ${site}'s Slurm jobs run programs on the nodes without a container runtime; singularity images do not run there yet`;
      return facts.apptainer ? undefined : noApptainer;
    case 'executable/jupyter-notebook':
      if (family === 'container' || family === 'apptainer') {
        return facts.jupyterImage ? undefined : `site ${site} runs containers and names no Jupyter image (executor.jupyterImage in the sites file)`;
      }
      if (facts.jupyter) return undefined;
      return facts.jupyterProblem ? `site ${site}: ${facts.jupyterProblem}` : `Jupyter (jupyter notebook or jupyter server, and jupyter nbconvert) is not installed on site ${site}'s workers`;
    default:
      return `site ${site} knows no executables of kind ${short(kind)}`;
  }
}

/**
 * Each kind, runnable or not and why: the host must have what the kind needs (so that an operator
 * learns what to install), and the broker must run the kind at all (`runs`, KINDS_THAT_RUN).
 */
export function decideAbilities(facts: HostFacts, runs: readonly string[] = KINDS_THAT_RUN): KindAbility[] {
  return EXECUTABLE_KINDS.map((kind): KindAbility => {
    const problem = hostProblem(kind, facts);
    if (problem) return { kind, runnable: false, reason: problem };
    if (!runs.includes(kind)) return { kind, runnable: false, reason: `this broker does not run ${short(kind)} executables yet` };
    if (!FAMILIES_THAT_RUN[kind]?.includes(facts.family)) return { kind, runnable: false, reason: `site ${facts.site}'s ${FAMILY_NAMES[facts.family]} executor does not run ${short(kind)} executables yet` };
    return { kind, runnable: true };
  });
}

/** Every kind not runnable, for the same reason (an executor that cannot run anything). */
export function nothingRuns(reason: string): KindAbility[] {
  return EXECUTABLE_KINDS.map((kind) => ({ kind, runnable: false, reason }));
}

/** The abilities within the site's configured kinds: a kind left out of `executables` is switched off. */
export function withinConfigured(abilities: readonly KindAbility[], configured: readonly string[], site: string): KindAbility[] {
  return EXECUTABLE_KINDS.map((kind): KindAbility => {
    if (!configured.includes(kind)) return { kind, runnable: false, reason: `site ${site}'s executables list leaves it out` };
    return abilities.find((ability) => ability.kind === kind) ?? { kind, runnable: false, reason: `site ${site}'s worker did not say whether it runs ${short(kind)}` };
  });
}

/** The reason a kind is not runnable, or undefined when it is. */
export function whyNotRunnable(abilities: readonly KindAbility[], kind: string): string | undefined {
  const ability = abilities.find((entry) => entry.kind === kind);
  if (!ability) return undefined; // a kind the planner refuses by itself (not configured, unknown)
  return ability.runnable ? undefined : ability.reason;
}

/**
 * A site's kinds as its live workers published them: runnable where every live worker can run
 * it (whichever worker takes a session's steps must be able to), else not, with a worker's reason.
 */
export function siteAbilities(configured: readonly string[], workers: ReadonlyArray<readonly KindAbility[]>, site: string): KindAbility[] {
  return configured.filter((kind) => (EXECUTABLE_KINDS as readonly string[]).includes(kind)).map((kind): KindAbility => {
    if (workers.length === 0) return { kind, runnable: false, reason: `site ${site} has no running worker` };
    for (const published of workers) {
      const why = whyNotRunnable(published, kind) ?? (published.some((entry) => entry.kind === kind) ? undefined : `a worker of site ${site} did not say whether it runs ${short(kind)}`);
      if (why) return { kind, runnable: false, reason: why };
    }
    return { kind, runnable: true };
  });
}

/** What an executor that says nothing of its abilities runs: the kinds the broker runs. */
export function defaultAbilities(): KindAbility[] {
  return EXECUTABLE_KINDS.map((kind): KindAbility => (KINDS_THAT_RUN.includes(kind)
    ? { kind, runnable: true }
    : { kind, runnable: false, reason: `this broker does not run ${short(kind)} executables yet` }));
}
