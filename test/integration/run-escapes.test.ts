import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunHandle, RunStatus } from '../../src/broker/executor.js';
import { LocalProcessExecutor } from '../../src/sites/local-process-executor.js';
import { makeRunCgroups, sweepRunCgroups } from '../../src/sites/run-cgroup.js';
import { makeNetworkFifos, startNetwork } from '../../src/sites/run-network.js';
import { runAs, sandboxFailure } from '../../src/sites/sandbox.js';
import { demoSite, freePort, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';
import { containersOf, podmanForTests, removeContainers, TEST_IMAGE } from '../support/podman.js';
import { goneWithin, processesMatching, sandboxForTests } from '../support/sandbox.js';

type Doc = Record<string, any>;
const update = (value: string) => JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value });
const SECRET = `worker-secret-${process.pid}-${Date.now()}`;
// The secret reaches runs in two halves, so that only the worker's environment holds it whole.
const HALVES = { SECRET_A: SECRET.slice(0, 7), SECRET_B: SECRET.slice(7) };
const sandboxed = await sandboxForTests('the escape suite on sandboxed process runs');
const egressSandboxed = await sandboxForTests('the escape suite on sandboxed process runs with network: egress (slirp4netns)', 'egress');
const podmanReady = await podmanForTests('the escape suite on podman containers');

/** Sessions on a site, driven through the API, with every phase read back from the broker. */
function sessionsOn(broker: () => TestBroker, image: string) {
  const started: string[] = [];
  const body = (shell: string, environment: Record<string, string> = {}) => ({
    executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: [image] }, entrypoint: '/bin/sh', command: ['-c', shell], environment },
    compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 }, memory: { min: 1, max: 1 } },
    schedule: { requested: { duration: 'PT10M' } },
  });
  return {
    started,
    async accept(shell: string, environment: Record<string, string> = {}): Promise<string> {
      const set = (await broker().http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body(shell, environment)))).body as Doc;
      const uuid = set.offers[0].meta.uuid as string;
      started.push(uuid);
      await broker().http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
      return uuid;
    },
    async until(uuid: string, phases: string[], ms = 60_000): Promise<Doc> {
      const end = Date.now() + ms;
      for (;;) {
        const session = (await broker().http.get(`/sessions/${uuid}`)).body as Doc;
        if (phases.includes(session.phase) || Date.now() > end) return session;
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    cancel: (uuid: string) => broker().http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('CANCELLED')).expect(200),
    log: async (uuid: string): Promise<string> => (await broker().http.get(`/sessions/${uuid}/logs`)).text,
  };
}

/** The offer set for a one-core session whose executable serves a port of this protocol. */
async function askWithPort(broker: TestBroker, protocol: string): Promise<Doc> {
  const body = {
    executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/bin/sh', command: ['-c', 'true'], network: { ports: [{ access: true, internal: { port: 8080 }, protocol }] } },
    compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 }, memory: { min: 1, max: 1 } },
    schedule: { requested: { duration: 'PT10M' } },
  };
  return (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body))).body as Doc;
}

/** A process of the host in a group of its own, which no run may reach. */
function bystander(seconds: number): ChildProcess {
  const child = spawn('/bin/sleep', [String(seconds)], { detached: true, stdio: 'ignore' });
  child.unref();
  return child;
}
const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true; } catch { return false; } };

// The attempts every run makes; each prints ESCAPED-<what> only where it worked.
const ATTEMPTS = [
  'cat "/proc/$WORKER/environ" >/dev/null 2>&1 && echo ESCAPED-worker-environ',
  'grep -qs "$SECRET_A$SECRET_B" /proc/*/environ && echo ESCAPED-some-environ',
  'env | grep -q "$SECRET_A$SECRET_B" && echo ESCAPED-own-environ',
  'cat "$OTHER/outputs/secret.txt" 2>/dev/null && echo ESCAPED-other-session',
  'ls "$(dirname "$(dirname "$EB_OUTPUTS")")" 2>/dev/null | grep -q "$OTHER_UUID" && echo ESCAPED-scratch-listing',
  'cat /etc/shadow >/dev/null 2>&1 && echo ESCAPED-shadow',
].join('; ');

