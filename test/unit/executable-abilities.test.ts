import { decideAbilities, defaultAbilities, KINDS_THAT_RUN, siteAbilities, whyNotRunnable, withinConfigured, type HostFacts, type KindAbility } from '../../src/domain/executable-abilities.js';

const DOCKER = 'executable/docker-container';
const SINGULARITY = 'executable/singularity-container';
const NOTEBOOK = 'executable/jupyter-notebook';
const ALL_RUN = [DOCKER, SINGULARITY, NOTEBOOK];

const host = (facts: Partial<HostFacts>): HostFacts => ({ site: 'here', family: 'process', apptainer: false, jupyter: false, ...facts });
const runnable = (abilities: readonly KindAbility[]): string[] => abilities.filter((a) => a.runnable).map((a) => a.kind);

describe('what a site can run, decided from what its worker found', () => {
  it('runs docker-container on a process site whatever the host has, as before', () => {
    expect(runnable(decideAbilities(host({}), ALL_RUN))).toEqual([DOCKER]);
  });

  it('runs singularity images on process and apptainer sites only where apptainer answers', () => {
    expect(whyNotRunnable(decideAbilities(host({}), ALL_RUN), SINGULARITY)).toBe("apptainer (or singularity) is not installed on site here's workers");
    expect(runnable(decideAbilities(host({ apptainer: true }), ALL_RUN))).toEqual([DOCKER, SINGULARITY]);
    const noApptainer = decideAbilities(host({ family: 'apptainer' }), ALL_RUN);
    expect(runnable(noApptainer)).toEqual([]);
    expect(whyNotRunnable(noApptainer, DOCKER)).toContain('apptainer (or singularity) is not installed');
    expect(runnable(decideAbilities(host({ family: 'apptainer', apptainer: true }), ALL_RUN))).toEqual([DOCKER, SINGULARITY]);
  });

  it('never runs singularity images in docker or podman, nor yet on Slurm nodes', () => {
    expect(whyNotRunnable(decideAbilities(host({ family: 'container', runtime: 'podman', apptainer: true }), ALL_RUN), SINGULARITY)).toBe('site here runs podman containers, which cannot run singularity images');
    expect(whyNotRunnable(decideAbilities(host({ family: 'slurm', apptainer: true }), ALL_RUN), SINGULARITY)).toContain('Slurm jobs run programs on the nodes without a container runtime');
  });

  it('runs notebooks on process and Slurm sites only with the host\'s Jupyter, and on container sites only with a configured image', () => {
    const noJupyter = "Jupyter (jupyter notebook or jupyter server, and jupyter nbconvert) is not installed on site here's workers";
    expect(whyNotRunnable(decideAbilities(host({}), ALL_RUN), NOTEBOOK)).toBe(noJupyter);
    expect(whyNotRunnable(decideAbilities(host({ family: 'slurm' }), ALL_RUN), NOTEBOOK)).toBe(noJupyter);
    expect(whyNotRunnable(decideAbilities(host({ jupyter: true }), ALL_RUN), NOTEBOOK)).toBeUndefined();
    // Notebooks run as processes of the host first; Slurm jobs and containers do not run them yet.
    expect(whyNotRunnable(decideAbilities(host({ family: 'slurm', jupyter: true }), ALL_RUN), NOTEBOOK)).toBe("site here's Slurm executor does not run jupyter-notebook executables yet");
    // The host's Jupyter is no use to a container.
    expect(whyNotRunnable(decideAbilities(host({ family: 'container', runtime: 'docker', jupyter: true }), ALL_RUN), NOTEBOOK)).toBe('site here runs containers and names no Jupyter image (executor.jupyterImage in the sites file)');
    expect(whyNotRunnable(decideAbilities(host({ family: 'container', runtime: 'docker', jupyterImage: 'quay.io/jupyter/base-notebook' }), ALL_RUN), NOTEBOOK)).toBe("site here's container executor does not run jupyter-notebook executables yet");
  });

  it('says what the host lacks before saying the broker does not run the kind yet, so that an operator learns what to install', () => {
    const runs = [DOCKER];
    expect(whyNotRunnable(decideAbilities(host({}), runs), NOTEBOOK)).toContain('Jupyter (jupyter notebook or jupyter server');
    expect(whyNotRunnable(decideAbilities(host({ jupyter: true, apptainer: true }), runs), NOTEBOOK)).toBe('this broker does not run jupyter-notebook executables yet');
    expect(whyNotRunnable(decideAbilities(host({ jupyter: true, apptainer: true }), runs), SINGULARITY)).toBe('this broker does not run singularity-container executables yet');
  });

  it('offers notebooks nowhere while the broker cannot run them, and everywhere Jupyter is once it can', () => {
    const withJupyter = decideAbilities(host({ jupyter: true }));
    expect(runnable(withJupyter).includes(NOTEBOOK)).toBe(KINDS_THAT_RUN.includes(NOTEBOOK));
    expect(runnable(defaultAbilities())).toEqual(KINDS_THAT_RUN);
  });

  it('keeps the sites file\'s list as an upper bound', () => {
    const abilities = withinConfigured(decideAbilities(host({ apptainer: true, jupyter: true }), ALL_RUN), [DOCKER, NOTEBOOK], 'here');
    expect(runnable(abilities)).toEqual([DOCKER, NOTEBOOK]);
    expect(whyNotRunnable(abilities, SINGULARITY)).toBe("site here's executables list leaves it out");
  });

  it('lists a kind as runnable on a site only when every live worker can run it', () => {
    const able = decideAbilities(host({ apptainer: true }), ALL_RUN);
    const unable = decideAbilities(host({}), ALL_RUN);
    expect(siteAbilities([DOCKER, SINGULARITY], [able, able], 'here')).toEqual([{ kind: DOCKER, runnable: true }, { kind: SINGULARITY, runnable: true }]);
    expect(siteAbilities([DOCKER, SINGULARITY], [able, unable], 'here')[1]).toEqual({ kind: SINGULARITY, runnable: false, reason: "apptainer (or singularity) is not installed on site here's workers" });
    expect(siteAbilities([DOCKER], [], 'here')).toEqual([{ kind: DOCKER, runnable: false, reason: 'site here has no running worker' }]);
  });
});
