import { demoSite, dockerRequest, startTestBroker, type TestBroker } from '../support/test-broker.js';
import { send, smallQuery } from '../support/srcnet.js';

type Doc = Record<string, any>;
const quick = { sites: [demoSite({ preparationMs: 0, releasingMs: 0 })] };

/** A docker request whose executable carries this command and environment. */
function withProcess(command: unknown[], environment: Record<string, unknown> = {}): Doc {
  const request = dockerRequest();
  return { ...request, executable: { ...(request.executable as Doc), command, environment } };
}

const messagesOf = (body: Doc): string[] => ((body.meta?.messages ?? body.messages ?? []) as Doc[]).map((m) => String(m.message));

describe('input the broker cannot use is refused when it arrives', () => {
  let broker: TestBroker;
  beforeAll(async () => { broker = await startTestBroker({ config: quick }); });
  afterAll(async () => { await broker.close(); });

  describe('SRCNet numbers out of range are a 422 naming the field', () => {
    it.each([
      ['runtime', 1e308, 'less_than_equal'],
      ['runtime', 2 ** 53, 'less_than_equal'],
      ['data_size', 1e308, 'less_than_equal'],
      ['output_data_size', 2 ** 53, 'less_than_equal'],
      ['memory', 1e308, 'less_than_equal'],
      ['cpu_cores', 1e308, 'less_than_equal'],
      ['deadline', -1e308, 'datetime_parsing'],
      ['deadline', 1e308, 'datetime_parsing'],
      ['deadline', '99999-01-01T00:00:00Z', 'datetime_from_date_parsing'],
    ])('%s: %s', async (field, value, type) => {
      for (const [method, path] of [['post', '/v1/query'], ['put', '/v1/provision']] as const) {
        const res = await send(broker.http, method, path, smallQuery({ [field]: value }));
        expect([res.status, res.body.detail]).toEqual([422, [expect.objectContaining({ type, loc: ['body', field] })]]);
      }
    });

    it('answers a query at the largest numbers it reads with an answer about capacity, never an error of its own', async () => {
      for (const overrides of [{ runtime: 100 * 366 * 24 }, { data_size: 1_000_000_000 }, { memory: 1_000_000_000, cpu_cores: 1_000_000 }, { deadline: '9999-12-31T23:59:59Z' }]) {
        const res = await send(broker.http, 'post', '/v1/query', smallQuery(overrides));
        expect(res.status).toBe(200);
        expect([JSON.stringify(overrides), [0, 1, 2].includes(res.body.response_code as number)]).toEqual([JSON.stringify(overrides), true]);
      }
    });
  });

  describe('NUL and control characters that cannot reach a process', () => {
    it.each([
      ['a NUL in a command item', withProcess(['-c', 'echo a\u0000b']), 'command item [1] holds U+0000'],
      ['a NUL in an environment value', withProcess(['-c', 'true'], { GREETING: 'a\u0000b' }), 'environment variable [GREETING] holds U+0000 in its value'],
      ['a NUL in an environment name', withProcess(['-c', 'true'], { 'A\u0000B': 'x' }), 'name [A\\u0000B] holds U+0000'],
      ['a control character in an environment name', withProcess(['-c', 'true'], { 'A\u0001B': 'x' }), 'holds U+0001'],
      ['an = in an environment name', withProcess(['-c', 'true'], { 'A=B': 'x' }), "holds '='"],
    ])('refuses %s with a NO naming it, on /requests and /direct', async (_name, body, said) => {
      const offers = await broker.http.post('/requests').set('Accept', 'application/json').send(body);
      expect([offers.status, offers.body.result]).toEqual([303, 'NO']);
      expect(messagesOf(offers.body)).toEqual(expect.arrayContaining([expect.stringContaining(said)]));
      const direct = await broker.http.post('/direct').set('Accept', 'application/json').send(body);
      expect(direct.status).toBe(400);
      expect(JSON.stringify(direct.body)).toContain(said.replace(/\\/g, '\\\\'));
    });

    it('still takes tabs and newlines in values, and a plain request', async () => {
      const res = await broker.http.post('/requests').set('Accept', 'application/json').send(withProcess(['-c', 'echo "a\tb"\necho c'], { LINES: 'one\ntwo' }));
      expect([res.status, res.body.result]).toEqual([303, 'YES']);
    });

    it('refuses a NUL in an SRCNet job parameter (response code 1, naming the item)', async () => {
      const provision = await send(broker.http, 'put', '/v1/provision', smallQuery()).expect(200);
      expect(provision.body.response_code).toBe(0);
      const submit = await send(broker.http, 'put', `/v1/${provision.body.provision_id as string}/submit`, { container: 'x', dataset: 'http://127.0.0.1/x.csv', params: { name: 'a\u0000b' } });
      expect(submit.body).toMatchObject({ response_code: 1, job_id: null });
      expect(submit.body.response_text).toContain('command item [1] holds U+0000');
    });
  });
});