(sandboxed ? describe : describe.skip)('what a sandboxed process run cannot do', () => {
  let broker: TestBroker;
  const scratch = mkdtempSync(join(tmpdir(), 'eb-escapes-'));
  const sessions = sessionsOn(() => broker, 'busybox');
  const redisPort = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379').port || '6379';
  beforeAll(async () => {
    process.env.EB_ESCAPE_SECRET = SECRET;
    broker = await startTestBroker({ config: { sites: [demoSite({
      cores: 16, memoryGiB: 64, preparationMs: 0, releasingMs: 0, scratchDir: scratch,
      processRuns: { isolation: 'sandbox', network: 'none', runUid: 65534, processesPerRun: 24 },
    })] } });
  });
  afterAll(async () => {
    for (const uuid of sessions.started) await sessions.cancel(uuid).catch(() => undefined);
    await broker.close();
    delete process.env.EB_ESCAPE_SECRET;
  });

  it('reads neither the worker\'s environment, nor another session\'s files, nor Redis, nor the host\'s secrets', async () => {
    const other = await sessions.accept('echo only-mine > "$EB_OUTPUTS/secret.txt"');
    expect((await sessions.until(other, ['COMPLETED', 'FAILED'])).phase).toBe('COMPLETED');
    const uuid = await sessions.accept(`${ATTEMPTS}; `
      + '(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG) && echo ESCAPED-redis; '
      + 'id -u; echo attempts-made', {
      WORKER: String(process.pid), ...HALVES, OTHER: join(scratch, other), OTHER_UUID: other, REDIS_PORT: redisPort,
    });
    const session = await sessions.until(uuid, ['COMPLETED', 'FAILED']);
    const log = await sessions.log(uuid);
    expect(log).toContain('attempts-made');
    expect(log).not.toMatch(/ESCAPED-/);
    expect(log).not.toContain('only-mine');
    if (process.getuid?.() === 0) expect(log).toContain('65534\n');
    expect(session.phase).toBe('COMPLETED');
    // The worker itself reads Redis, and the other session's file is there: the attempts could have worked.
    expect(await broker.redis.ping()).toBe('PONG');
  });

  it('cannot forge its outcome or aim the cancel at another process group, and nothing it started outlives CANCEL', async () => {
    const victim = bystander(3101);
    const uuid = await sessions.accept(
      'd=$(dirname "$EB_OUTPUTS"); echo 0 > "$d/exit-code"; echo "$VICTIM" > "$d/group"; echo "$VICTIM" > "$d/pid"; '
      + 'sleep 3102 & setsid sleep 3103 & (setsid sh -c "sleep 3104" &); exec sleep 3105',
      { VICTIM: String(victim.pid) },
    );
    expect((await sessions.until(uuid, ['RUNNING', 'COMPLETED', 'FAILED'])).phase).toBe('RUNNING');
    for (let i = 0; i < 100 && processesMatching(/^sleep 310[2-5]$/).length < 4; i++) await new Promise((r) => setTimeout(r, 50));
    expect(processesMatching(/^sleep 310[2-5]$/)).toHaveLength(4);
    // Several polls later, it still runs: the exit code it wrote is not the one the worker reads.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await broker.http.get(`/sessions/${uuid}`)).body.phase).toBe('RUNNING');
    await sessions.cancel(uuid);
    expect(await goneWithin(/^sleep 310[2-5]$/, 2_000)).toEqual([]);
    expect((await sessions.until(uuid, ['CANCELLED', 'COMPLETED', 'FAILED'])).phase).toBe('CANCELLED');
    expect(alive(victim.pid ?? 0)).toBe(true);
    process.kill(victim.pid ?? 0, 'SIGKILL');
  });

  it('ends every process it started, in the background or in a new session, with COMPLETED; its status is its own', async () => {
    const uuid = await sessions.accept(
      'sleep 3111 & setsid sleep 3112 & (setsid sh -c "sleep 3113" &); sleep 0.3; '
      + 'echo "children: $(ps -eo args | grep -c "^sleep 311[123]$")"; d=$(dirname "$EB_OUTPUTS"); echo 1 > "$d/exit-code"',
    );
    const session = await sessions.until(uuid, ['COMPLETED', 'FAILED']);
    expect(await goneWithin(/^sleep 311[1-3]$/, 2_000)).toEqual([]);
    expect(await sessions.log(uuid)).toContain('children: 3\n');
    expect(session.phase).toBe('COMPLETED');

    const failing = await sessions.accept('d=$(dirname "$EB_OUTPUTS"); echo 0 > "$d/exit-code"; sleep 3114 & exit 7');
    const failed = await sessions.until(failing, ['COMPLETED', 'FAILED']);
    expect(failed.phase).toBe('FAILED');
    expect(failed.meta.messages.at(-1)).toMatchObject({ message: 'The executable exited with status 7' });
    expect(await goneWithin(/^sleep 3114$/, 2_000)).toEqual([]);
  });

  it('runs with the PATH its request sets, without losing track of the run', async () => {
    const uuid = await sessions.accept('echo "path is $PATH"; exit 3', { PATH: '/nonexistent' });
    const session = await sessions.until(uuid, ['COMPLETED', 'FAILED']);
    expect(session.meta.messages.at(-1)).toMatchObject({ message: 'The executable exited with status 3' });
    expect(await sessions.log(uuid)).toBe('path is /nonexistent\n');
  });

  it('cannot start more processes than the site allows a run: the fork fails inside it', async () => {
    const uuid = await sessions.accept('i=0; while [ $i -lt 60 ]; do sleep 3121 & i=$((i+1)); done; echo "started all 60"');
    const session = await sessions.until(uuid, ['COMPLETED', 'FAILED']);
    const log = await sessions.log(uuid);
    expect(log).toMatch(/Cannot fork|Resource temporarily unavailable/);
    expect(log).not.toContain('started all 60');
    expect(session.phase).toBe('FAILED');
    expect(await goneWithin(/^sleep 3121$/, 2_000)).toEqual([]);
  });
  it('is offered no port to serve, saying why (network: none: nothing could reach it)', async () => {
    const set = await askWithPort(broker, 'HTTP');
    expect(set.result).toBe('NO');
    expect(set.offers ?? []).toEqual([]);
    expect(set.meta.messages.map((m: Doc) => m.message)).toContain(
      'Site demo cannot serve the executable\'s ports: this site\'s runs have no network (network: none in the sites file), so no port of theirs can be reached');
  });
});

