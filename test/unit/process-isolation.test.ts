import { chooseProcessIsolation, type SandboxProbe } from '../../src/sites/process-isolation.js';

/** A host where the sandbox works with these networks, and fails with the others for the reason given. */
const host = (works: ReadonlyArray<'none' | 'egress'>, why: Record<string, string> = {}): SandboxProbe =>
  async (_uid, network) => (works.includes(network) ? undefined : why[network] ?? `no ${network} here`);
const NO_SLIRP = '/usr/bin/slirp4netns is not installed (Debian: apt-get install slirp4netns), and runs with network: egress need it for a network of their own';
const NO_BWRAP = '/usr/bin/bwrap is not installed (Debian: apt-get install bubblewrap)';

describe('how a site\'s process runs are contained, as its settings and the host allow', () => {
  const site = (isolation: 'sandbox' | 'auto' | 'none', network: 'none' | 'egress') => ({ isolation, network, runUid: 65534 });

  it('sandboxes with the network asked for wherever the host allows it', async () => {
    expect(await chooseProcessIsolation(site('sandbox', 'egress'), host(['none', 'egress']))).toEqual({ kind: 'sandbox', network: 'egress' });
    expect(await chooseProcessIsolation(site('auto', 'none'), host(['none']))).toEqual({ kind: 'sandbox', network: 'none' });
  });

  it('runs nothing with isolation: sandbox when the sandbox cannot have the network asked for, saying why', async () => {
    expect(await chooseProcessIsolation(site('sandbox', 'egress'), host(['none'], { egress: NO_SLIRP }))).toEqual({ kind: 'unavailable', problem: NO_SLIRP });
    expect(await chooseProcessIsolation(site('sandbox', 'none'), host([], { none: NO_BWRAP }))).toEqual({ kind: 'unavailable', problem: NO_BWRAP });
  });

  it('with auto and egress on a host without slirp4netns, sandboxes without a network rather than not at all, and says so', async () => {
    expect(await chooseProcessIsolation(site('auto', 'egress'), host(['none'], { egress: NO_SLIRP }))).toEqual({
      kind: 'sandbox', network: 'none', warning: `its runs get NO NETWORK (network: none, not egress: ${NO_SLIRP})`,
    });
  });

  it('falls back to plain processes only with auto and no sandbox at all, or when the site says isolation: none', async () => {
    expect(await chooseProcessIsolation(site('auto', 'egress'), host([], { none: NO_BWRAP, egress: NO_BWRAP }))).toEqual({ kind: 'plain', problem: NO_BWRAP });
    expect(await chooseProcessIsolation(site('auto', 'none'), host([], { none: NO_BWRAP }))).toEqual({ kind: 'plain', problem: NO_BWRAP });
    const asked: string[] = [];
    const counting: SandboxProbe = async (_uid, network) => { asked.push(network); return undefined; };
    expect(await chooseProcessIsolation(site('none', 'egress'), counting)).toEqual({ kind: 'plain', problem: 'the site says isolation: none' });
    expect(asked).toEqual([]); // nothing is probed for a site that wants no sandbox
  });
});
