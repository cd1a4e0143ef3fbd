import type { ProcessRunSettings, SiteProfile } from '../domain/site-profile.js';
import { ConfigError } from './config-error.js';
import type { AuthConfig } from './load-auth-config.js';

/** A site's process-run settings as the sites file writes them. */
export interface ProcessRunEntry {
  isolation?: ProcessRunSettings['isolation'];
  network?: ProcessRunSettings['network'];
  runUid?: number;
  limits?: { processesPerRun?: number };
}

/** The defaults: sandboxed, no network, uid 65534 (nobody) as root, 256 processes. */
export function processRunSettings(entry: ProcessRunEntry): ProcessRunSettings {
  return {
    isolation: entry.isolation ?? 'sandbox',
    network: entry.network ?? 'none',
    runUid: entry.runUid ?? 65534,
    processesPerRun: entry.limits?.processesPerRun ?? 256,
  };
}

/** Whether the site may run sessions as processes of its host (a local executor without a named container runtime). */
export const runsProcesses = (site: SiteProfile): boolean =>
  site.executor.type === 'local' && ['none', 'auto', undefined].includes(site.executor.containerRuntime);

/**
 * Refuses a site that may run strangers' code without a sandbox: one that acts for its users
 * (tokenExchange), or any such site of a broker that serves more than one user (an issuer is
 * configured, or anonymous use from beyond loopback is allowed). Without a sandbox a run reads
 * the worker's environment and files, and with them every user's tokens.
 */
export function refuseUnisolated(sites: readonly SiteProfile[], auth: AuthConfig): void {
  for (const site of sites) {
    if (!runsProcesses(site) || site.processRuns.isolation === 'sandbox') continue;
    const why = site.tokenExchange ? 'acts for its users (tokenExchange)'
      : auth.oidc ? 'serves more than one user (an issuer is configured)'
        : auth.allowAnonymousRemote ? 'serves more than one user (ALLOW_ANONYMOUS_REMOTE=true)' : undefined;
    if (why) {
      throw new ConfigError(`site ${site.name} ${why} and may run sessions as processes of its host with isolation: ${site.processRuns.isolation}: `
        + 'set isolation: sandbox (bubblewrap) or a container runtime (containerRuntime: podman, docker or apptainer)');
    }
  }
}
