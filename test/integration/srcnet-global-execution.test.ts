import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { GLOBAL_EXECUTION_PREFIX as API } from '../../src/http/global-execution-routes.js';
import { oidcEnv, startIdentityProvider, type TestIdentityProvider } from '../support/oidc-provider.js';
import { demoSite, startTestBroker, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
type User = 'alice' | 'bob';

/**
 * SRCNet's Global Execution API as SRCNet's client calls it (ska-src-clients, api/global_execution.py:
 * JSON in and out, a bearer token), through the real HTTP stack, engine, BullMQ workers and Redis,
 * running real processes on the demo site.
 */
describe('the SRCNet Global Execution API', () => {
  let idp: TestIdentityProvider;
  let broker: TestBroker;
  const tokens = {} as Record<User, string>;
  beforeAll(async () => {
    idp = await startIdentityProvider();
    broker = await startTestBroker({
      env: oidcEnv(idp.issuer),
      config: { sites: [demoSite({ preparationMs: 0, releasingMs: 0, scratchGiB: 10_000, executor: { type: 'local', containerRuntime: 'none' } })] },
    });
    for (const user of ['alice', 'bob'] as const) tokens[user] = await idp.tokenFor(user, { ttlSeconds: 3600 });
  });
  afterAll(async () => {
    await broker?.close();
    await idp?.close();
  });

  /** The client's headers: JSON both ways and the user's token. */
  const headers = (user: User) => ({ 'Content-Type': 'application/json', Accept: 'application/json', Authorization: `Bearer ${tokens[user]}` });
  const submit = (body: unknown, user: User = 'alice') =>
    broker.http.post(`${API}/job/submit`).set(headers(user)).send(typeof body === 'string' ? body : JSON.stringify(body));
  const status = (id: string, user: User = 'alice') => broker.http.get(`${API}/job/${id}/status`).set(headers(user));

  async function finalStatus(id: string, user: User = 'alice'): Promise<Doc> {
    let body: Doc = {};
    for (let i = 0; i < 400; i++) {
      body = (await status(id, user).expect(200)).body as Doc;
      if (!['PENDING', 'RUNNING'].includes(body.status as string)) return body;
      await new Promise((r) => setTimeout(r, 100));
    }
    return body;
  }

  const script = 'echo "args: $*"; echo "json: $EB_PARAMETERS"; echo "cores: $(nproc 2>/dev/null || echo ?)"; echo found > "$EB_OUTPUTS/result.txt"';

  it('runs a submitted script with /bin/sh -c to its end, and answers its state, log and outputs', async () => {
    const submitted = await submit({
      container_image: 'docker.io/library/busybox:1.36', script,
      parameters: { threshold: 5, '--verbose': true, band: ['L', 'S'] },
      system_parameters: { cpu_cores: 2, memory: 3, runtime: 1 },
    }).expect(200);
    expect(submitted.body).toMatchObject({ status: 'PENDING', site: 'demo', response_text: 'Submitted to site demo' });
    const id = submitted.body.job_id as string;
    expect(submitted.body.status_url).toBe(`${broker.baseUrl}${API}/job/${id}/status`);

    const done = await finalStatus(id);
    expect(done).toMatchObject({ job_id: id, status: 'COMPLETED', response_text: 'OK', phase: 'COMPLETED', site: 'demo' });
    expect(done.log).toContain('args: --threshold 5 --verbose --band L --band S\n');
    expect(done.log).toContain('json: {"threshold":5,"--verbose":true,"band":["L","S"]}\n');
    expect(done.outputs).toEqual([{ path: 'result.txt', size: 6, url: `${broker.baseUrl}/sessions/${id}/outputs/result.txt` }]);
    const file = await broker.http.get(new URL(done.outputs[0].url as string).pathname).set(headers('alice')).expect(200);
    expect(file.text).toBe('found\n');

    // The same job is a session of the ExecutionBroker API, of the token's subject, with the sizes asked for.
    const session = await broker.http.get(`/sessions/${id}`).set(headers('alice')).expect(200);
    expect(session.body).toMatchObject({ phase: 'COMPLETED', meta: { uuid: id } });
    expect(session.body.executable).toMatchObject({ image: { locations: ['docker.io/library/busybox:1.36'] }, entrypoint: '/bin/sh' });
    expect(session.body.executable.command.slice(0, 3)).toEqual(['-c', script, 'job']);
    const listed = await broker.http.get('/sessions').set(headers('alice')).expect(200);
    const mine = (listed.body.sessions as Doc[]).find((s) => s.uuid === id);
    expect(mine).toMatchObject({ owner: 'alice', cores: 2, memoryGiB: 3 });
  });

  it('passes a text parameter as the one argument, and sizes the run by the defaults when no system parameters are given', async () => {
    const submitted = await submit({ container_image: 'busybox', script: 'printf "%s|" "$#" "$1"; echo', parameters: 'one two' }).expect(200);
    const done = await finalStatus(submitted.body.job_id as string);
    expect(done).toMatchObject({ status: 'COMPLETED' });
    expect(done.log).toContain('1|one two|\n');
    const listed = await broker.http.get('/sessions').set(headers('alice')).expect(200);
    expect((listed.body.sessions as Doc[]).find((s) => s.uuid === submitted.body.job_id)).toMatchObject({ cores: 1, memoryGiB: 1 });
  });

  it('answers FAILED with the exit status for a script that fails, with its log', async () => {
    const submitted = await submit({ container_image: 'busybox', script: 'echo crashing; exit 3', parameters: null, system_parameters: null }).expect(200);
    const done = await finalStatus(submitted.body.job_id as string);
    expect(done).toMatchObject({ status: 'FAILED', phase: 'FAILED', outputs: null });
    expect(done.response_text).toMatch(/3/);
    expect(done.log).toContain('crashing\n');
  });

  it("answers another user's job exactly as one that does not exist", async () => {
    const submitted = await submit({ container_image: 'busybox', script: 'true' }).expect(200);
    const id = submitted.body.job_id as string;
    const unknown = { detail: 'Job not found', code: 'job-not-found' };
    expect((await status(id, 'bob').expect(404)).body).toEqual(unknown);
    expect((await status(randomUUID(), 'bob').expect(404)).body).toEqual(unknown);
    expect((await status('not-a-job', 'bob').expect(404)).body).toEqual(unknown);
    await broker.http.get(`/sessions/${id}`).set(headers('bob')).expect(404);
    expect((await finalStatus(id)).status).toBe('COMPLETED');
  });

  it('answers ping and health without a token, and wants one for jobs', async () => {
    expect((await broker.http.get(`${API}/ping`).expect(200)).body).toEqual({ status: 'UP', version: expect.any(String) });
    const health = await broker.http.get(`${API}/health`).expect(200);
    expect(health.body).toMatchObject({ status: 'UP', dependent_services: { 'permissions-api': { status: 'UP' }, redis: { status: 'UP' }, 'site-workers': { status: 'UP' } } });
    await broker.http.post(`${API}/job/submit`).set('Content-Type', 'application/json').send('{}').expect(401);
    await broker.http.get(`${API}/job/${randomUUID()}/status`).expect(401);
  });

  describe('bad input', () => {
    it.each([
      ['invalid JSON', '{"script": ', [{ type: 'json_invalid', loc: ['body', 11] }]],
      ['a list', '[]', [{ type: 'model_attributes_type', loc: ['body'] }]],
      ['no image nor script', {}, [{ type: 'missing', loc: ['body', 'container_image'] }, { type: 'missing', loc: ['body', 'script'] }]],
      ['an empty image', { container_image: ' ', script: 'true' }, [{ type: 'string_too_short', loc: ['body', 'container_image'] }]],
      ['parameters that are a number', { container_image: 'busybox', script: 'true', parameters: 5 }, [{ type: 'dict_type', loc: ['body', 'parameters'] }]],
      ['a parameter name that is no option', { container_image: 'busybox', script: 'true', parameters: { 'a b': 1 } }, [{ type: 'value_error', loc: ['body', 'parameters', 'a b'] }]],
      ['sizes that are not sizes', { container_image: 'busybox', script: 'true', system_parameters: { cpu_cores: 'many', memory: 0, runtime: 1.5, gpu_model: 'H100', cores: 4 } }, [
        { type: 'int_parsing', loc: ['body', 'system_parameters', 'cpu_cores'] },
        { type: 'greater_than_equal', loc: ['body', 'system_parameters', 'memory'] },
        { type: 'int_from_float', loc: ['body', 'system_parameters', 'runtime'] },
        { type: 'enum', loc: ['body', 'system_parameters', 'gpu_model'] },
        { type: 'extra_forbidden', loc: ['body', 'system_parameters', 'cores'] },
      ]],
    ])('answers 422 listing every problem for %s, holding nothing', async (_name, body, detail) => {
      const heldBefore = await broker.heldNow('cores');
      const res = await submit(body).expect(422);
      expect(res.body.detail).toEqual(detail.map((d) => expect.objectContaining(d)));
      expect(await broker.heldNow('cores')).toBe(heldBefore);
    });

    it('answers a typed error naming why, when no site can run the job', async () => {
      const cores = await submit({ container_image: 'busybox', script: 'true', system_parameters: { cpu_cores: 64 } }).expect(422);
      expect(cores.body).toEqual({ code: 'not-available', detail: 'Not available: Site demo: 64 cores asked, 32 exist' });
      const gpu = await submit({ container_image: 'busybox', script: 'true', system_parameters: { gpu_model: 'A100' } }).expect(422);
      expect(gpu.body.code).toBe('not-available');
      const nul = await submit({ container_image: 'busybox', script: 'echo \u0000' }).expect(422);
      expect(nul.body.code).toBe('not-available');
    });

    it('answers 413, 404 and 405 in its own shape', async () => {
      const big = await submit(JSON.stringify({ container_image: 'busybox', script: 'x'.repeat(2 * 1024 * 1024) })).expect(413);
      expect(big.body).toEqual({ code: 'body-too-large', detail: `The request body is larger than ${broker.config.bodyLimitBytes} bytes` });
      expect((await broker.http.get(`${API}/job/submit`).set(headers('alice')).expect(405)).body).toEqual({ detail: 'Method Not Allowed', code: 'method-not-allowed' });
      expect((await broker.http.get(`${API}/jobs`).set(headers('alice')).expect(404)).body).toEqual({ detail: 'Not Found', code: 'route-not-found' });
    });

    it('never answers 500 to any JSON at all, in any field', async () => {
      const field = fc.oneof(fc.anything(), fc.integer(), fc.string(), fc.constantFrom('busybox', 'true', 'K40', null));
      const body = fc.record({
        container_image: field, script: field, parameters: fc.oneof(field, fc.dictionary(fc.string(), field)),
        system_parameters: fc.oneof(field, fc.record({ cpu_cores: field, memory: field, runtime: field, gpu_model: field, output_data_size: field }, { requiredKeys: [] })),
      }, { requiredKeys: [] });
      const submitted: string[] = [];
      await fc.assert(fc.asyncProperty(body, async (value) => {
        const res = await submit(value);
        expect([200, 409, 422]).toContain(res.status);
        if (res.status === 200) submitted.push(res.body.job_id as string);
      }), { numRuns: 60 });
      for (const id of submitted) await finalStatus(id);
    });
  });
});
