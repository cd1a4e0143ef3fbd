import { optionsFile, sandboxCommand, sandboxOptions } from '../../src/sites/sandbox.js';

const settings = { network: 'none' as const, processesPerRun: 50, uid: 4242, hidden: ['/etc/hostname'] };
const run = { dir: '/scratch/s1', cwd: '/scratch/s1/work/sub', environment: { A: 'one two', PATH: '/nonexistent' }, readOnly: ['/opt/tool.sh'] };

/** What bubblewrap is asked to do for a run, option by option. */
describe('sandbox options', () => {
  const options = sandboxOptions(settings, run);
  const pairs = (flag: string): string[][] => options.flatMap((option, i) => (option === flag ? [options.slice(i + 1, i + 3)] : []));

  it('gives the run namespaces of its own, no network with network: none, and ties it to bwrap\'s life', () => {
    expect(options).toEqual(expect.arrayContaining(['--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-net', '--die-with-parent', '--new-session', '--clearenv']));
  });

  it('with egress, makes the user and network namespaces before bwrap, which waits for slirp4netns and keeps the run\'s uid', () => {
    const egress = { ...settings, network: 'egress' as const };
    const options = sandboxOptions(egress, run);
    // bwrap joins the network namespace unshare made, where slirp4netns is: it makes none of its own.
    expect(options).not.toContain('--unshare-net');
    const after = (flag: string) => options[options.indexOf(flag) + 1];
    expect(after('--block-fd')).toBe('5');
    const uid = process.getuid?.() === 0 ? '4242' : String(process.getuid?.());
    expect([after('--uid'), after('--gid')]).toEqual([uid, process.getuid?.() === 0 ? '4242' : String(process.getgid?.())]);
    // Names resolve through slirp4netns's forwarder, not the host's (which may be on its loopback).
    expect(options).toEqual(expect.arrayContaining(['--ro-bind', '/scratch/s1/resolv.conf']));
    const command = sandboxCommand(egress, 3, ['sh']);
    const unshare = command.indexOf('/usr/bin/unshare');
    expect(command.slice(unshare, unshare + 5)).toEqual(['/usr/bin/unshare', '--user', '--net', '--map-root-user', '--']);
    expect(command.indexOf('/usr/bin/bwrap')).toBeGreaterThan(unshare);
    if (process.getuid?.() === 0) expect(command[0]).toBe('/usr/bin/setpriv');
    expect(sandboxCommand(settings, 3, ['sh'])).not.toContain('/usr/bin/unshare');
  });

  it('shows the session\'s work and outputs read-write, its data and named files read-only, and none of the session\'s control files', () => {
    expect(pairs('--bind')).toEqual([['/scratch/s1/work', '/scratch/s1/work'], ['/scratch/s1/outputs', '/scratch/s1/outputs']]);
    expect(pairs('--ro-bind-try')).toEqual(expect.arrayContaining([['/scratch/s1/data', '/scratch/s1/data'], ['/opt/tool.sh', '/opt/tool.sh']]));
    expect(options.filter((option) => option.startsWith('/scratch/s1') && !/^\/scratch\/s1\/(work|outputs|data)/.test(option))).toEqual([]);
    expect(pairs('--chdir')[0]?.[0]).toBe('/scratch/s1/work/sub');
  });

  it('hides the host\'s secrets and the files it is told to, and gives the request\'s environment only', () => {
    expect(pairs('--ro-bind')).toEqual(expect.arrayContaining([['/usr', '/usr'], ['/etc', '/etc'], ['/dev/null', '/etc/hostname']]));
    expect(options).not.toContain('/var/run');
    expect(pairs('--setenv')).toEqual([['A', 'one two'], ['PATH', '/nonexistent']]);
    expect(optionsFile(['--setenv', 'A', 'one two'])).toBe('--setenv\0A\0one two\0');
  });

  it('starts bwrap by absolute path with its options from a descriptor, the program under the process cap', () => {
    const command = sandboxCommand(settings, 3, ['sh', '-c', 'true']);
    const bwrap = command.indexOf('/usr/bin/bwrap');
    expect(command.slice(bwrap)).toEqual(['/usr/bin/bwrap', '--args', '3', '--json-status-fd', '4', '--', '/usr/bin/prlimit', '--nproc=50:50', '--', 'sh', '-c', 'true']);
    if (process.getuid?.() === 0) expect(command.slice(0, bwrap)).toEqual(['/usr/bin/setpriv', '--reuid=4242', '--regid=4242', '--clear-groups', '--inh-caps=-all', '--']);
    else expect(bwrap).toBe(0);
  });
});
