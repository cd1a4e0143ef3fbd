import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeXml } from '../../src/protocol/codecs/xml-codec.js';
import { decodeYaml } from '../../src/protocol/codecs/yaml-codec.js';
import { demoSite, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const EB = fileURLToPath(new URL('../../dist/cli/eb.js', import.meta.url));
const EXAMPLES = fileURLToPath(new URL('../../examples/requests/', import.meta.url));

interface Outcome { code: number | null; stdout: string; stderr: string }

function eb(args: string[], env: NodeJS.ProcessEnv = {}, stdin?: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [EB, ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

/** The `eb` command-line client, run as a process against a real broker. */
describe('the eb command-line client', () => {
  let broker: TestBroker;
  let dir: string;
  beforeAll(async () => {
    broker = await startTestBroker({ config: { sites: [demoSite({ preparationMs: 0, releasingMs: 0 })] } });
    dir = mkdtempSync(join(tmpdir(), 'eb-cli-'));
  });
  afterAll(async () => { await broker.close(); });

  const script = (shell: string): string => {
    const file = join(dir, `job-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, [
      'executable:',
      `  kind: ${V1}/executable/docker-container.yaml`,
      '  image: { locations: [busybox] }',
      '  entrypoint: /bin/sh',
      `  command: ["-c", ${JSON.stringify(shell)}]`,
      'compute:',
      `  kind: ${V1}/compute/simple-compute-resource.yaml`,
      '  cores: { min: 1, max: 1 }',
      'schedule: { requested: { duration: PT10M } }',
      '',
    ].join('\n'));
    return file;
  };
  const url = (): string[] => ['--url', broker.baseUrl];

  it('lists offers as a table, and prints the same offer set as XML or YAML on request', async () => {
    const table = await eb([...url(), 'request', join(EXAMPLES, 'docker-hello.json')]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^offer set [0-9a-f-]{36}: YES\n#\s+SESSION\s+SITE\s+START/);
    expect(table.stdout).toMatch(/\n1\s+[0-9a-f-]{36}\s+demo\s+\d{4}-/);

    const xml = await eb([...url(), '--output', 'xml', 'request', join(EXAMPLES, 'docker-hello.xml')]);
    expect(xml.code).toBe(0);
    const fromXml = decodeXml(xml.stdout, 'OfferSetResponse') as Doc;
    expect(fromXml.result).toBe('YES');
    expect(fromXml.offers.length).toBeGreaterThan(0);

    const yaml = await eb([...url(), 'request', '--output', 'yaml', '-'], {}, `executable:\n  kind: ${V1}/executable/docker-container.yaml\n  image: { locations: [busybox] }\n  entrypoint: /bin/true\n`);
    expect(yaml.code).toBe(0);
    expect((decodeYaml(yaml.stdout) as Doc).result).toBe('YES');
  });

  it('runs a request file to COMPLETED in one command, printing its progress and its log', async () => {
    const run = await eb([...url(), 'run', script('echo "made by eb run"')]);
    expect(run.stderr).toMatch(/eb: accepting [0-9a-f-]{36}/);
    expect(run.stderr).toMatch(/RUNNING/);
    expect(run.stdout).toMatch(/: COMPLETED\n/);
    expect(run.stdout).toContain('--- log ---\nmade by eb run\n');
    expect(run.code).toBe(0);
  });

  it('says how a session ended in its exit code: 3 when it FAILED, 4 when CANCELLED', async () => {
    const failed = await eb([...url(), 'run', script('echo broken >&2; exit 7')]);
    expect(failed.code).toBe(3);
    expect(failed.stdout).toContain('The executable exited with status 7');

    const offers = await eb([...url(), '--output', 'json', 'request', script('sleep 30')]);
    const uuid = (JSON.parse(offers.stdout) as Doc).offers[0].meta.uuid as string;
    expect((await eb([...url(), 'accept', uuid])).stdout).toBe(`${uuid} ACCEPTED\n`);
    const watching = eb([...url(), 'watch', uuid]);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await eb([...url(), 'cancel', uuid])).code).toBe(0);
    const watched = await watching;
    expect(watched.code).toBe(4);
    expect(watched.stdout).toContain(`session ${uuid}: CANCELLED`);
  });

  it('prints and follows logs', async () => {
    const offers = await eb([...url(), '--output', 'json', 'request', script('echo first; sleep 1; echo second')]);
    const uuid = (JSON.parse(offers.stdout) as Doc).offers[0].meta.uuid as string;
    await eb([...url(), 'accept', uuid]);
    const followed = await eb([...url(), 'logs', uuid, '--follow']);
    expect(followed.code).toBe(0);
    expect(followed.stdout).toBe('first\nsecond\n');
    expect((await eb([...url(), 'logs', uuid])).stdout).toBe('first\nsecond\n');
    expect((await eb([...url(), 'status', uuid])).stdout).toMatch(new RegExp(`^session ${uuid}: COMPLETED\\n  site      demo`));
  });

  it('answers bad use with a usage message and exit code 2, and broker refusals with 1', async () => {
    expect((await eb(['--help'])).code).toBe(0);
    expect((await eb(['run', '--help'])).stdout).toContain('eb run FILE');
    const unknown = await eb(['frobnicate', 'x']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command frobnicate');
    expect((await eb(['status'])).code).toBe(2);
    expect((await eb(['--output', 'csv', 'status', 'x'])).code).toBe(2);
    const missing = await eb([...url(), 'request', join(dir, 'no-such-file.json')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no-such-file.json');
    const typo = await eb([...url(), 'request', '-'], {}, '{"executable": ');
    expect(typo.code).toBe(1);
    const notFound = await eb([...url(), 'status', '00000000-0000-4000-8000-000000000000']);
    expect(notFound.code).toBe(1);
    expect(notFound.stderr).toMatch(/404: No session with the identifier/);
  });

  it('sends the bearer token from EB_TOKEN or a token file (to a stand-in server that records it)', async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(String(req.headers.authorization));
      res.writeHead(401, { 'Content-Type': 'application/problem+json', 'WWW-Authenticate': 'Bearer error="invalid_token"' });
      res.end(JSON.stringify({ title: 'Unauthorized', status: 401, detail: 'token refused' }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const fromEnv = await eb(['status', '00000000-0000-4000-8000-000000000000'], { EB_URL: base, EB_TOKEN: 'token-from-env' });
      expect(fromEnv.code).toBe(1);
      expect(fromEnv.stderr).toContain('401: token refused');
      const file = join(dir, 'token');
      writeFileSync(file, 'token-from-file\n');
      await eb(['--url', base, '--token-file', file, 'status', '00000000-0000-4000-8000-000000000000']);
      expect(seen).toEqual(['Bearer token-from-env', 'Bearer token-from-file']);
    } finally {
      server.close();
    }
  });
});