(egressSandboxed ? describe : describe.skip)('what a sandboxed process run with network: egress reaches (its own network, behind slirp4netns)', () => {
  const PASSWORD = `escape-pw-${process.pid}-${Date.now()}`;
  let server: ChildProcess;
  let port = 0;
  let broker: TestBroker;
  let outside: Server;
  const sessions = sessionsOn(() => broker, 'busybox');
  // The host's own address on its network: what the run reaches there stands for the world beyond
  // the host (the test machine has no other), and the loopback is where Redis and the broker are.
  const hostAddress = Object.values(networkInterfaces()).flat().find((nic) => nic?.family === 'IPv4' && !nic.internal)?.address;
  beforeAll(async () => {
    port = await freePort();
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', mkdtempSync(join(tmpdir(), 'eb-escape-redis-')), '--save', '', '--appendonly', 'no', '--requirepass', PASSWORD], { stdio: 'ignore' });
    for (let i = 0; i < 50 && !spawnSync('redis-cli', ['-p', String(port), '--no-auth-warning', '-a', PASSWORD, 'ping']).stdout?.toString().includes('PONG'); i++) await new Promise((r) => setTimeout(r, 100));
    outside = createServer((_req, res) => res.end('hello from beyond the run\n')).listen(0, '0.0.0.0');
    await new Promise((ready) => outside.once('listening', ready));
    broker = await startTestBroker({ config: {
      redisUrl: `redis://:${PASSWORD}@127.0.0.1:${port}`,
      sites: [demoSite({ cores: 16, memoryGiB: 64, preparationMs: 0, releasingMs: 0, processRuns: { isolation: 'sandbox', network: 'egress', runUid: 65534, processesPerRun: 24 } })],
    } });
  });
  afterAll(async () => {
    await broker.close();
    server.kill('SIGTERM');
    outside.close();
  });

  it('reaches the host\'s address on its network, and nothing on the host\'s loopback: not Redis, whether asked at 127.0.0.1 or at slirp4netns\'s gateway', async () => {
    expect(hostAddress).toBeDefined();
    const { port: outsidePort } = outside.address() as { port: number };
    const uuid = await sessions.accept([
      'redis-cli -p "$REDIS_PORT" ping 2>&1 | head -1',
      'redis-cli -h 10.0.2.2 -p "$REDIS_PORT" ping 2>&1 | head -1',
      'curl -s -m 10 "http://$OUTSIDE/"',
      'echo "url: [$REDIS_URL]"',
    ].join('; '), { REDIS_PORT: String(port), OUTSIDE: `${hostAddress}:${outsidePort}` });
    const session = await sessions.until(uuid, ['COMPLETED', 'FAILED']);
    const log = await sessions.log(uuid);
    expect(log).toContain(`Could not connect to Redis at 127.0.0.1:${port}: Connection refused`);
    expect(log).toMatch(new RegExp(`Could not connect to Redis at 10\\.0\\.2\\.2:${port}: (Network is unreachable|Connection refused)`));
    expect(log).not.toMatch(/NOAUTH|PONG/);
    expect(log).toContain('hello from beyond the run');
    expect(log).toContain('url: []\n');
    expect(session.phase).toBe('COMPLETED');
  });

  it('is offered TCP ports to serve, and no UDP port, saying why (slirp4netns drops the replies)', async () => {
    expect((await askWithPort(broker, 'TCP')).result).toBe('YES');
    const set = await askWithPort(broker, 'UDP');
    expect(set.result).toBe('NO');
    expect(set.meta.messages.map((m: Doc) => m.message)).toContain('Site demo cannot serve the executable\'s ports: this site forwards TCP ports to its sandboxed runs, not UDP');
  });

  it('serves its published port to the host through slirp4netns, which ends with the run', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'eb-egress-'));
    const executor = new LocalProcessExecutor(scratch, {}, { sandbox: { network: 'egress', processesPerRun: 24, uid: 65534 } });
    const handle = await executor.submit({
      sessionUuid: 'served', entrypoint: '/bin/sh', command: ['-c', 'exec python3 -m http.server "$PORT" --bind 0.0.0.0'],
      environment: {}, timeLimitMs: 60_000, ports: [{ internal: 8000, protocol: 'TCP' }],
    });
    const external = handle.ports?.[0]?.external;
    expect(external).toBeGreaterThan(0);
    let status = 0;
    for (const end = Date.now() + 20_000; status !== 200 && Date.now() < end;) {
      status = await fetch(`http://127.0.0.1:${external}/`).then((res) => res.status, () => 0);
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
    const holder = readFileSync(join(handle.dir, 'net-holder'), 'utf8').trim();
    const slirp = new RegExp(`^/usr/bin/slirp4netns .*--userns-path=/proc/${holder}/ns/user `);
    expect(processesMatching(slirp)).toHaveLength(1);
    await executor.cancel(handle);
    expect(await executor.poll(handle)).toEqual({ state: 'cancelled' });
    expect(await goneWithin(slirp, 5_000)).toEqual([]);
    expect(await fetch(`http://127.0.0.1:${external}/`).then((res) => res.status, (error: Error) => error.message)).toBe('fetch failed');
  });

  it('never lets the program start when slirp4netns cannot join the run\'s namespaces, and keeps the reason for the outcome', async () => {
    // The wrapper's network step, as a run's wrapper runs it, for "sandboxes" whose namespaces
    // slirp4netns cannot join: a network namespace of root's (the run's uid may not enter it), and
    // the host's own (which the wrapper never hands to slirp4netns).
    const attempt = async (holder: string[], said: RegExp): Promise<void> => {
      const dir = mkdtempSync(join(tmpdir(), 'eb-netfail-'));
      const run = spawn(holder[0]!, holder.slice(1), { detached: true, stdio: 'ignore' });
      writeFileSync(join(dir, 'net-holder'), String(run.pid));
      const shell = `eb_run=${run.pid}; ${makeNetworkFifos(dir)}${startNetwork(dir, [], runAs({ uid: 65534 }), '127.0.0.1')}echo "network: [$eb_net]"`;
      expect(spawnSync('/bin/sh', ['-c', shell], { cwd: dir, timeout: 20_000 }).stdout.toString()).toBe('network: []\n');
      await new Promise((done) => (run.exitCode !== null || run.signalCode !== null ? done(undefined) : run.once('exit', done)));
      expect(run.signalCode).toBe('SIGKILL'); // the run's group, before its program could start
      const reason = await sandboxFailure(dir, 137);
      expect(reason).toMatch(said);
      expect(reason!.length).toBeLessThanOrEqual(400);
    };
    if (process.getuid?.() === 0) await attempt(['/usr/bin/unshare', '--net', '/bin/sleep', '30'], /^the run's network could not be set up \(slirp4netns\): userns path doesn't exist: \/proc\/\d+\/ns\/user$/);
    await attempt(['/bin/sleep', '30'], /^the run's network could not be set up \(slirp4netns\): the run's network namespace was not there to join$/);
  });
});

