import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machineEgressPolicy } from '../../src/sites/egress-guard.js';
import { stageItem } from '../../src/sites/stage-files.js';
import { demoSite, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const update = (value: string) => JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value });

/** A loopback server that records every request it gets. */
async function recordingServer(host: string, handle: (req: IncomingMessage, res: import('node:http').ServerResponse) => void): Promise<{ server: Server; port: number; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req, res) => { seen.push(req.url ?? ''); handle(req, res); });
  await new Promise<void>((ready) => server.listen(0, host, ready));
  return { server, port: (server.address() as AddressInfo).port, seen };
}

/**
 * Staging fetches only what the site's egress policy allows: a URL whose host is a reserved
 * address is refused at negotiation, a name or a redirect that leads to one fails the session,
 * and the servers behind them never see a request. Only loopback servers are used; 10.0.0.1 and
 * 169.254.169.254 are refused before any connection.
 */
describe('the egress policy of staging', () => {
  let strict: TestBroker;
  let allowing: TestBroker;
  let data: Awaited<ReturnType<typeof recordingServer>>;
  let secret: Awaited<ReturnType<typeof recordingServer>>;
  let v6: Awaited<ReturnType<typeof recordingServer>> | undefined;
  let base = '';

  beforeAll(async () => {
    secret = await recordingServer('127.0.0.2', (_req, res) => res.end('the metadata secret\n'));
    data = await recordingServer('127.0.0.1', (req, res) => {
      if (req.url === '/to-loopback') res.writeHead(302, { location: `http://127.0.0.2:${secret.port}/latest/meta-data` }).end();
      else if (req.url === '/to-metadata') res.writeHead(307, { location: 'http://169.254.169.254/latest/meta-data' }).end();
      else if (req.url === '/to-private') res.writeHead(301, { location: 'http://10.0.0.1/' }).end();
      else res.end('a,b\n1,2\n');
    });
    v6 = await recordingServer('::1', (_req, res) => res.end('secret over IPv6\n')).catch(() => undefined);
    base = `http://127.0.0.1:${data.port}`;
    const site = { preparationMs: 0, releasingMs: 0 };
    strict = await startTestBroker({ config: { sites: [demoSite({ ...site, egressAllow: [] })] } });
    allowing = await startTestBroker({ config: { sites: [demoSite({ ...site, egressAllow: ['127.0.0.1'] })] } });
  });
  afterAll(async () => {
    await strict.close();
    await allowing.close();
    for (const s of [data, secret, v6]) if (s) await new Promise((done) => s.server.close(done));
  });

  const withData = (location: string): Doc => ({
    executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, entrypoint: '/bin/sh', command: ['-c', 'cat input/data.csv'] },
    compute: {
      kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 },
      volumes: [{ kind: `${V1}/volume/simple-volume-mount.yaml`, path: '/input/data.csv', mode: 'READONLY', resource: 'data' }],
    },
    schedule: { requested: { duration: 'PT10M' } },
    data: [{ kind: `${V1}/data/simple-data-resource.yaml`, meta: { name: 'data' }, location }],
  });

  const ask = async (broker: TestBroker, location: string): Promise<Doc> =>
    (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(withData(location)))).body as Doc;

  async function runUntilEnd(broker: TestBroker, location: string): Promise<Doc> {
    const set = await ask(broker, location);
    expect(set.result).toBe('YES');
    const uuid = set.offers[0].meta.uuid as string;
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
    let session: Doc = {};
    for (let i = 0; i < 300 && !['COMPLETED', 'FAILED'].includes(session.phase); i++) {
      await new Promise((r) => setTimeout(r, 50));
      session = (await broker.http.get(`/sessions/${uuid}`)).body as Doc;
    }
    return session;
  }

  it('answers NO, saying why, to data at a reserved address in any spelling', async () => {
    const cases: Array<[string, RegExp]> = [
      [`${base}/data.csv`, /127\.0\.0\.1 is a loopback address/],
      [`http://[::1]:${v6?.port ?? 9}/`, /::1 is a loopback address/],
      ['http://169.254.169.254/latest/meta-data', /169\.254\.169\.254 is a link-local address/],
      ['http://10.0.0.1/data.csv', /10\.0\.0\.1 is a private address/],
      [`http://0x7f000001:${data.port}/data.csv`, /127\.0\.0\.1 is a loopback address/],
      [`http://2130706433:${data.port}/data.csv`, /127\.0\.0\.1 is a loopback address/],
      [`http://[::ffff:127.0.0.1]:${data.port}/data.csv`, /::ffff:7f00:1 is a loopback address/],
    ];
    for (const [location, why] of cases) {
      const set = await ask(strict, location);
      const said = set.meta.messages.map((m: Doc) => m.message).join(' | ');
      expect([location, set.result, said]).toEqual([location, 'NO', expect.stringMatching(why)]);
      expect(said).toMatch(/Site demo does not fetch data \[data\] from/);
    }
    expect(data.seen).toEqual([]);
    expect(v6?.seen ?? []).toEqual([]);
  });

  it('fails the session when a name resolves to a refused address, and the server sees nothing', async () => {
    const session = await runUntilEnd(strict, `http://localhost:${data.port}/data.csv`);
    expect(session.phase).toBe('FAILED');
    expect(session.meta.messages.at(-1).message).toBe(
      `Staging the data failed: data: http://localhost:${data.port}/data.csv is refused by the site's egress policy: localhost (127.0.0.1) is a loopback address`);
    expect(data.seen).toEqual([]);
  });

  it('lets the allowed server through, and fails a redirect from it to a refused address', async () => {
    const good = await runUntilEnd(allowing, `${base}/data.csv`);
    expect(good.phase).toBe('COMPLETED');
    expect((await allowing.http.get(`/sessions/${good.meta.uuid}/logs`)).text).toBe('a,b\n1,2\n');
    const redirected = await runUntilEnd(allowing, `${base}/to-loopback`);
    expect(redirected.phase).toBe('FAILED');
    expect(redirected.meta.messages.at(-1).message).toBe(
      `Staging the data failed: data: ${base}/to-loopback is refused by the site's egress policy: 127.0.0.2 is a loopback address`);
    expect(secret.seen).toEqual([]);
    expect(data.seen).toEqual(['/data.csv', '/to-loopback']);
  });

  it('refuses redirects to the metadata service and private networks before connecting', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'eb-egress-')), 'x');
    const egress = { allow: ['127.0.0.1'] };
    const started = Date.now();
    await expect(stageItem({ name: 'm', url: `${base}/to-metadata`, path, maxBytes: 1000, egress })).rejects.toThrow(/refused by the site's egress policy: 169\.254\.169\.254 is a link-local address$/);
    await expect(stageItem({ name: 'p', url: `${base}/to-private`, path, maxBytes: 1000, egress })).rejects.toThrow(/refused by the site's egress policy: 10\.0\.0\.1 is a private address$/);
    await expect(stageItem({ name: 'd', url: 'http://10.0.0.1/x', path, maxBytes: 1000, egress })).rejects.toThrow(/10\.0\.0\.1 is a private address$/);
    expect(Date.now() - started).toBeLessThan(2000); // no connection was tried (it would hang or time out)
  });

  it('never fetches from the broker\'s own socket, even where its address is allowed', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'eb-egress-')), 'x');
    const egress = machineEgressPolicy(['127.0.0.0/8'], { host: '127.0.0.1', port: data.port });
    const before = data.seen.length;
    await expect(stageItem({ name: 'own', url: `${base}/data.csv`, path, maxBytes: 1000, egress })).rejects.toThrow(`127.0.0.1 port ${data.port} is the broker's own service`);
    await expect(stageItem({ name: 'own', url: `http://localhost:${data.port}/data.csv`, path, maxBytes: 1000, egress })).rejects.toThrow(`localhost port ${data.port} is the broker's own service`);
    expect(data.seen.length).toBe(before);
  });
});
