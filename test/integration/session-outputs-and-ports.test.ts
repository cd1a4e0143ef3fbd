import { rmSync } from 'node:fs';
import { demoSite, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const update = (value: string) => JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value });

/** Outputs served from the site's directory, and ports of a plain process (`containerRuntime: none`). */
describe('session outputs and ports without a container', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startTestBroker({ config: { sites: [demoSite({ preparationMs: 0, releasingMs: 0 })] } });
  });
  afterAll(async () => { await broker.close(); });

  const process_ = (program: string, args: string[], extra: Doc = {}) => ({
    executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: program, command: args, ...extra },
    compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 } },
    schedule: { requested: { duration: 'PT10M' } },
  });

  async function accepted(body: Doc): Promise<string> {
    const set = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body))).body as Doc;
    const uuid = set.offers[0].meta.uuid as string;
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
    return uuid;
  }

  async function until(uuid: string, phases: string[], ms = 30_000): Promise<Doc> {
    const end = Date.now() + ms;
    for (;;) {
      const session = (await broker.http.get(`/sessions/${uuid}`)).body as Doc;
      if (phases.includes(session.phase) || Date.now() > end) return session;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  describe('outputs', () => {
    let uuid = '';
    beforeAll(async () => {
      uuid = await accepted(process_('/bin/sh', ['-c', [
        'cd "$EB_OUTPUTS"', 'echo a > a.txt', 'mkdir sub', 'echo b > sub/b.txt', 'echo h > .hidden',
        'ln -s /etc/passwd escape', 'ln -s a.txt inside', 'echo "<script>alert(1)</script>" > page.html',
      ].join('; ')]));
      expect((await until(uuid, ['COMPLETED', 'FAILED'])).phase).toBe('COMPLETED');
    });
    const outputs = () => `/sessions/${uuid}/outputs`;

    it('lists the regular files of a COMPLETED session with their URLs, following no link', async () => {
      const res = await broker.http.get(outputs()).expect(200);
      expect(res.body).toEqual({
        session: uuid,
        files: ['.hidden', 'a.txt', 'page.html', 'sub/b.txt'].map((path) => ({ path, size: path === 'page.html' ? 26 : 2, url: `${broker.baseUrl}${outputs()}/${path}` })),
      });
    });

    it('serves a file, as something that cannot act as a page of the broker', async () => {
      expect((await broker.http.get(`${outputs()}/sub/b.txt`).expect(200)).text).toBe('b\n');
      expect((await broker.http.get(`${outputs()}/inside`).expect(200)).text).toBe('a\n');
      const page = await broker.http.get(`${outputs()}/page.html`).expect(200);
      expect(page.headers['content-security-policy']).toBe("sandbox; default-src 'none'");
      expect(page.headers['x-content-type-options']).toBe('nosniff');
    });

    it.each([
      'escape', '../../../../../../etc/passwd', '..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd', '%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
      'sub/..%2F..%2F..%2F..%2Fetc%2Fpasswd', 'sub/../../../../../etc/passwd', '%2Fetc%2Fpasswd', 'sub', 'missing.txt', 'a.txt%00.png',
    ])('answers 404 for %s, never a file outside the outputs', async (path) => {
      const res = await broker.http.get(`${outputs()}/${path}`);
      expect(res.status).toBe(404);
      expect(res.text).not.toMatch(/root:/);
    });

    it('says where the outputs are when this process cannot read them', async () => {
      const session = (await broker.http.get(`/sessions/${uuid}`)).body as Doc;
      const dir = /outputs are in (\S+) on site/.exec(session.meta.messages.at(-1).message)![1]!;
      rmSync(dir, { recursive: true });
      const res = await broker.http.get(outputs()).expect(404);
      expect(res.body.detail).toBe(`The outputs of session [${uuid}] are in ${dir} on site demo, which this API process cannot read`);
    });
  });

  it('answers 404 for the outputs of a session that has not COMPLETED', async () => {
    const uuid = await accepted(process_('/bin/sh', ['-c', 'exit 1']));
    expect((await until(uuid, ['COMPLETED', 'FAILED'])).phase).toBe('FAILED');
    expect((await broker.http.get(`/sessions/${uuid}/outputs`).expect(404)).body.detail).toBe(`Session [${uuid}] is FAILED; its outputs are served once it is COMPLETED`);
  });

  it('gives a process a free host port for each port it exposes (EB_PORT_<n>, PORT), shown as a connector that answers', async () => {
    const server = "require('http').createServer((q, s) => s.end(`port ${process.env.PORT} is EB_PORT_8080 ${process.env.EB_PORT_8080}`)).listen(Number(process.env.PORT))";
    // The host's node, found on the run's PATH: the sandbox shows the run the system's programs,
    // not the one running the tests (CI's Node 24 lives under /root).
    const uuid = await accepted(process_('/usr/bin/env', ['node', '-e', server], {
      network: { ports: [{ access: true, internal: { port: 8080 }, protocol: 'HTTP' }] },
    }));
    const running = await until(uuid, ['RUNNING', 'COMPLETED', 'FAILED']);
    expect(running.phase).toBe('RUNNING');
    const connector = (running.connectors as Doc[]).find((c) => c.kind === 'urn:srcnet:connector:port')!;
    // Reached through the broker's connect proxy; the published port is in the executable.
    expect(connector).toMatchObject({ status: 'AVAILABLE', protocol: 'HTTP', location: `${broker.baseUrl}/sessions/${uuid}/connect/` });
    const port = String(running.executable.network.ports[0].external.port);
    const direct = `http://127.0.0.1:${port}/`;
    let answer = '';
    for (let i = 0; i < 100 && answer === ''; i++) {
      // 502 connector-unavailable until the server listens (a port is AVAILABLE once published).
      answer = await fetch(connector.location).then((res) => (res.ok ? res.text() : ''), () => '');
      if (!answer) await new Promise((r) => setTimeout(r, 100));
    }
    expect(answer).toBe(`port ${port} is EB_PORT_8080 ${port}`);
    expect(await (await fetch(direct)).text()).toBe(answer);
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('CANCELLED')).expect(200);
    expect((await until(uuid, ['CANCELLED'])).connectors.find((c: Doc) => c.kind === 'urn:srcnet:connector:port').status).toBe('FINISHED');
    expect((await fetch(connector.location)).status).toBe(404);
    let refused = false;
    for (let i = 0; i < 100 && !refused; i++) {
      refused = await fetch(direct).then(() => false, () => true);
      if (!refused) await new Promise((r) => setTimeout(r, 100));
    }
    expect(refused).toBe(true);
  });
});
