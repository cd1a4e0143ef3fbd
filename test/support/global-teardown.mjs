import { stopSharedSlurmCluster } from './slurm-cluster.mjs';

export default async function globalTeardown() {
  await stopSharedSlurmCluster();
  globalThis.__EB_TEST_REDIS__?.kill('SIGTERM');
}