(podmanReady ? describe : describe.skip)('what a podman container run cannot do', () => {
  let broker: TestBroker;
  const sessions = sessionsOn(() => broker, TEST_IMAGE);
  beforeAll(async () => {
    process.env.EB_ESCAPE_SECRET = SECRET;
    broker = await startTestBroker({ config: { sites: [demoSite({
      cores: 16, memoryGiB: 64, preparationMs: 0, releasingMs: 0, executor: { type: 'local', containerRuntime: 'podman' },
      processRuns: { isolation: 'sandbox', network: 'none', runUid: 65534, processesPerRun: 24 },
    })] } });
  });
  afterAll(async () => {
    await broker.close();
    await removeContainers(sessions.started);
    delete process.env.EB_ESCAPE_SECRET;
  });

  it('reads neither the worker\'s environment nor another session\'s files, and nothing it started outlives COMPLETED or CANCEL', async () => {
    const other = await sessions.accept('echo only-mine > "$EB_OUTPUTS/secret.txt"');
    expect((await sessions.until(other, ['COMPLETED', 'FAILED'])).phase).toBe('COMPLETED');
    const uuid = await sessions.accept(`${ATTEMPTS}; sleep 3131 & setsid sleep 3132 & sleep 0.3; echo attempts-made`, {
      WORKER: String(process.pid), ...HALVES, OTHER: join(broker.config.sites[0]?.scratchDir ?? '', other), OTHER_UUID: other,
    });
    const session = await sessions.until(uuid, ['COMPLETED', 'FAILED']);
    expect(await goneWithin(/^sleep 313[12]$/, 2_000)).toEqual([]);
    const log = await sessions.log(uuid);
    expect(log).toContain('attempts-made');
    expect(log).not.toMatch(/ESCAPED-/);
    expect(session.phase).toBe('COMPLETED');

    const cancelled = await sessions.accept('sleep 3133 & setsid sleep 3134 & exec sleep 3135');
    expect((await sessions.until(cancelled, ['RUNNING', 'COMPLETED', 'FAILED'])).phase).toBe('RUNNING');
    for (let i = 0; i < 200 && processesMatching(/^sleep 313[3-5]$/).length < 3; i++) await new Promise((r) => setTimeout(r, 50));
    expect(processesMatching(/^sleep 313[3-5]$/)).toHaveLength(3);
    await sessions.cancel(cancelled);
    expect((await sessions.until(cancelled, ['CANCELLED', 'COMPLETED', 'FAILED'])).phase).toBe('CANCELLED');
    expect(await goneWithin(/^sleep 313[3-5]$/, 2_000)).toEqual([]);
    // The container's record goes a little later (podman rm).
    for (let i = 0; i < 100 && (await containersOf([cancelled])).length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await containersOf([cancelled])).toEqual([]);
  }, 120_000);

  it('cannot start more processes than the site allows a run (--pids-limit)', async () => {
    const uuid = await sessions.accept('i=0; while [ $i -lt 60 ]; do sleep 3141 & i=$((i+1)); done; echo "started all 60"');
    const session = await sessions.until(uuid, ['COMPLETED', 'FAILED']);
    expect(await sessions.log(uuid)).not.toContain('started all 60');
    expect(session.phase).toBe('FAILED');
    expect(await goneWithin(/^sleep 3141$/, 2_000)).toEqual([]);
  }, 60_000);
});

