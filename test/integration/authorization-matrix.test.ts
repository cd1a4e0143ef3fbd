import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Response } from 'supertest';
import { provisionId, sessionOfProvision } from '../../src/protocol/srcnet/srcnet-ids.js';
import { oidcEnv, startIdentityProvider, type TestIdentityProvider } from '../support/oidc-provider.js';
import { openEventStream } from '../support/event-stream.js';
import { smallQuery } from '../support/srcnet.js';
import { demoSite, dockerRequest, startTestBroker, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
type User = 'alice' | 'bob';
type Actor = User | 'olga' | 'nobody';
const TERMINAL = new Set(['REJECTED', 'EXPIRED', 'COMPLETED', 'FAILED', 'CANCELLED']);

/**
 * Two users and an operator (olga) against every endpoint of both APIs (ExecutionBroker and
 * SRCNet's): each user's own access works, every cross-user access is refused as "not found"
 * (exactly as for an id never used), the operator reads and cancels but changes nothing else, and
 * nobody gets in without a token.
 */
describe('authorization matrix', () => {
  let idp: TestIdentityProvider;
  let broker: TestBroker;
  let data: Server;
  let dataUrl = '';
  const tokens = {} as Record<Exclude<Actor, 'nobody'>, string>;
  beforeAll(async () => {
    idp = await startIdentityProvider();
    data = createServer((_req, res) => { res.writeHead(200, { 'Content-Type': 'text/csv' }).end('ra,dec\n1,2\n'); });
    await new Promise<void>((ready) => data.listen(0, '127.0.0.1', ready));
    dataUrl = `http://127.0.0.1:${(data.address() as AddressInfo).port}/sources.csv`;
    broker = await startTestBroker({
      env: oidcEnv(idp.issuer),
      config: { sites: [demoSite({
        preparationMs: 0, releasingMs: 0, scratchGiB: 10_000,
        executor: { type: 'local', containerRuntime: 'none', developmentImages: { 'test.example/echo:1': { entrypoint: '/bin/sh', command: ['-c', 'echo job ran', 'echo'] } } },
      })] },
    });
    for (const user of ['alice', 'bob', 'olga'] as const) tokens[user] = await idp.tokenFor(user, { ttlSeconds: 3600 });
  });
  afterAll(async () => {
    await broker?.close();
    await new Promise((done) => data?.close(done));
    await idp?.close();
  });

  const as = (actor: Actor, method: 'get' | 'head' | 'post' | 'put', path: string, body?: string) => {
    let call = broker.http[method](path);
    if (actor !== 'nobody') call = call.set('Authorization', `Bearer ${tokens[actor]}`);
    if (body !== undefined) call = call.set('Content-Type', 'application/json').send(body);
    return call;
  };
  // A run long enough to be cancelled while RUNNING, short enough not to outlive the test by much.
  const request = JSON.stringify({ ...dockerRequest(), executable: { ...dockerRequest().executable as Doc, command: ['-c', 'sleep 8'] } });
  const update = (value: string) => JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value });

  const phaseOf = async (owner: User, session: string): Promise<string> => (await as(owner, 'get', `/sessions/${session}`).expect(200)).body.phase;

  type Stage = 'offered' | 'running' | 'completed';
  const waitFor = async (owner: User, session: string, phase: string): Promise<void> => {
    for (let i = 0; i < 300 && (await phaseOf(owner, session)) !== phase; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await phaseOf(owner, session)).toBe(phase);
  };
  // A quick run that leaves an output file, for the outputs endpoints (read-only: made once per owner).
  const writesOutput = JSON.stringify({ ...dockerRequest(), executable: { ...dockerRequest().executable as Doc, command: ['-c', 'echo result > "$EB_OUTPUTS/out.txt"'] } });
  const completed = new Map<User, Promise<{ offerSet: string; session: string }>>();

  /** An offer set of `owner` whose first session is OFFERED (fresh), RUNNING (fresh) or COMPLETED. */
  async function prepared(owner: User, stage: Stage): Promise<{ offerSet: string; session: string }> {
    if (stage === 'completed' && completed.has(owner)) return completed.get(owner)!;
    const make = async () => {
      const created = await as(owner, 'post', '/requests', stage === 'completed' ? writesOutput : request).expect(303);
      const ids = { offerSet: created.body.meta.uuid as string, session: created.body.offers[0].meta.uuid as string };
      if (stage !== 'offered') {
        await as(owner, 'post', `/sessions/${ids.session}`, update('ACCEPTED')).expect(200);
        await waitFor(owner, ids.session, stage === 'running' ? 'RUNNING' : 'COMPLETED');
      }
      return ids;
    };
    if (stage !== 'completed') return make();
    completed.set(owner, make());
    return completed.get(owner)!;
  }

  interface Row { endpoint: string; stage?: Stage; call(actor: Actor, ids: { offerSet: string; session: string }): Promise<Response>; operator: number; changes?: boolean }
  const rows: Row[] = [
    { endpoint: 'GET /offersets/{uuid}', call: (a, ids) => as(a, 'get', `/offersets/${ids.offerSet}`), operator: 200 },
    { endpoint: 'HEAD /offersets/{uuid}', call: (a, ids) => as(a, 'head', `/offersets/${ids.offerSet}`), operator: 200 },
    { endpoint: 'GET /sessions/{uuid}', call: (a, ids) => as(a, 'get', `/sessions/${ids.session}`), operator: 200 },
    { endpoint: 'HEAD /sessions/{uuid}', call: (a, ids) => as(a, 'head', `/sessions/${ids.session}`), operator: 200 },
    { endpoint: 'GET /sessions/{uuid}/logs', call: (a, ids) => as(a, 'get', `/sessions/${ids.session}/logs`), operator: 200 },
    { endpoint: 'GET /sessions/{uuid}/history', call: (a, ids) => as(a, 'get', `/sessions/${ids.session}/history`), operator: 200 },
    { endpoint: 'POST /sessions/{uuid} ACCEPTED', call: (a, ids) => as(a, 'post', `/sessions/${ids.session}`, update('ACCEPTED')), operator: 403, changes: true },
    { endpoint: 'POST /sessions/{uuid} REJECTED', call: (a, ids) => as(a, 'post', `/sessions/${ids.session}`, update('REJECTED')), operator: 403, changes: true },
    { endpoint: 'POST /sessions/{uuid} CANCELLED (offered)', call: (a, ids) => as(a, 'post', `/sessions/${ids.session}`, update('CANCELLED')), operator: 200, changes: true },
    { endpoint: 'GET /sessions/{uuid}/outputs', stage: 'completed', call: (a, ids) => as(a, 'get', `/sessions/${ids.session}/outputs`), operator: 200 },
    { endpoint: 'GET /sessions/{uuid}/outputs/{path}', stage: 'completed', call: (a, ids) => as(a, 'get', `/sessions/${ids.session}/outputs/out.txt`), operator: 200 },
    { endpoint: 'POST /sessions/{uuid} CANCELLED (running)', stage: 'running', call: (a, ids) => as(a, 'post', `/sessions/${ids.session}`, update('CANCELLED')), operator: 200, changes: true },
  ];

  const expected = (row: Row, owner: User, actor: Actor): number => {
    if (actor === 'nobody') return 401;
    if (actor === owner) return 200;
    return actor === 'olga' ? row.operator : 404;
  };

  const cases = rows.flatMap((row) => (['alice', 'bob'] as const).flatMap((owner) =>
    (['nobody', 'alice', 'bob', 'olga'] as const).map((actor) => [row.endpoint, owner, actor, row] as const)));

  it.each(cases)('%s of %s\'s, by %s', async (_endpoint, owner, actor, row) => {
    const ids = await prepared(owner, row.stage ?? 'offered');
    const before = await phaseOf(owner, ids.session);
    const response = await row.call(actor, ids);
    const status = expected(row, owner, actor);
    expect(response.status).toBe(status);
    if (status === 404 && response.request.method !== 'HEAD') {
      // No existence oracle: the same answer as for an identifier nobody ever used.
      const unknown = randomUUID();
      const path = (response.request.url as string).replace(/^https?:\/\/[^/]+/, '');
      const swapped = path.replace(ids.session, unknown).replace(ids.offerSet, unknown);
      const never = await (response.request.method === 'GET' ? as(actor, 'get', swapped) : as(actor, 'post', swapped, update('CANCELLED')));
      expect(never.status).toBe(404);
      expect(response.body.detail.replaceAll(ids.session, unknown).replaceAll(ids.offerSet, unknown)).toBe(never.body.detail);
      expect({ ...response.body, detail: '', instance: '', messages: [] }).toEqual({ ...never.body, detail: '', instance: '', messages: [] });
    }
    if (actor !== 'nobody' && status !== 401) expect(response.headers['x-vo-authenticated']).toBe(actor);
    if (row.changes && status !== 200) expect(await phaseOf(owner, ids.session)).toBe(before);
    // Stop what still runs (an accepted `sleep`), so that no process outlives the test.
    if (!TERMINAL.has(await phaseOf(owner, ids.session))) await as(owner, 'post', `/sessions/${ids.session}`, update('CANCELLED')).expect(200);
  });

  it.each([['/requests'], ['/offersets'], ['/direct'], ['/sessions']])('POST %s works for each user, for them alone, and not without a token', async (path) => {
    await as('nobody', 'post', path, request).expect(401);
    for (const [owner, other] of [['alice', 'bob'], ['bob', 'alice']] as const) {
      const created = await as(owner, 'post', path, request).expect(303);
      const location = new URL(created.headers.location as string).pathname;
      await as(owner, 'get', location).expect(200);
      await as(other, 'get', location).expect(404);
      await as('olga', 'get', location).expect(200);
      if (location.startsWith('/sessions/')) await as(owner, 'post', location, update('CANCELLED')).expect(200);
    }
  });

  describe('the overview resources', () => {
    const uuids = (body: Doc): string[] => (body.sessions as Doc[]).map((item) => item.uuid as string);

    it('GET /sessions lists each user\'s own sessions only, the operator\'s everyone\'s (or one owner\'s), nobody\'s without a token', async () => {
      const alices = await prepared('alice', 'offered');
      const bobs = await prepared('bob', 'offered');
      await as('nobody', 'get', '/sessions').expect(401);
      const alice = (await as('alice', 'get', '/sessions?limit=1000').expect(200)).body as Doc;
      expect(uuids(alice)).toContain(alices.session);
      expect(uuids(alice)).not.toContain(bobs.session);
      expect(new Set((alice.sessions as Doc[]).map((item) => item.owner))).toEqual(new Set(['alice']));
      const bob = (await as('bob', 'get', '/sessions?limit=1000').expect(200)).body as Doc;
      expect(uuids(bob)).toContain(bobs.session);
      expect(uuids(bob)).not.toContain(alices.session);
      const olga = (await as('olga', 'get', '/sessions?limit=1000').expect(200)).body as Doc;
      expect(uuids(olga)).toEqual(expect.arrayContaining([alices.session, bobs.session]));
      expect(uuids((await as('olga', 'get', '/sessions?owner=bob&limit=1000').expect(200)).body)).toEqual(uuids(bob));
      // A user may name themselves, and no one else (whether that user exists or not).
      expect(uuids((await as('alice', 'get', '/sessions?owner=alice&limit=1000').expect(200)).body)).toEqual(uuids(alice));
      for (const owner of ['bob', 'olga', 'someone-who-never-came']) {
        expect((await as('alice', 'get', `/sessions?owner=${owner}`).expect(403)).body.code).toBe('forbidden');
      }
    });

    it('GET /sites answers each user and the operator alike, and nobody without a token', async () => {
      await as('nobody', 'get', '/sites').expect(401);
      const bodies = await Promise.all((['alice', 'bob', 'olga'] as const).map(async (actor) => (await as(actor, 'get', '/sites').expect(200)).body));
      // The free capacity is read at each request's own instant (and minute): every answer has it; the rest is the same for all.
      for (const body of bodies) for (const site of body.sites) expect(site.free).toMatchObject({ at: expect.any(String), step: 'PT1H' });
      const answers = bodies.map((body) => ({ sites: body.sites.map(({ free: _free, ...site }: Record<string, unknown>) => site) }));
      expect(answers[1]).toEqual(answers[0]);
      expect(answers[2]).toEqual(answers[0]);
    });

    it('GET /sites/{name}/timeline names a user\'s own reservations, shows others\' without who or what, and names all for the operator', async () => {
      const alices = await prepared('alice', 'offered');
      const bobs = await prepared('bob', 'offered');
      const path = `/sites/demo/timeline?from=${new Date(Date.now() - 3600_000).toISOString()}`;
      await as('nobody', 'get', path).expect(401);
      const seen = async (actor: Actor): Promise<Doc[]> => (await as(actor, 'get', path).expect(200)).body.reservations as Doc[];
      const named = (entries: Doc[]) => entries.filter((entry) => entry.session).map((entry) => entry.session.uuid as string);
      const alice = await seen('alice');
      expect(named(alice)).toContain(alices.session);
      expect(named(alice)).not.toContain(bobs.session);
      expect(new Set(alice.filter((entry) => entry.session).map((entry) => entry.session.owner))).toEqual(new Set(['alice']));
      const olga = await seen('olga');
      expect(named(olga)).toEqual(expect.arrayContaining([alices.session, bobs.session]));
      expect(olga.every((entry) => entry.session)).toBe(true);
      // Bob's offer is on Alice's timeline all the same (it holds capacity), anonymised: its phase,
      // schedule and size, nothing that says whose or what it is.
      const bobsEntry = olga.find((entry) => entry.session.uuid === bobs.session)!;
      const { session: _session, ...anonymous } = bobsEntry;
      expect(alice).toContainEqual(anonymous);
      expect(alice.length).toBe(olga.length);
      expect(JSON.stringify(alice)).not.toContain(bobs.session);
      expect(JSON.stringify(alice)).not.toContain('bob');
    });

    it('GET /events streams each user\'s own notices only, the operator\'s everyone\'s, and nothing without a token', async () => {
      expect((await fetch(`${broker.baseUrl}/events`)).status).toBe(401);
      const streams = Object.fromEntries(await Promise.all((['alice', 'bob', 'olga'] as const).map(async (actor) =>
        [actor, await openEventStream(`${broker.baseUrl}/events`, { Authorization: `Bearer ${tokens[actor]}` })] as const)));
      try {
        for (const stream of Object.values(streams)) await stream.waitFor((event) => event.event === 'ready');
        const alices = await prepared('alice', 'offered');
        const bobs = await prepared('bob', 'offered');
        const offered = (uuid: string) => (event: { event: string; data: string }) => event.event === 'session' && JSON.parse(event.data).uuid === uuid;
        await streams.olga!.waitFor(offered(alices.session));
        await streams.olga!.waitFor(offered(bobs.session));
        await streams.alice!.waitFor(offered(alices.session));
        await streams.bob!.waitFor(offered(bobs.session));
        await new Promise((r) => setTimeout(r, 200)); // time for any stray notice to arrive
        const owners = (actor: 'alice' | 'bob') => new Set(streams[actor]!.events.filter((event) => event.event === 'session').map((event) => JSON.parse(event.data).owner));
        expect(owners('alice')).toEqual(new Set(['alice']));
        expect(owners('bob')).toEqual(new Set(['bob']));
      } finally {
        for (const stream of Object.values(streams)) stream.close();
      }
    });
  });

  it.each([['/availability'], ['/capabilities']])('GET %s answers anyone, without a token', async (path) => {
    for (const actor of ['nobody', 'alice', 'olga'] as const) expect((await as(actor, 'get', path)).status).toBe(200);
  });

  it('serves the web page to anyone, without a token (it holds no data), and a missing asset as not found', async () => {
    const page = await as('nobody', 'get', '/').expect(200);
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(page.text)?.[1];
    expect(script).toBeDefined();
    await as('nobody', 'get', script!).expect(200);
    await as('nobody', 'get', '/assets/no-such-file.js').expect(404);
  });

  it('answers 401, not 404, for an unknown path without a token, and 404 with one', async () => {
    await as('nobody', 'get', '/no/such/thing').expect(401);
    await as('alice', 'get', '/no/such/thing').expect(404);
  });

  describe('SRCNet\'s compute API', () => {
    const provision = async (owner: User): Promise<string> => {
      const answer = (await as(owner, 'put', '/v1/provision', JSON.stringify(smallQuery())).expect(200)).body;
      expect(answer).toMatchObject({ response_code: 0 });
      return answer.provision_id as string;
    };
    const job = () => JSON.stringify({ container: 'test.example/echo:1', dataset: dataUrl });
    /** A provision id nobody holds: what anyone else's must look like. */
    const unknownProvision = (): string => provisionId(randomUUID());
    const others = (owner: User): User => (owner === 'alice' ? 'bob' : 'alice');

    it.each([['PUT /v1/provision'], ['POST /v1/provision'], ['POST /v1/query']])('%s works for each user, not without a token', async (endpoint) => {
      const [method, path] = endpoint.split(' ') as [string, string];
      const verb = method.toLowerCase() as 'put' | 'post';
      expect((await as('nobody', verb, path, JSON.stringify(smallQuery()))).status).toBe(401);
      for (const user of ['alice', 'bob', 'olga'] as const) {
        const answer = (await as(user, verb, path, JSON.stringify(smallQuery())).expect(200)).body;
        expect(answer.response_code).toBe(0);
      }
    });

    const submits = ['PUT /v1/provision/{id}/submit', 'POST /v1/provision/{id}/submit', 'PUT /v1/{id}/submit', 'POST /v1/{id}/submit'];
    it.each(submits.flatMap((endpoint) => (['alice', 'bob'] as const).map((owner) => [endpoint, owner] as const)))('%s of %s\'s provision: only its owner submits', async (endpoint, owner) => {
      const [method, template] = endpoint.split(' ') as [string, string];
      const verb = method.toLowerCase() as 'put' | 'post';
      const id = await provision(owner);
      const path = (of: string) => template.replace('{id}', of);
      expect((await as('nobody', verb, path(id), job())).status).toBe(401);
      // Another user: the answer for a provision that does not exist, word for word.
      const never = (await as(others(owner), verb, path(unknownProvision()), job()).expect(200)).body;
      expect(never).toEqual({ response_code: 2, response_text: 'Invalid provision: provision ID unknown', job_id: null });
      expect((await as(others(owner), verb, path(id), job()).expect(200)).body).toEqual(never);
      // The operator sees it exists, and is told it may not.
      expect((await as('olga', verb, path(id), job()).expect(200)).body).toEqual({ response_code: 4, response_text: 'Access denied', job_id: null });
      // None of that used the provision up: its owner still submits.
      const submitted = (await as(owner, verb, path(id), job()).expect(200)).body;
      expect(submitted).toMatchObject({ response_code: 0, response_text: 'OK' });
      expect(submitted.job_id).toEqual(expect.any(String));
    });

    const statuses = ['GET /v1/provision/{id}/status', 'GET /v1/{id}/status'];
    it.each(statuses.flatMap((endpoint) => (['alice', 'bob'] as const).map((owner) => [endpoint, owner] as const)))('%s of %s\'s job: its owner and the operator read it, nobody else', async (endpoint, owner) => {
      const template = endpoint.split(' ')[1]!;
      const id = await provision(owner);
      expect((await as(owner, 'put', `/v1/provision/${id}/submit`, job()).expect(200)).body.response_code).toBe(0);
      const path = (of: string) => template.replace('{id}', of);
      expect((await as('nobody', 'get', path(id))).status).toBe(401);
      const never = (await as(others(owner), 'get', path(unknownProvision())).expect(200)).body;
      expect(never).toEqual({ response_code: 2, response_text: 'Invalid job: job does not exist', logging: '', output_data: null });
      expect((await as(others(owner), 'get', path(id)).expect(200)).body).toEqual(never);
      let own: Doc = {};
      for (let i = 0; i < 200; i++) {
        own = (await as(owner, 'get', path(id)).expect(200)).body;
        if (own.response_code !== 1) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(own).toMatchObject({ response_code: 0, response_text: 'OK', logging: 'job ran\n' });
      expect((await as('olga', 'get', path(id)).expect(200)).body).toEqual(own);
      // The job's session behind it, through the ExecutionBroker API: the same rule.
      const session = sessionOfProvision(id)!;
      await as(owner, 'get', `/sessions/${session}`).expect(200);
      await as(others(owner), 'get', `/sessions/${session}`).expect(404);
      await as('olga', 'get', `/sessions/${session}`).expect(200);
    });

    it.each([['/v1/ping'], ['/v1/health']])('GET %s answers anyone, without a token', async (path) => {
      for (const actor of ['nobody', 'alice', 'olga'] as const) expect((await as(actor, 'get', path)).status).toBe(200);
    });
  });
});
