import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { oidcEnv, startIdentityProvider, type TestIdentityProvider } from '../support/oidc-provider.js';
import { jupyterForTests } from '../support/jupyter.js';
import { detectJupyter } from '../../src/sites/detect-jupyter.js';
import { LocalProcessExecutor } from '../../src/sites/local-process-executor.js';
import { goneWithin, sandboxForTests } from '../support/sandbox.js';
import { demoSite, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';
import { openWebSocket } from '../support/web-socket.js';
import { SealedNotebookTokens } from '../../src/auth/notebook-tokens.js';
import { TokenCipher } from '../../src/auth/token-cipher.js';
import { RedisBrokerStore } from '../../src/store/redis-broker-store.js';
import { redisKeys } from '../../src/store/redis-keys.js';
import { RedisNotebookTokens } from '../../src/store/redis-sealed-tokens.js';
import type { TestBroker as Broker } from '../support/test-broker.js';

type Doc = Record<string, any>;

/**
 * The notebook server behind the broker's proxy, as the site runs it: its own address and its
 * token (opened from its sealed copy in Redis, as the proxy does), for what only the server can say.
 */
async function serverOf(broker: Broker, uuid: string): Promise<{ direct: string; token: string }> {
  const keys = redisKeys(broker.config.keyPrefix);
  const record = await new RedisBrokerStore(broker.redis, keys, { retentionMs: 60_000 }).getSession(uuid);
  const port = record?.run?.ports?.[0];
  const token = await new SealedNotebookTokens(new TokenCipher(broker.config.auth.tokenKey), new RedisNotebookTokens(broker.redis, keys)).read(uuid);
  if (!port || !token) throw new Error(`session ${uuid} has no notebook server`);
  return { direct: `http://${port.host}:${port.external}`, token: token.reveal() };
}
/** A notebook's multi-line text, which nbformat writes as an array of lines. */
const joined = (text: string | string[]): string => (Array.isArray(text) ? text.join('') : text);

const jupyter = await jupyterForTests('the Jupyter notebook sessions');
// Sandboxed wherever bubblewrap works (CI requires it); the sessions run so on the demo site.
const sandboxed = jupyter && await sandboxForTests('Jupyter notebook sessions in the sandbox');

const cell = (source: string, tags: string[] = []) => ({ cell_type: 'code', execution_count: null, id: randomUUID().slice(0, 8), metadata: tags.length ? { tags } : {}, outputs: [], source });
const notebook = (...cells: Doc[]) => JSON.stringify({
  cells, metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }, nbformat: 4, nbformat_minor: 5,
});
const NOTEBOOKS: Record<string, string> = {
  '/analysis.ipynb': notebook(
    cell("n = '3'", ['parameters']),
    cell("import os\nresult = int(n) * 14\nprint('result is', result)"),
    cell("with open(os.path.join(os.environ['EB_OUTPUTS'], 'result.txt'), 'w') as out:\n    out.write(str(result))"),
  ),
  '/failing.ipynb': notebook(cell('x = 1'), cell("raise ValueError('bad input 42')"), cell("print('never reached')")),
};

