import { sharedSlurmCluster, slurmClient, slurmMissing, type SlurmCluster } from './slurm-cluster.mjs';

export type { SlurmCluster };

/** Runs a Slurm client (squeue, scontrol, ...) against the test cluster; its output, or undefined when it failed. */
export const slurm = (cluster: SlurmCluster, name: string, ...args: string[]): string | undefined => slurmClient(cluster.dir, name, args);

/**
 * A describe block run against the real, private Slurm of the test run (started on first use).
 * Where slurm-wlm is missing its tests are skipped, saying so in their name, unless
 * EB_REQUIRE_SLURM=1 (as in CI), where a test fails saying what is missing.
 */
export function describeWithSlurm(name: string, body: (cluster: () => SlurmCluster) => void): void {
  const missing = slurmMissing();
  let cluster: SlurmCluster | undefined;
  const current = (): SlurmCluster => {
    if (!cluster) throw new Error('the Slurm cluster has not started');
    return cluster;
  };
  if (!missing) {
    describe(name, () => {
      beforeAll(async () => { cluster = await sharedSlurmCluster(); }, 60_000);
      body(current);
    });
  } else if (process.env.EB_REQUIRE_SLURM === '1') {
    describe(name, () => {
      it('has a real Slurm to run against (EB_REQUIRE_SLURM=1)', () => { throw new Error(missing); });
    });
  } else {
    describe.skip(`${name} (SKIPPED: ${missing})`, () => body(current));
  }
}