const cgroupsHere = process.getuid?.() === 0 && existsSync('/sys/fs/cgroup/memory/cgroup.procs') && existsSync('/sys/fs/cgroup/cpu/cgroup.procs');
if (sandboxed && !cgroupsHere) console.warn('SKIPPED: memory and CPU bounds of process runs (the worker is not root, or cgroups v1 memory and cpu are not mounted)');

(sandboxed && cgroupsHere ? describe : describe.skip)('the memory and CPU a sandboxed process run was offered', () => {
  const root = mkdtempSync(join(tmpdir(), 'eb-bounds-'));
  const executor = new LocalProcessExecutor(root, {}, { sandbox: { network: 'none', processesPerRun: 64, uid: 65534 } });
  const spec = (session: string, script: string) => ({ sessionUuid: session, entrypoint: '/bin/sh', command: ['-c', script], environment: {}, timeLimitMs: 60_000, cores: 1, memoryMiB: 32 });
  async function ended(handle: RunHandle): Promise<RunStatus> {
    let status = await executor.poll(handle);
    for (let i = 0; i < 600 && status.state === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = await executor.poll(handle);
    }
    return status;
  }

  it('holds the run to its memory: over it, the kernel kills it and the outcome says so', async () => {
    // tail is made the kernel's first choice (oom_score_adj 1000): otherwise the OOM killer may take the shell too, as seen once in CI.
    const handle = await executor.submit(spec('oom', 'head -c 200m /dev/zero | (echo 1000 > /proc/self/oom_score_adj; exec tail > /dev/null); echo "tail ended $?"; exit 3'));
    expect(await ended(handle)).toEqual({ state: 'exited', exitCode: 3, timedOut: false, oomKilled: true, cpuSeconds: expect.any(Number) });
    expect((await executor.logs(handle)).text).toContain('tail ended 137');
    // Its cgroups go with it.
    const listed = readFileSync(join(handle.dir, 'cgroups'), 'utf8').trim().split('\n');
    expect(listed.map((cgroup) => cgroup.split('/')[4])).toEqual(['memory', 'cpu', 'cpuacct']); // cpuacct counts its CPU time
    for (const cgroup of listed) expect(existsSync(cgroup)).toBe(false);
  });

  it('gives the run the CPU time of the cores offered (a CFS quota), and its every process is in its cgroups', async () => {
    const handle = await executor.submit(spec('cpu', 'sleep 3171 & sleep 3172'));
    const listed = readFileSync(join(handle.dir, 'cgroups'), 'utf8').trim().split('\n');
    const cpu = listed.find((cgroup) => cgroup.startsWith('/sys/fs/cgroup/cpu/')) ?? '';
    expect(readFileSync(join(cpu, 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('100000');
    for (let i = 0; i < 100 && processesMatching(/^sleep 317[12]$/).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    const members = readFileSync(join(cpu, 'cgroup.procs'), 'utf8').trim().split('\n').map((pid) => {
      try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim(); } catch { return ''; }
    });
    expect(members).toEqual(expect.arrayContaining(['sleep 3171', 'sleep 3172']));
    await executor.cancel(handle);
    expect(await goneWithin(/^sleep 317[12]$/, 2_000)).toEqual([]);
    expect(existsSync(cpu)).toBe(false);
  });

  it('removes, when a worker starts, the cgroups a worker killed at the wrong moment left behind', async () => {
    const handle = await executor.submit(spec('left', 'exit 0'));
    await ended(handle);
    // As if the worker had died before removing them: made again, and the run over.
    const made = await makeRunCgroups(handle.dir, 'left', { cores: 1, memoryMiB: 32 });
    expect(made.every((cgroup) => existsSync(cgroup))).toBe(true);
    await sweepRunCgroups(root);
    expect(made.filter((cgroup) => existsSync(cgroup))).toEqual([]);
  });
});

const asRoot = process.getuid?.() === 0;
if (sandboxed && !asRoot) console.warn('SKIPPED: development images kept where only root may enter (the worker is not root, so its runs are its own uid)');

(sandboxed && asRoot ? describe : describe.skip)('a development image whose program is where the run\'s uid cannot go', () => {
  // mkdtemp makes the directory 0700: the run's uid (65534) may not enter it, as with a checkout under /root.
  const kept = mkdtempSync(join(tmpdir(), 'eb-private-image-'));
  const program = join(kept, 'program.sh');
  writeFileSync(program, 'echo "image ran as $(id -u): $*"\n');
  chmodSync(program, 0o755);
  const root = mkdtempSync(join(tmpdir(), 'eb-image-runs-'));
  const executor = new LocalProcessExecutor(root, { 'test.example/private:1': { entrypoint: '/bin/sh', command: [program] } }, { sandbox: { network: 'none', processesPerRun: 64, uid: 65534 } });

  it('runs from a copy in the session\'s directory, and the original stays where it is, unread by the run', async () => {
    expect(statSync(kept).mode & 0o777).toBe(0o700);
    const handle = await executor.submit({ sessionUuid: 'private-image', image: 'test.example/private:1', command: ['--catalogue', 'x'], environment: {}, timeLimitMs: 60_000 });
    let status = await executor.poll(handle);
    for (let i = 0; i < 600 && status.state === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = await executor.poll(handle);
    }
    expect({ state: status.state, log: (await executor.logs(handle)).text.trim() }).toEqual({ state: 'exited', log: 'image ran as 65534: --catalogue x' });
    expect(readFileSync(join(handle.dir, 'image', '1-program.sh'), 'utf8')).toBe(readFileSync(program, 'utf8'));
    expect(statSync(join(handle.dir, 'image', '1-program.sh')).mode & 0o777).toBe(0o755);
  });
});