(sandboxed ? describe : describe.skip)('Jupyter notebook sessions on a process site', () => {
  let idp: TestIdentityProvider;
  let broker: TestBroker;
  let files: Server;
  let filesUrl = '';
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    idp = await startIdentityProvider();
    files = createServer((req, res) => {
      const body = NOTEBOOKS[req.url ?? ''];
      if (body) res.writeHead(200, { 'Content-Type': 'application/x-ipynb+json' }).end(body);
      else res.writeHead(404).end();
    });
    await new Promise<void>((ready) => files.listen(0, '127.0.0.1', ready));
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    broker = await startTestBroker({ env: oidcEnv(idp.issuer), config: { sites: [demoSite({ preparationMs: 0, releasingMs: 0 })] } });
    for (const user of ['alice', 'bob', 'olga'] as const) tokens[user] = await idp.tokenFor(user, { ttlSeconds: 3600 });
  });
  afterAll(async () => {
    await broker?.close();
    await new Promise((done) => files?.close(done));
    await idp?.close();
  });

  const as = (user: string, method: 'get' | 'post', path: string, body?: string) => {
    let call = broker.http[method](path).set('Authorization', `Bearer ${tokens[user]}`);
    if (body !== undefined) call = call.set('Content-Type', 'application/json').send(body);
    return call;
  };
  const update = (value: string) => JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value });
  const request = (path: string, duration: string, extension?: Doc) => JSON.stringify({
    executable: { kind: `${V1}/executable/jupyter-notebook.yaml`, meta: { name: 'notebook' }, location: `${filesUrl}${path}`, ...(extension ? { 'srcnet.notebook': extension } : {}) },
    compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 }, memory: { min: 1, max: 1 } },
    schedule: { requested: { duration } },
  });

  const offerSets: Record<string, string> = {};
  async function accepted(body: string): Promise<string> {
    const set = (await as('alice', 'post', '/requests', body).expect(303)).body as Doc;
    expect(set.result).toBe('YES');
    const uuid = set.offers[0].meta.uuid as string;
    offerSets[uuid] = set.meta.uuid as string;
    await as('alice', 'post', `/sessions/${uuid}`, update('ACCEPTED')).expect(200);
    return uuid;
  }

  async function until(uuid: string, phases: string[], ms: number): Promise<Doc> {
    const end = Date.now() + ms;
    for (;;) {
      const session = (await as('alice', 'get', `/sessions/${uuid}`)).body as Doc;
      if (phases.includes(session.phase) || Date.now() > end) return session;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  const notebookConnector = (session: Doc): Doc | undefined => (session.connectors as Doc[] | undefined)?.find((c) => c.kind === 'urn:srcnet:connector:notebook');

  /**
   * The session once its notebook connector is AVAILABLE (the server has answered, a second or two
   * after RUNNING, when the connector is PREPARING still), or once it has ended.
   */
  async function untilAnswering(uuid: string): Promise<Doc> {
    let sawPreparing = false;
    const end = Date.now() + 40_000;
    for (;;) {
      const session = (await as('alice', 'get', `/sessions/${uuid}`)).body as Doc;
      const status = notebookConnector(session)?.status;
      if (session.phase === 'RUNNING' && status === 'PREPARING') {
        sawPreparing = true;
        expect(notebookConnector(session)!.location).toBeUndefined();
      }
      if (status === 'AVAILABLE' || ['COMPLETED', 'FAILED', 'CANCELLED'].includes(session.phase) || Date.now() > end) {
        return { ...session, sawPreparing };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  // The sessions all at once, so that the file's time is the longest one's.
  const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
  let interactive = '';
  let leftToEnd = '';
  let headless = '';
  let raising = '';
  let demo = '';
  /** The short session, edited and saved by its owner while it runs (as the page's Save does), whatever the other tests take meanwhile. */
  let edited: Promise<Doc>;
  async function editWhileRunning(uuid: string): Promise<Doc> {
    const running = await untilAnswering(uuid);
    // Through the broker's proxy, with the owner's bearer token (the proxy adds the server's).
    const proxy = `${broker.baseUrl}/sessions/${uuid}/connect`;
    const auth = { Authorization: `Bearer ${tokens.alice}` };
    const status = (await fetch(`${proxy}/api/status`, { headers: auth }).catch(() => undefined))?.status;
    const opened = await (await fetch(`${proxy}/api/contents/analysis.ipynb`, { headers: auth })).json() as Doc;
    opened.content.cells.push(cell("print('saved by the owner')"));
    const saved = await fetch(`${proxy}/api/contents/analysis.ipynb`, { method: 'PUT', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ type: 'notebook', format: 'json', content: opened.content }) });
    return { phase: running.phase, status, saved: saved.status };
  }
  beforeAll(async () => {
    [interactive, leftToEnd, headless, raising, demo] = await Promise.all([
      accepted(request('/analysis.ipynb', 'PT10M')),
      accepted(request('/analysis.ipynb', 'PT30S')),
      accepted(request('/analysis.ipynb', 'PT5M', { mode: 'headless', parameters: { n: '5' } })),
      accepted(request('/failing.ipynb', 'PT5M', { mode: 'headless' })),
      // The demo notebook, read from the repository's examples/ as `npm start`'s demo site does.
      accepted(request(`file://${EXAMPLES}notebooks/demo.ipynb`, 'PT5M', { mode: 'headless', parameters: { terms: '10' } }).replace(`${filesUrl}file://`, 'file://')),
    ]);
    edited = editWhileRunning(leftToEnd).catch((error: Error) => ({ error: error.message }));
  });

  describe('interactive', () => {
    let server = '';
    let proxy = '';
    let token = '';
    let kernel = '';
    const owner = (): Record<string, string> => ({ Authorization: `Bearer ${tokens.alice}` });
    beforeAll(async () => {
      const running = await untilAnswering(interactive);
      expect(running.phase).toBe('RUNNING');
      sawPreparing = running.sawPreparing;
      const connector = notebookConnector(running)!;
      // The connector is the broker's proxy, with no token: the proxy adds it for the owner.
      proxy = `${broker.baseUrl}/sessions/${interactive}/connect`;
      expect(connector).toMatchObject({ status: 'AVAILABLE', protocol: 'HTTP', location: `${proxy}/notebooks/analysis.ipynb` });
      ({ direct: server, token } = await serverOf(broker, interactive));
      expect(token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
      // AVAILABLE means the server answers: no waiting for it.
      expect((await fetch(`${proxy}/api/status`, { headers: owner() })).status).toBe(200);
    });

    let sawPreparing = false;
    it('shows the server PREPARING, with no location, while RUNNING until it answers (Jupyter takes a second or two to start)', () => {
      expect(sawPreparing).toBe(true);
    });

    it('answers Jupyter\'s /api/status with the token and refuses without it, or with another; through the proxy, the owner alone', async () => {
      expect((await fetch(`${server}/sessions/${interactive}/connect/api/status`, { headers: { Authorization: `token ${token}` } })).status).toBe(200);
      expect([401, 403]).toContain((await fetch(`${server}/sessions/${interactive}/connect/api/status`)).status);
      expect([401, 403]).toContain((await fetch(`${server}/sessions/${interactive}/connect/api/status?token=${token.slice(1)}x`)).status);
      // Served under the proxy's path (its base URL): nothing at the server's root.
      expect((await fetch(`${server}/api/status`, { headers: { Authorization: `token ${token}` } })).status).toBe(404);
      expect((await fetch(`${proxy}/api/status`, { headers: owner() })).status).toBe(200);
      // Another user, and an operator, find no such session there; nobody without a token either.
      expect((await fetch(`${proxy}/api/status`, { headers: { Authorization: `Bearer ${tokens.bob}` } })).status).toBe(404);
      expect((await fetch(`${proxy}/api/status`, { headers: { Authorization: `Bearer ${tokens.olga}` } })).status).toBe(404);
      expect((await fetch(`${proxy}/api/status`)).status).toBe(401);
    });

    it('has the notebook fetched from the HTTP server open in its contents', async () => {
      const listing = await (await fetch(`${proxy}/api/contents`, { headers: owner() })).json() as Doc;
      expect(listing.content.map((entry: Doc) => entry.name)).toContain('analysis.ipynb');
      const opened = await (await fetch(`${proxy}/api/contents/analysis.ipynb`, { headers: owner() })).json() as Doc;
      expect(opened.content.cells[1].source).toContain("result = int(n) * 14");
    });

    it('runs a cell through the kernel\'s WebSocket, through the broker\'s proxy, and returns its result', async () => {
      const started = await fetch(`${proxy}/api/kernels`, { method: 'POST', headers: { ...owner(), 'Content-Type': 'application/json' }, body: '{"name":"python3"}' });
      expect(started.status).toBe(201);
      kernel = ((await started.json()) as Doc).id;
      await expect(openWebSocket(`${proxy.replace('http', 'ws')}/api/kernels/${kernel}/channels`, { Authorization: `Bearer ${tokens.bob}` })).rejects.toThrow('no upgrade: 404');
      const socket = await openWebSocket(`${proxy.replace('http', 'ws')}/api/kernels/${kernel}/channels`, owner());
      try {
        const msgId = randomUUID();
        socket.send(JSON.stringify({
          header: { msg_id: msgId, username: 'alice', session: randomUUID(), msg_type: 'execute_request', version: '5.3', date: new Date().toISOString() },
          parent_header: {}, metadata: {}, channel: 'shell', buffers: [],
          content: { code: 'sum(range(10)) * 7', silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true },
        }));
        const result = JSON.parse(await socket.next((text) => {
          const message = JSON.parse(text) as Doc;
          return message.msg_type === 'execute_result' && message.parent_header?.msg_id === msgId;
        }, 30_000)) as Doc;
        expect(result.content.data['text/plain']).toBe('315');
      } finally {
        socket.close();
      }
    });

    it('shows the token to nobody: not the owner (the proxy adds it), an operator, another user, a list or an offer set', async () => {
      const operator = (await as('olga', 'get', `/sessions/${interactive}`).expect(200)).body as Doc;
      expect(notebookConnector(operator)).toMatchObject({ status: 'AVAILABLE', location: `${proxy}/notebooks/analysis.ipynb` });
      await as('bob', 'get', `/sessions/${interactive}`).expect(404);
      for (const view of [
        await as('alice', 'get', `/sessions/${interactive}`), await as('olga', 'get', `/sessions/${interactive}`), await as('alice', 'get', '/sessions'), await as('olga', 'get', '/sessions'),
        await as('alice', 'get', `/offersets/${offerSets[interactive]}`), await as('alice', 'get', `/sessions/${interactive}/history`),
      ]) {
        expect(view.status).toBe(200);
        expect(view.text).not.toContain(token);
      }
    });

    it('keeps the token out of the session\'s log and out of everything in Redis but its sealed copy', async () => {
      const log = (await as('alice', 'get', `/sessions/${interactive}/logs`).expect(200)).text;
      expect(log).toMatch(/Jupyter Notebook .* is running at/);
      expect(log).not.toContain(token);
      const prefix = broker.config.keyPrefix;
      let cursor = '0';
      let seen = 0;
      do {
        const [next, keys] = await broker.redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        for (const key of keys) {
          const type = await broker.redis.type(key);
          const value = type === 'string' ? await broker.redis.get(key)
            : type === 'hash' ? JSON.stringify(await broker.redis.hgetall(key))
              : type === 'list' ? JSON.stringify(await broker.redis.lrange(key, 0, -1))
                : type === 'zset' ? JSON.stringify(await broker.redis.zrange(key, 0, -1))
                  : type === 'stream' ? JSON.stringify(await broker.redis.xrange(key, '-', '+'))
                    : type === 'set' ? JSON.stringify(await broker.redis.smembers(key)) : '';
          seen += 1;
          expect(`${key} ${value ?? ''}`).not.toContain(token);
        }
      } while (cursor !== '0');
      expect(seen).toBeGreaterThan(10);
      expect(await broker.redis.exists(`${prefix}:session:${interactive}:notebook`)).toBe(1);
    });

    it('stops the server on cancel: the port closes and no process of the run is left', async () => {
      await as('alice', 'post', `/sessions/${interactive}`, update('CANCELLED')).expect(200);
      const cancelled = await until(interactive, ['CANCELLED'], 5_000);
      expect(notebookConnector(cancelled)).toMatchObject({ status: 'FINISHED', location: `${proxy}/notebooks/analysis.ipynb` });
      expect((await fetch(`${proxy}/api/status`, { headers: owner() })).status).toBe(404);
      let refused = false;
      for (let i = 0; i < 150 && !refused; i++) {
        refused = await fetch(`${server}/sessions/${interactive}/connect/api/status?token=${token}`).then(() => false, () => true);
        if (!refused) await new Promise((r) => setTimeout(r, 100));
      }
      expect(refused).toBe(true);
      expect(await goneWithin(new RegExp(`${interactive}|kernel-${kernel}`), 10_000)).toEqual([]);
      // Asked to stop rather than killed, the server saved the notebook into the outputs first.
      expect(existsSync(`${broker.config.sites[0]!.scratchDir}/${interactive}/outputs/analysis.ipynb`)).toBe(true);
      // Nor is it left on the site's disk, in the sandbox's options (the run's environment).
      expect(existsSync(`${broker.config.sites[0]!.scratchDir}/${interactive}/sandbox-options`)).toBe(false);
      const grep = spawnSync('grep', ['-rlF', '--', token, `${broker.config.sites[0]!.scratchDir}/${interactive}`], { encoding: 'utf8' });
      expect({ found: grep.stdout, status: grep.status }).toEqual({ found: '', status: 1 });
      expect(await broker.redis.exists(`${broker.config.keyPrefix}:session:${interactive}:notebook`)).toBe(0);
    });

    it('COMPLETES at the end of its duration with the notebook as saved in its outputs', async () => {
      expect(await edited).toEqual({ phase: 'RUNNING', status: 200, saved: 200 });
      const ended = await until(leftToEnd, ['COMPLETED', 'FAILED', 'CANCELLED'], 40_000);
      expect(ended.phase).toBe('COMPLETED');
      const outputs = (await as('alice', 'get', `/sessions/${leftToEnd}/outputs`).expect(200)).body as Doc;
      expect(outputs.files.map((file: Doc) => file.path)).toContain('analysis.ipynb');
      const kept = JSON.parse((await as('alice', 'get', `/sessions/${leftToEnd}/outputs/analysis.ipynb`).expect(200)).text) as Doc;
      expect(joined(kept.cells.at(-1).source)).toBe("print('saved by the owner')");
      expect(notebookConnector(ended)).toMatchObject({ status: 'FINISHED' });
    });
  });

  describe('the demo site', () => {
    it('runs the demo notebook from examples/notebooks/ (a file:// location under examples/)', async () => {
      const ended = await until(demo, ['COMPLETED', 'FAILED', 'CANCELLED'], 60_000);
      expect(ended.phase).toBe('COMPLETED');
      expect((await as('alice', 'get', `/sessions/${demo}/outputs/fibonacci.txt`).expect(200)).text).toBe('0\n1\n1\n2\n3\n5\n8\n13\n21\n34\n');
      const executed = JSON.parse((await as('alice', 'get', `/sessions/${demo}/outputs/demo.ipynb`).expect(200)).text) as Doc;
      expect(joined(executed.cells.find((c: Doc) => c.cell_type === 'code' && joined(c.source).startsWith('sum(')).outputs[0].data['text/plain'])).toBe('88');
    });

    it('answers NO to a notebook outside the folders the site reads, or a mode it does not know', async () => {
      const outside = (await as('alice', 'post', '/requests', request('/x.ipynb', 'PT5M').replace(`${filesUrl}/x.ipynb`, 'file:///etc/passwd')).expect(303)).body as Doc;
      expect(outside.result).toBe('NO');
      expect(JSON.stringify(outside.meta.messages)).toContain('does not allow file data at [file:///etc/passwd]');
      const mode = (await as('alice', 'post', '/requests', request('/analysis.ipynb', 'PT5M', { mode: 'batch' })).expect(303)).body as Doc;
      expect(mode.result).toBe('NO');
      expect(mode.meta.messages.map((m: Doc) => m.message)).toContain('JupyterNotebook - srcnet.notebook.mode "batch" is not interactive or headless');
      const parameters = (await as('alice', 'post', '/requests', request('/analysis.ipynb', 'PT5M', { mode: 'headless', parameters: { 'not a name': 'x' } })).expect(303)).body as Doc;
      expect(parameters.result).toBe('NO');
      expect(parameters.meta.messages.map((m: Doc) => m.message)).toContain('JupyterNotebook - notebook parameter "not a name" is not a Python name');
    });
  });

  describe('headless', () => {
    it('COMPLETES with the executed notebook (its cell outputs kept, the parameters injected) and what it wrote in the outputs', async () => {
      const ended = await until(headless, ['COMPLETED', 'FAILED', 'CANCELLED'], 60_000);
      expect(ended.phase).toBe('COMPLETED');
      expect(notebookConnector(ended)).toBeUndefined();
      const outputs = (await as('alice', 'get', `/sessions/${headless}/outputs`).expect(200)).body as Doc;
      expect(outputs.files.map((file: Doc) => file.path).sort()).toEqual(['analysis.ipynb', 'result.txt']);
      expect((await as('alice', 'get', `/sessions/${headless}/outputs/result.txt`).expect(200)).text).toBe('70');
      const executed = JSON.parse((await as('alice', 'get', `/sessions/${headless}/outputs/analysis.ipynb`).expect(200)).text) as Doc;
      expect(executed.cells[0].metadata.tags).toEqual(['parameters']);
      expect(executed.cells[1].metadata.tags).toEqual(['injected-parameters']);
      expect(joined(executed.cells[1].source)).toBe("# Parameters, injected by the execution broker\nn = '5'");
      expect(executed.cells[2].outputs).toHaveLength(1);
      expect(executed.cells[2].outputs[0]).toMatchObject({ output_type: 'stream', name: 'stdout' });
      expect(joined(executed.cells[2].outputs[0].text)).toBe('result is 70\n');
    });

    it('FAILS a notebook whose cell raises, naming the exception, with the notebook as far as it ran in the outputs', async () => {
      const ended = await until(raising, ['COMPLETED', 'FAILED', 'CANCELLED'], 60_000);
      expect(ended.phase).toBe('FAILED');
      expect(ended.meta.messages.at(-1).message).toBe('The executable exited with status 3: cell 2 raised ValueError: bad input 42');
      const log = (await as('alice', 'get', `/sessions/${raising}/logs`).expect(200)).text;
      expect(log).toContain('ValueError: bad input 42');
      // Stopped at the failing cell: the notebook as it ran is in the outputs, on the site (a FAILED session's are not served).
      const dir = `${broker.config.sites[0]!.scratchDir}/${raising}/outputs`;
      const partial = JSON.parse(readFileSync(`${dir}/failing.ipynb`, 'utf8')) as Doc;
      expect(partial.cells[1].outputs[0]).toMatchObject({ output_type: 'error', ename: 'ValueError', evalue: 'bad input 42' });
      expect(partial.cells[2].outputs).toEqual([]);
    });
  });
});

describe('a process site whose host has no Jupyter', () => {
  it('says why a notebook cannot run there (checked before any run is made)', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'eb-no-jupyter-'));
    try {
      const executor = new LocalProcessExecutor(scratch, {}, { jupyter: () => detectJupyter({ PATH: `${scratch}/bin` }) });
      const spec = { sessionUuid: randomUUID(), command: [], environment: {}, timeLimitMs: 60_000, notebook: { source: '', name: 'n.ipynb', mode: 'headless' as const } };
      expect(await executor.unsupported(spec)).toBe(`Jupyter is not installed on the site's host: no jupyter on ${scratch}/bin (Debian: apt-get install jupyter-notebook python3-nbconvert python3-ipykernel)`);
      // A program run is none of Jupyter's business.
      expect(await executor.unsupported({ ...spec, notebook: undefined, entrypoint: '/bin/true' })).toBeUndefined();
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});

(jupyter ? describe : describe.skip)('Jupyter notebook sessions without a sandbox (isolation: none, development only)', () => {
  let broker: TestBroker;
  let files: Server;
  let filesUrl = '';
  beforeAll(async () => {
    files = createServer((req, res) => {
      const body = NOTEBOOKS[req.url ?? ''];
      if (body) res.writeHead(200).end(body);
      else res.writeHead(404).end();
    });
    await new Promise<void>((ready) => files.listen(0, '127.0.0.1', ready));
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    const base = demoSite({ preparationMs: 0, releasingMs: 0 });
    broker = await startTestBroker({ config: { sites: [{ ...base, processRuns: { ...base.processRuns, isolation: 'none' } }] } });
  });
  afterAll(async () => {
    await broker?.close();
    await new Promise((done) => files?.close(done));
  });

  it('serves the notebook behind its token, and on cancel saves it into the outputs and leaves no process', async () => {
    const body = JSON.stringify({
      executable: { kind: `${V1}/executable/jupyter-notebook.yaml`, location: `${filesUrl}/analysis.ipynb` },
      compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 }, memory: { min: 1, max: 1 } },
      schedule: { requested: { duration: 'PT10M' } },
    });
    const set = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(body).expect(303)).body as Doc;
    const uuid = set.offers[0].meta.uuid as string;
    const update = (value: string) => JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value });
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
    let location = '';
    for (const end = Date.now() + 40_000; !location && Date.now() < end;) {
      const session = (await broker.http.get(`/sessions/${uuid}`)).body as Doc;
      const connector = (session.connectors as Doc[] | undefined)?.find((c) => c.kind === 'urn:srcnet:connector:notebook');
      if (connector?.status === 'AVAILABLE') location = connector.location;
      else if (['FAILED', 'COMPLETED', 'CANCELLED'].includes(session.phase)) throw new Error(JSON.stringify(session.meta.messages));
      else await new Promise((r) => setTimeout(r, 100));
    }
    expect(location).toBe(`${broker.baseUrl}/sessions/${uuid}/connect/notebooks/analysis.ipynb`);
    expect((await fetch(`${broker.baseUrl}/sessions/${uuid}/connect/api/status`)).status).toBe(200);
    const { direct, token } = await serverOf(broker, uuid);
    expect([401, 403]).toContain((await fetch(`${direct}/sessions/${uuid}/connect/api/status`)).status);
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('CANCELLED')).expect(200);
    expect(await goneWithin(new RegExp(uuid), 20_000)).toEqual([]);
    expect(existsSync(`${broker.config.sites[0]!.scratchDir}/${uuid}/outputs/analysis.ipynb`)).toBe(true);
    expect((await broker.http.get(`/sessions/${uuid}/logs`)).text).not.toContain(token);
  });
});
