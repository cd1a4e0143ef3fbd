export interface SlurmCluster {
  /** The cluster's directory: its slurm.conf, logs, state. */
  dir: string;
  /** Its slurm.conf, for SLURM_CONF. */
  conf: string;
}
export function findProgram(name: string): string | undefined;
export function slurmMissing(): string | undefined;
export function slurmClient(dir: string, name: string, args: string[]): string | undefined;
export function startSlurmCluster(options?: { owner?: number }): Promise<SlurmCluster>;
export function stopSlurmCluster(dir: string): Promise<void>;
export function reapStaleClusters(): Promise<void>;
export function sharedSlurmCluster(): Promise<SlurmCluster>;
export function stopSharedSlurmCluster(): Promise<void>;
