import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { sessionOfProvision } from '../../src/protocol/srcnet/srcnet-ids.js';
import { checkDocument } from '../../src/protocol/validator.js';
import { auditLedger } from '../../src/store/audit-ledger.js';
import { redisKeys } from '../../src/store/redis-keys.js';
import { demoSite, startTestBroker, type TestBroker } from '../support/test-broker.js';
import { exampleQuery, finalStatus, HOUR, send, smallQuery } from '../support/srcnet.js';

type Doc = Record<string, any>;

/** SRCNet's compute API through the real HTTP stack, engine, BullMQ workers and Redis. */
describe('the SRCNet compute API', () => {
  let broker: TestBroker;
  let data: Server;
  let dataUrl = '';
  beforeAll(async () => {
    data = createServer((req, res) => {
      if (req.url === '/demo_city/sources.csv') res.writeHead(200, { 'Content-Type': 'text/csv' }).end('ra,dec\n10.5,-30.1\n');
      else res.writeHead(404).end();
    });
    await new Promise<void>((ready) => data.listen(0, '127.0.0.1', ready));
    dataUrl = `http://127.0.0.1:${(data.address() as AddressInfo).port}/demo_city`;
    broker = await startTestBroker({
      config: { sites: [demoSite({
        preparationMs: 0, releasingMs: 0, scratchGiB: 10_000,
        executor: { type: 'local', containerRuntime: 'none', developmentImages: {
          'test.example/echo:1': { entrypoint: '/bin/sh', command: ['-c', 'echo "args: $*"; cat data/*; echo catalogue > "$EB_OUTPUTS/catalogue.txt"', 'echo'] },
          'test.example/fail:1': { entrypoint: '/bin/sh', command: ['-c', 'echo crashing; exit 3', 'fail'] },
          'test.example/sleep:1': { entrypoint: '/bin/sh', command: ['-c', 'echo sleeping; sleep 60', 'sleep'] },
        } },
      })] },
    });
  });
  afterAll(async () => {
    await broker.close();
    await new Promise((done) => data.close(done));
  });

  const provision = async (body: Doc = smallQuery(), headers: Record<string, string> = {}): Promise<string> => {
    const res = await send(broker.http, 'put', '/v1/provision', body, headers).expect(200);
    expect(res.body).toMatchObject({ response_code: 0, response_text: 'OK' });
    return res.body.provision_id as string;
  };
  const job = (container = 'test.example/echo:1', extra: Doc = {}): Doc => ({ container, dataset: `${dataUrl}/sources.csv`, ...extra });

  describe('query', () => {
    it.each([
      ['a K40', { gpu_model: 'K40' }],
      ['no GPU', { gpu_model: 'none' }],
      ['a null GPU', { gpu_model: null }],
      ['the GPU left out', { gpu_model: undefined }],
    ])('answers 0 for a query that fits, with %s, holding nothing', async (_name, gpu) => {
      const heldBefore = await broker.heldNow('cores');
      const res = await send(broker.http, 'post', '/v1/query', { ...smallQuery(), ...gpu }).expect(200);
      expect(res.body).toEqual({ response_code: 0, response_text: 'OK' });
      expect(await broker.heldNow('cores')).toBe(heldBefore);
    });

    it('answers 1, naming what does not exist, for more cores or another GPU than any site has', async () => {
      const cores = await send(broker.http, 'post', '/v1/query', smallQuery({ cpu_cores: 64 }));
      expect(cores.body).toEqual({ response_code: 1, response_text: 'Not available: Site demo: 64 cores asked, 32 exist' });
      const gpu = await send(broker.http, 'post', '/v1/query', smallQuery({ gpu_model: 'A100' }));
      expect(gpu.body).toEqual({ response_code: 1, response_text: 'Not available: Site demo: 1 A100 GPUs asked, 1 K40 exist' });
      const huge = await send(broker.http, 'post', '/v1/query', smallQuery({ memory: 1e9 }));
      expect(huge.body.response_code).toBe(1);
    });

    it('answers 1, naming the known locations, for a data_location no site serves, holding nothing', async () => {
      const heldBefore = await broker.heldNow('cores');
      const query = await send(broker.http, 'post', '/v1/query', smallQuery({ data_location: 'atlantis' })).expect(200);
      expect(query.body).toEqual({ response_code: 1, response_text: 'Not available: No site serves the data location atlantis; the known locations are: democity' });
      const held = await send(broker.http, 'put', '/v1/provision', smallQuery({ data_location: 'atlantis' })).expect(200);
      expect(held.body).toEqual({ ...query.body, provision_id: null, provision_validity: null });
      expect(await broker.heldNow('cores')).toBe(heldBefore);
      // A served location is matched without regard to case, as the planner matches it.
      expect((await send(broker.http, 'post', '/v1/query', smallQuery({ data_location: 'DemoCity' }))).body.response_code).toBe(0);
    });

    it('answers 2 when the deadline is past, or too close for the runtime', async () => {
      const past = await send(broker.http, 'post', '/v1/query', smallQuery({ deadline: '2020-01-01T00:00:00' }));
      expect(past.body.response_code).toBe(2);
      expect(past.body.response_text).toMatch(/^Not bookable: /);
      const close = await send(broker.http, 'post', '/v1/query', smallQuery({ runtime: 2 }, HOUR));
      expect(close.body.response_code).toBe(2);
    });

    it('reads a naive deadline as UTC and a date as its midnight, as the prototype did', async () => {
      const ahead = new Date(Date.now() + 3 * 24 * HOUR).toISOString();
      expect((await send(broker.http, 'post', '/v1/query', smallQuery({ deadline: ahead.replace('Z', '') }))).body.response_code).toBe(0);
      expect((await send(broker.http, 'post', '/v1/query', smallQuery({ deadline: ahead.slice(0, 10) }))).body.response_code).toBe(0);
      expect((await send(broker.http, 'post', '/v1/query', smallQuery({ cpu_cores: '2' }))).body.response_code).toBe(0);
    });
  });

  describe('bodies it cannot read', () => {
    it.each([
      ['invalid JSON', '{"cpu_cores": ', [{ type: 'json_invalid', loc: ['body', 14], msg: 'JSON decode error' }]],
      ['an empty body', '', [{ type: 'missing', loc: ['body'], msg: 'Field required' }]],
      ['a list', '[1]', [{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from' }]],
    ])('answers 422 for %s', async (_name, body, detail) => {
      const res = await send(broker.http, 'post', '/v1/query', body).expect(422);
      expect(res.body.detail).toEqual(detail.map((d) => expect.objectContaining(d)));
    });

    it('answers 413 for a body over the limit', async () => {
      const res = await send(broker.http, 'post', '/v1/query', JSON.stringify({ data_location: 'x'.repeat(2 * 1024 * 1024) })).expect(413);
      expect(res.body).toEqual({ detail: `Request body larger than ${broker.config.bodyLimitBytes} bytes` });
    });

    it('never answers 500 to any JSON at all, in any field', async () => {
      const field = fc.oneof(fc.anything(), fc.integer(), fc.string(), fc.constantFrom('K40', 'none', '2030-01-01', 'http://127.0.0.1:1/x'));
      const body = fc.record({
        data_location: field, data_size: field, output_data_size: field, memory: field, cpu_cores: field, runtime: field, gpu_model: field, deadline: field,
        container: field, dataset: field, params: field, contact_email: field,
      }, { requiredKeys: [] });
      const id = await provision();
      await fc.assert(fc.asyncProperty(body, async (value) => {
        const query = await send(broker.http, 'post', '/v1/query', value);
        expect([200, 422]).toContain(query.status);
        const submit = await send(broker.http, 'post', `/v1/${id}x/submit`, value);
        expect([200, 422]).toContain(submit.status);
      }), { numRuns: 60 });
    });

    it('answers 422 naming every bad field of a query, as FastAPI does', async () => {
      const heldBefore = await broker.heldNow('cores');
      const res = await send(broker.http, 'put', '/v1/provision', { data_location: 7, data_size: -1, memory: 1.5, cpu_cores: 'many', runtime: 0, gpu_model: 'H100', deadline: 'soon' }).expect(422);
      expect(res.body.detail).toEqual([
        { type: 'string_type', loc: ['body', 'data_location'], msg: 'Input should be a valid string' },
        { type: 'greater_than_equal', loc: ['body', 'data_size'], msg: 'Input should be greater than or equal to 0', ctx: { ge: 0 } },
        { type: 'missing', loc: ['body', 'output_data_size'], msg: 'Field required' },
        { type: 'int_from_float', loc: ['body', 'memory'], msg: 'Input should be a valid integer, got a number with a fractional part' },
        { type: 'int_parsing', loc: ['body', 'cpu_cores'], msg: 'Input should be a valid integer, unable to parse string as an integer' },
        { type: 'greater_than_equal', loc: ['body', 'runtime'], msg: 'Input should be greater than or equal to 1', ctx: { ge: 1 } },
        { type: 'enum', loc: ['body', 'gpu_model'], msg: "Input should be 'none', 'K40', 'A100', 'RTX4090' or 'RX7900XT'", ctx: { expected: "'none', 'K40', 'A100', 'RTX4090' or 'RX7900XT'" } },
        { type: 'datetime_from_date_parsing', loc: ['body', 'deadline'], msg: 'Input should be a valid datetime or date' },
      ]);
      expect(await broker.heldNow('cores')).toBe(heldBefore);
    });

    it('answers 422 for a submission without a container, with a dataset that is no URL, or with params that are no options', async () => {
      const id = await provision();
      const res = await send(broker.http, 'put', `/v1/provision/${id}/submit`, { dataset: 'not a url', params: { 'a b': 1, ok: 2 } }).expect(422);
      expect(res.body.detail).toEqual([
        { type: 'missing', loc: ['body', 'container'], msg: 'Field required' },
        { type: 'url_parsing', loc: ['body', 'dataset'], msg: 'Input should be a valid URL, relative URL without a base' },
        expect.objectContaining({ type: 'value_error', loc: ['body', 'params', 'a b'] }),
      ]);
      const list = await send(broker.http, 'put', `/v1/provision/${id}/submit`, { ...job(), params: [1] }).expect(422);
      expect(list.body.detail).toEqual([{ type: 'dict_type', loc: ['body', 'params'], msg: 'Input should be a valid dictionary' }]);
      // Nothing was bound: the provision still waits.
      expect((await broker.http.get(`/v1/provision/${id}/status`)).body.response_code).toBe(2);
    });
  });

  describe('provision, submit and status', () => {
    it('holds the capacity until provision_validity, then runs the submitted job to 0 with its log and outputs', async () => {
      const heldBefore = await broker.heldNow('cores');
      const res = await send(broker.http, 'put', '/v1/provision', smallQuery({ cpu_cores: 3 })).expect(200);
      expect(res.body.provision_id).toMatch(/^[A-Za-z0-9_-]{22}\.prov$/);
      const validity = Date.parse(res.body.provision_validity);
      expect(res.body.provision_validity).toMatch(/\+00:00$/);
      expect(validity - Date.now()).toBeGreaterThan(9 * 60_000);
      expect(validity - Date.now()).toBeLessThanOrEqual(10 * 60_000);
      expect(await broker.heldNow('cores')).toBe(heldBefore + 3);
      const id = res.body.provision_id as string;
      expect((await broker.http.get(`/v1/provision/${id}/status`)).body).toEqual({
        response_code: 2, response_text: 'Invalid job: no job has been submitted to this provision', logging: '', output_data: null,
      });
      // The ExecutionBroker API shows the same session: accepted, its start window as long as the provision lasts.
      const held = (await broker.http.get(`/sessions/${sessionOfProvision(id)}`).expect(200)).body as Doc;
      expect(checkDocument('AbstractExecutionSession', held)).toEqual([]);
      expect(held).toMatchObject({ phase: 'ACCEPTED', compute: { cores: { min: 3, max: 3 } }, schedule: { available: { start: expect.stringMatching(/\/PT10M$/), duration: 'PT1H' } } });
      expect(held.executable).toBeUndefined();

      const submitted = await send(broker.http, 'put', `/v1/provision/${id}/submit`, job('test.example/echo:1', { params: { threshold: 5, '--verbose': true, quiet: false, band: ['L', 'S'] }, contact_email: 'astro@example.org' })).expect(200);
      expect(submitted.body).toEqual({ response_code: 0, response_text: 'OK', job_id: id.replace(/\.prov$/, '.job') });
      const status = await finalStatus(broker.http, id);
      expect(status).toMatchObject({ response_code: 0, response_text: 'OK' });
      expect(status.logging).toBe('args: --threshold 5 --verbose --band L --band S\nra,dec\n10.5,-30.1\n');
      // output_data is the session's outputs listing (the one the outputs connector names), each file with its URL.
      const uuid = sessionOfProvision(id)!;
      expect(status.output_data).toBe(`${broker.baseUrl}/sessions/${uuid}/outputs`);
      const listing = await broker.http.get(new URL(status.output_data as string).pathname).expect(200);
      expect(listing.body).toEqual({ session: uuid, files: [{ path: 'catalogue.txt', size: 10, url: `${broker.baseUrl}/sessions/${uuid}/outputs/catalogue.txt` }] });
      expect((await broker.http.get(new URL(listing.body.files[0].url as string).pathname).expect(200)).text).toBe('catalogue\n');
      expect(await broker.heldNow('cores')).toBe(heldBefore);
      const ran = (await broker.http.get(`/sessions/${uuid}`).expect(200)).body as Doc;
      expect(checkDocument('AbstractExecutionSession', ran)).toEqual([]);
      expect(ran).toMatchObject({
        phase: 'COMPLETED', executable: { image: { locations: ['test.example/echo:1'] } },
        data: [{ meta: { name: 'dataset' }, location: `${dataUrl}/sources.csv` }],
        compute: { volumes: [{ path: '/data/sources.csv', mode: 'READONLY', resource: ran.data?.[0]?.meta?.uuid }] },
        schedule: { available: { start: expect.stringMatching(/\/PT0S$/) } },
        connectors: expect.arrayContaining([{ kind: 'urn:srcnet:connector:outputs', status: 'AVAILABLE', protocol: 'HTTP', location: status.output_data }]),
      });
      expect(ran.compute.volumes[0].resource).toMatch(/^[0-9a-f-]{36}$/); // the dataset's uuid, as offers refer to resources
    });

    it.each([
      ['PUT', 'put', (id: string) => `/v1/provision/${id}/submit`, (id: string) => `/v1/provision/${id}/status`],
      ['POST, without the provision/ segment', 'post', (id: string) => `/v1/${id}/submit`, (id: string) => `/v1/${id}/status`],
    ] as const)('takes a submission by %s, and a null params, and answers the status at either path', async (_name, method, submitPath, statusPath) => {
      const id = await provision();
      const submitted = await send(broker.http, method, submitPath(id), job('test.example/echo:1', { params: null, contact_email: null })).expect(200);
      expect(submitted.body.response_code).toBe(0);
      const status = await finalStatus(broker.http, id);
      expect(status.response_code).toBe(0);
      expect(status.logging).toMatch(/^args: \n/);
      expect((await broker.http.get(statusPath(id))).body).toEqual(status);
    });

    it('takes POST for a provision, and a submission without params', async () => {
      const res = await send(broker.http, 'post', '/v1/provision', smallQuery()).expect(200);
      expect(res.body.response_code).toBe(0);
      expect((await send(broker.http, 'put', `/v1/${res.body.provision_id}/submit`, job())).body.response_code).toBe(0);
      expect((await finalStatus(broker.http, res.body.provision_id)).response_code).toBe(0);
    });

    it('answers 1 while the job runs, and 6 once it is cancelled through the ExecutionBroker API', async () => {
      const id = await provision();
      await send(broker.http, 'put', `/v1/provision/${id}/submit`, job('test.example/sleep:1')).expect(200);
      let status: Doc = {};
      for (let i = 0; i < 200 && !/sleeping/.test(String(status.logging)); i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await broker.http.get(`/v1/${id}/status`)).body as Doc;
      }
      expect(status).toMatchObject({ response_code: 1, response_text: 'Running...', logging: 'sleeping\n' });
      const session = new URL(status.output_data as string).pathname.split('/')[2];
      await send(broker.http, 'post', `/sessions/${session}`, { kind: 'uri:enum-value-update', path: '/phase', value: 'CANCELLED' }).expect(200);
      expect((await broker.http.get(`/v1/${id}/status`)).body).toMatchObject({ response_code: 6, response_text: 'System error: the job was cancelled before it finished' });
    });

    it('answers 5 when the application fails', async () => {
      const id = await provision();
      await send(broker.http, 'put', `/v1/provision/${id}/submit`, job('test.example/fail:1')).expect(200);
      expect(await finalStatus(broker.http, id)).toMatchObject({
        response_code: 5, response_text: 'Execution error: The executable exited with status 3', logging: 'crashing\n',
      });
    });

    it('answers 6 when the site fails the job: data it cannot fetch, or a container it cannot run', async () => {
      const missing = await provision();
      await send(broker.http, 'put', `/v1/provision/${missing}/submit`, job('test.example/echo:1', { dataset: `${dataUrl}/gone.csv` })).expect(200);
      expect((await finalStatus(broker.http, missing)).response_text).toMatch(/^System error: Staging the data failed: .*answered 404$/);
      const unknown = await provision();
      await send(broker.http, 'put', `/v1/provision/${unknown}/submit`, job('registry.example/unknown:1')).expect(200);
      expect((await finalStatus(broker.http, unknown)).response_text).toMatch(/^System error: Site demo cannot run this executable: .*registry\.example\/unknown:1/);
    });

    it('answers 1 for a dataset the site cannot stage, or not in time, and keeps the provision for another try', async () => {
      const id = await provision(smallQuery({ data_size: 5000 }));
      const rucio = await send(broker.http, 'put', `/v1/provision/${id}/submit`, job('test.example/echo:1', { dataset: 'rucio://demo/sources.csv' }));
      expect(rucio.body).toEqual({ response_code: 1, response_text: 'Job cannot be executed: Site demo cannot fetch data [dataset] from a [rucio] location', job_id: null });
      // 5000 GB from a host the site does not hold: hours at its default bandwidth, past the held start window.
      const far = await send(broker.http, 'put', `/v1/provision/${id}/submit`, job('test.example/echo:1', { dataset: 'https://elsewhere.example/sources.csv' }));
      expect(far.body.response_code).toBe(1);
      expect(far.body.response_text).toMatch(/^Job cannot be executed: Site demo needs PT\d+H\d+M[\d.]+S to prepare this/);
      expect((await send(broker.http, 'put', `/v1/provision/${id}/submit`, job())).body.response_code).toBe(0);
      expect((await finalStatus(broker.http, id)).response_code).toBe(0);
    });

    it('answers 2 for an unknown provision, and for one a job was submitted to already', async () => {
      for (const id of ['nonsense', 'AAAAAAAAAAAAAAAAAAAAAA.prov', 'demo.city-12.prov']) {
        expect((await send(broker.http, 'put', `/v1/provision/${id}/submit`, job())).body).toEqual({ response_code: 2, response_text: 'Invalid provision: provision ID unknown', job_id: null });
        expect((await broker.http.get(`/v1/provision/${id}/status`)).body).toEqual({ response_code: 2, response_text: 'Invalid job: job does not exist', logging: '', output_data: null });
      }
      const id = await provision();
      expect((await send(broker.http, 'put', `/v1/provision/${id}/submit`, job())).body.response_code).toBe(0);
      expect((await send(broker.http, 'put', `/v1/provision/${id}/submit`, job())).body).toEqual({
        response_code: 2, response_text: 'Invalid provision: a job was submitted to this provision already', job_id: null,
      });
      expect((await finalStatus(broker.http, id)).response_code).toBe(0);
    });
  });

  describe('the rest of the prototype\'s surface', () => {
    it('answers ping and health', async () => {
      expect((await broker.http.get('/v1/ping').expect(200)).body).toEqual({ status: 'UP', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
      const health = (await broker.http.get('/v1/health').expect(200)).body as Doc;
      // The prototype's HealthResponse: every field required; permissions-api is UP with no issuer to ask.
      expect(health).toEqual({
        uptime: expect.any(Number), number_of_managed_requests: expect.any(Number),
        dependent_services: { 'permissions-api': { status: 'UP' }, redis: { status: 'UP' }, 'site-workers': { status: 'UP' } },
      });
      expect(Number.isInteger(health.uptime) && health.uptime >= 0).toBe(true);
      expect(health.number_of_managed_requests).toBeGreaterThan(0);
    });

    it('answers 404 and 405 as FastAPI does', async () => {
      expect((await broker.http.get('/v1/nothing').expect(404)).body).toEqual({ detail: 'Not Found' });
      const wrong = await broker.http.get('/v1/query').expect(405);
      expect(wrong.body).toEqual({ detail: 'Method Not Allowed' });
      expect(wrong.headers.allow).toBe('POST');
      expect((await broker.http.delete('/v1/provision/x.prov/submit').expect(405)).headers.allow).toBe('PUT, POST');
    });
  });
});

/** A provision made through SRCNet holds the same capacity an ExecutionBroker offer would. */
describe('one engine behind both APIs', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    // Long enough for the checks made while the provision holds, on a loaded machine (1.5 s was not).
    broker = await startTestBroker({ config: { provisionLifetimeMs: 4000, sites: [demoSite({ scratchGiB: 10_000 })] } });
  });
  afterAll(async () => { await broker.close(); });

  const wanting = (cores: number) => ({
    executable: { kind: 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds/executable/docker-container.yaml', image: { locations: ['busybox'] }, entrypoint: '/bin/true' },
    compute: { kind: 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds/compute/simple-compute-resource.yaml', cores: { min: cores, max: cores } },
    schedule: { requested: { start: `${new Date().toISOString()}/PT1H`, duration: 'PT10M' } },
  });
  const offers = async (cores: number): Promise<Doc> =>
    (await send(broker.http, 'post', '/requests', wanting(cores)).expect(303)).body as Doc;

  it('takes the prototype\'s example query as written, and its provision leaves the rest to ExecutionBroker offers until it lapses', async () => {
    const before = await offers(20);
    expect(before.result).toBe('YES');
    for (const offer of before.offers) await send(broker.http, 'post', `/sessions/${offer.meta.uuid}`, { kind: 'uri:enum-value-update', path: '/phase', value: 'REJECTED' }).expect(200);

    expect((await send(broker.http, 'post', '/v1/query', exampleQuery())).body).toEqual({ response_code: 0, response_text: 'OK' });
    const held = await send(broker.http, 'put', '/v1/provision', exampleQuery()).expect(200);
    expect(held.body.response_code).toBe(0);
    expect([await broker.heldNow('cores'), await broker.heldNow('memory'), await broker.heldNow('gpu:K40'), await broker.heldNow('storage')]).toEqual([16, 196, 1, 8000]);
    const audit = () => auditLedger(broker.redis, redisKeys(broker.config.keyPrefix), broker.config.sites, Date.now());
    expect(await audit()).toEqual({ holds: 1, overbookings: [], leakedHolds: [], missingHolds: [], calendarMismatches: [], shareMismatches: [] });

    const during = await offers(20);
    expect(during.result).toBe('NO');
    expect(during.meta.messages.map((m: Doc) => m.kind)).toContain('urn:no-capacity');
    // And the other way round: the one K40 is held, so a second provision asking for it must wait past its deadline.
    expect((await send(broker.http, 'post', '/v1/query', exampleQuery({}, 76 * HOUR))).body.response_code).toBe(2);

    // No submission: the BullMQ timer expires the provision at provision_validity and releases it.
    for (let i = 0; i < 150 && (await broker.heldNow('cores')) > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await broker.heldNow('cores')).toBe(0);
    expect((await broker.http.get(`/v1/provision/${held.body.provision_id}/status`)).body).toMatchObject({
      response_code: 2, response_text: 'Invalid job: the provision expired before a job was submitted',
    });
    expect((await send(broker.http, 'put', `/v1/provision/${held.body.provision_id}/submit`, { container: 'x', dataset: 'http://127.0.0.1/x' })).body).toEqual({
      response_code: 2, response_text: 'Invalid provision: provision expired', job_id: null,
    });
    expect(await audit()).toEqual({ holds: 0, overbookings: [], leakedHolds: [], missingHolds: [], calendarMismatches: [], shareMismatches: [] });
    expect((await offers(20)).result).toBe('YES');
  });
});
