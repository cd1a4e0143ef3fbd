import type { ProcessRunSettings } from '../domain/site-profile.js';
import { probeSandbox } from './sandbox.js';

/** How a site's process runs are contained on this host, as its settings and the host allow. */
export type ProcessIsolation =
  | { kind: 'sandbox'; network: ProcessRunSettings['network']; warning?: string }
  | { kind: 'plain'; problem: string }
  | { kind: 'unavailable'; problem: string };

/** Whether runs can be sandboxed here with that network: undefined when they can, else why not (sandbox.ts). */
export type SandboxProbe = (uid: number, network: ProcessRunSettings['network']) => Promise<string | undefined>;

/**
 * `isolation: sandbox` gets a sandbox with the network asked for, or no runs at all; `auto` gets
 * the same where the host allows it, else, for `egress` on a host without slirp4netns (or user
 * namespaces for it), a sandbox with no network, which is safer than none; and only where no
 * sandbox works, plain processes. `none` is plain processes.
 */
export async function chooseProcessIsolation(settings: Pick<ProcessRunSettings, 'isolation' | 'network' | 'runUid'>, probe: SandboxProbe = probeSandbox): Promise<ProcessIsolation> {
  if (settings.isolation === 'none') return { kind: 'plain', problem: 'the site says isolation: none' };
  const problem = await probe(settings.runUid, settings.network);
  if (!problem) return { kind: 'sandbox', network: settings.network };
  if (settings.isolation === 'sandbox') return { kind: 'unavailable', problem };
  if (settings.network === 'egress') {
    const without = await probe(settings.runUid, 'none');
    if (!without) return { kind: 'sandbox', network: 'none', warning: `its runs get NO NETWORK (network: none, not egress: ${problem})` };
    return { kind: 'plain', problem: without };
  }
  return { kind: 'plain', problem };
}
