import { join } from 'node:path';
import { runLogBytesOnDisk } from '../../src/sites/log-file.js';
import { demoSite, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';
import { containersOf, podmanForTests, removeContainers, TEST_IMAGE } from '../support/podman.js';

type Doc = Record<string, any>;
const update = (value: string) => JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value });
const ready = await podmanForTests('the sessions that run in podman containers');

/** Sessions from offer to end on a `containerRuntime: podman` site: real containers, real ports. */
(ready ? describe : describe.skip)('sessions that run in podman containers', () => {
  let broker: TestBroker;
  const sessions: string[] = [];
  beforeAll(async () => {
    const site = demoSite({ cores: 16, memoryGiB: 64, preparationMs: 0, releasingMs: 0, executor: { type: 'local', containerRuntime: 'podman' } });
    broker = await startTestBroker({ config: { sites: [{ ...site, limits: { ...site.limits, outputBytes: 1024 * 1024, logBytes: 64 * 1024, servedLogBytes: 16 * 1024 } }] } });
  });
  afterAll(async () => {
    await broker.close();
    await removeContainers(sessions);
  });

  const container = (shell: string, extra: Doc = {}) => ({
    executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: [TEST_IMAGE] }, entrypoint: '/bin/sh', command: ['-c', shell], environment: { GREETING: 'hi' }, ...extra },
    compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 }, memory: { min: 1, max: 1 } },
    schedule: { requested: { duration: 'PT10M' } },
  });

  async function accepted(body: Doc): Promise<string> {
    const set = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body))).body as Doc;
    const uuid = set.offers[0].meta.uuid as string;
    sessions.push(uuid);
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
    return uuid;
  }

  async function until(uuid: string, phases: string[], ms = 60_000): Promise<Doc> {
    const end = Date.now() + ms;
    for (;;) {
      const session = (await broker.http.get(`/sessions/${uuid}`)).body as Doc;
      if (phases.includes(session.phase) || Date.now() > end) return session;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('runs from accept to COMPLETED in a container, with the log, the outputs and the capacity released', async () => {
    const uuid = await accepted(container('echo "$GREETING from $(cat /etc/hostname | wc -c) bytes of hostname"; echo result > "$EB_OUTPUTS/out.txt"'));
    const session = await until(uuid, ['COMPLETED', 'FAILED']);
    expect(session.phase).toBe('COMPLETED');
    expect((await broker.http.get(`/sessions/${uuid}/logs`)).text).toMatch(/^hi from \d+ bytes of hostname\n$/);
    expect((await broker.http.get(`/sessions/${uuid}/outputs`)).body.files).toEqual([{ path: 'out.txt', size: 7, url: `${broker.baseUrl}/sessions/${uuid}/outputs/out.txt` }]);
    expect((await broker.http.get(`/sessions/${uuid}/outputs/out.txt`)).text).toBe('result\n');
    expect(await containersOf([uuid])).toEqual([]);
    expect(await broker.heldNow()).toBe(0);
  });

  it('serves the end of a long log, at most limits.logBytes of it on disk', async () => {
    const uuid = await accepted(container('i=0; while [ $i -lt 100000 ]; do echo "line $i"; i=$((i + 1)); done; echo THE-END'));
    expect((await until(uuid, ['COMPLETED', 'FAILED'], 120_000)).phase).toBe('COMPLETED');
    const served = (await broker.http.get(`/sessions/${uuid}/logs`)).text;
    expect(served).toMatch(/^\[\.\.\. \d+ bytes of log dropped: the end of the log is kept \.\.\.\]\n/);
    expect(served.endsWith('line 99998\nline 99999\nTHE-END\n')).toBe(true);
    expect(await runLogBytesOnDisk(join(broker.config.sites[0]!.scratchDir, uuid))).toBeLessThanOrEqual(64 * 1024);
  }, 150_000);

  it('stops a container whose outputs pass limits.outputBytes, and fails its session saying so', async () => {
    const uuid = await accepted(container('s=0123456789; s=$s$s$s$s$s$s$s$s$s$s; s=$s$s$s$s$s$s$s$s$s$s; while :; do echo "$s" >> "$EB_OUTPUTS/big"; done'));
    const session = await until(uuid, ['COMPLETED', 'FAILED']);
    expect(session.phase).toBe('FAILED');
    expect(session.meta.messages.at(-1).message).toMatch(/stopped the run: its outputs took more than the site's limit of 1\.0 MiB \(limits\.outputBytes\)/);
    expect(await containersOf([uuid])).toEqual([]);
    expect(await broker.heldNow()).toBe(0);
  });

  it('ends FAILED with the container\'s exit status', async () => {
    const session = await until(await accepted(container('echo oops >&2; exit 42')), ['COMPLETED', 'FAILED']);
    expect(session.phase).toBe('FAILED');
    expect(session.meta.messages.at(-1)).toMatchObject({ level: 'ERROR', message: 'The executable exited with status 42' });
    expect((await broker.http.get(`/sessions/${session.meta.uuid}/logs`)).text).toBe('oops\n');
    expect(await broker.heldNow()).toBe(0);
  });

  it('serves a port with access: true at its connector\'s URL while RUNNING; a cancel removes the container and releases the capacity', async () => {
    // The image's / is not writable without capabilities (all are dropped): the page goes in /tmp.
    const uuid = await accepted(container('mkdir -p /tmp/www && echo "served by $GREETING" > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www', {
      network: { ports: [{ access: true, internal: { port: 8080 }, protocol: 'HTTP', path: '/index.html' }] },
    }));
    const running = await until(uuid, ['RUNNING', 'COMPLETED', 'FAILED']);
    expect(running.phase).toBe('RUNNING');
    const connector = (running.connectors as Doc[]).find((c) => c.kind === 'urn:srcnet:connector:port');
    // Reached through the broker's connect proxy; the published port is in the executable.
    expect(connector).toMatchObject({ status: 'AVAILABLE', protocol: 'HTTP', location: `${broker.baseUrl}/sessions/${uuid}/connect/index.html` });
    expect(running.executable.network.ports[0].external).toEqual({ port: expect.any(Number), addresses: ['127.0.0.1'] });
    const direct = `http://127.0.0.1:${running.executable.network.ports[0].external.port as number}/index.html`;
    // httpd may take a moment to listen once the container runs.
    let answer = '';
    for (let i = 0; i < 100 && answer === ''; i++) {
      answer = await fetch(connector!.location).then((res) => (res.ok ? res.text() : ''), () => '');
      if (!answer) await new Promise((r) => setTimeout(r, 100));
    }
    expect(answer).toBe('served by hi\n');
    expect(await containersOf([uuid])).toEqual([`eb-${uuid}`]);

    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('CANCELLED')).expect(200);
    for (let i = 0; i < 150 && (await containersOf([uuid])).length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await containersOf([uuid])).toEqual([]);
    const cancelled = (await broker.http.get(`/sessions/${uuid}`)).body as Doc;
    expect(cancelled.phase).toBe('CANCELLED');
    expect(cancelled.connectors.find((c: Doc) => c.kind === 'urn:srcnet:connector:port').status).toBe('FINISHED');
    expect((await fetch(connector!.location)).status).toBe(404);
    expect(await fetch(direct).then(() => 'answered', () => 'refused')).toBe('refused');
    expect(await broker.heldNow()).toBe(0);
  });

  it('fails a session whose image cannot be run, with what the runtime said', async () => {
    const body = container('true');
    body.executable.image = { locations: ['localhost/eb-no-such-image:1'] };
    const session = await until(await accepted(body), ['COMPLETED', 'FAILED']);
    expect(session.phase).toBe('FAILED');
    expect(session.meta.messages.at(-1).message).toMatch(/^Site demo lost the run: podman could not run the container \(status 125\): .+/);
    expect(await broker.heldNow()).toBe(0);
  });
});
