import { randomUUID } from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';
import { decodeBody } from '../../src/protocol/codecs/body-codec.js';
import { redisKeys } from '../../src/store/redis-keys.js';
import { demoSite, dockerRequest, startTestBroker, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
// ajv-formats is CommonJS; under ESM its default export arrives wrapped.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020, formats: string[]) => Ajv2020;

const HOUR = 3600_000;
const iso = (ms: number): string => new Date(ms).toISOString();
const update = (value: string) => JSON.stringify({ kind: 'uri:enum-value-update', path: '/phase', value });

/** A request that starts in `inHours` hours (so that an accepted session stays WAITING), on 1 core. */
function laterRequest(inHours: number, name = 'job'): Doc {
  const at = Date.now() + inHours * HOUR;
  return { ...dockerRequest(), name, schedule: { requested: { start: `${iso(at)}/PT1H`, duration: 'PT30M' } } };
}

/**
 * The overview resources: GET /sessions (the viewer's sessions, filtered and paged), GET /sites,
 * GET /sites/{name}/timeline and GET /sessions/{uuid}/history, read from the indexes that the Lua
 * steps keep, in each of the three formats. (Who sees what: authorization-matrix.test.ts.)
 */
describe('the overview resources', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startTestBroker({
      config: { sites: [demoSite({ name: 'alpha', preparationMs: 0, releasingMs: 0 }), demoSite({ name: 'beta', cores: 16, preparationMs: 0, releasingMs: 0 })] },
    });
  });
  afterAll(async () => { await broker.close(); });

  const offers = async (body: Doc): Promise<Doc[]> => {
    const res = await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body)).expect(303);
    expect(res.body.result).toBe('YES');
    return res.body.offers as Doc[];
  };
  const list = async (query = ''): Promise<Doc> => (await broker.http.get(`/sessions${query}`).expect(200)).body as Doc;

  /** Every session the listing gives, following `next` (at most 100 pages). */
  async function everything(query: string): Promise<Doc[]> {
    const all: Doc[] = [];
    let page = await list(query);
    for (let i = 0; i < 100; i++) {
      all.push(...page.sessions);
      if (!page.next) break;
      page = await list(`${query}${query ? '&' : '?'}cursor=${page.next}`);
    }
    return all;
  }

  it('lists sessions newest first, each with its phase, site, owner and the schedule of its document, in JSON, XML and YAML', async () => {
    const first = await offers(laterRequest(1, 'first'));
    const second = await offers(laterRequest(2, 'second'));
    const listed = (await list('?limit=1000')).sessions as Doc[];
    const ours = listed.filter((item) => [...first, ...second].some((offer) => offer.meta.uuid === item.uuid));
    expect(ours).toHaveLength(first.length + second.length);
    // Newest first: the second request's offers before the first's.
    expect(ours.slice(0, second.length).map((item) => item.uuid).sort()).toEqual(second.map((offer) => offer.meta.uuid).sort());
    const created = listed.map((item) => Date.parse(item.created));
    expect(created).toEqual([...created].sort((a, b) => b - a));
    for (const offer of [...first, ...second]) {
      const item = ours.find((candidate) => candidate.uuid === offer.meta.uuid)!;
      expect(item).toMatchObject({
        name: offer.meta.name,
        phase: 'OFFERED',
        owner: 'anonymous',
        url: offer.meta.url,
        expires: offer.expires,
        schedule: offer.schedule,
        cores: offer.compute.cores.min,
        memoryGiB: offer.compute.memory.min,
      });
      expect(['alpha', 'beta']).toContain(item.site);
      expect(offer.meta.description).toContain(item.site);
    }

    const xml = await broker.http.get('/sessions?limit=1000').set('Accept', 'application/xml').expect(200);
    expect(xml.headers['content-type']).toMatch(/^application\/xml/);
    expect(xml.text).toMatch(/^<\?xml[^>]*><session-list><sessions><session><uuid>/);
    const fromXml = decodeBody(Buffer.from(xml.text), 'xml', 'SessionList') as Doc;
    expect((fromXml.sessions.session as Doc[]).map((item) => item.uuid)).toEqual(listed.map((item) => item.uuid));
    const yaml = await broker.http.get('/sessions?limit=1000').set('Accept', 'application/yaml').expect(200);
    expect(parseYaml(yaml.text)).toEqual({ sessions: listed });
    await broker.http.get('/sessions').set('Accept', 'text/html').expect(406);
  });

  it('filters by phase (repeated, or a comma list) and by site, and pages through everything exactly once', async () => {
    const made: Doc[][] = [];
    for (let i = 0; i < 6; i++) made.push(await offers(laterRequest(3 + i)));
    const accepted = made.slice(0, 3).map((set) => set[0]!);
    for (const offer of accepted) await broker.http.post(`/sessions/${offer.meta.uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
    await broker.http.post(`/sessions/${accepted[0]!.meta.uuid}`).set('Content-Type', 'application/json').send(update('CANCELLED')).expect(200);

    const all = await everything('?limit=1000');
    const paged = await everything('?limit=3');
    expect(paged.map((item) => item.uuid)).toEqual(all.map((item) => item.uuid));
    expect(new Set(paged.map((item) => item.uuid)).size).toBe(paged.length);

    const phases = (items: Doc[]) => new Set(items.map((item) => item.phase));
    const cancelledOrRejected = all.filter((item) => ['CANCELLED', 'REJECTED'].includes(item.phase)).map((item) => item.uuid);
    expect(cancelledOrRejected.length).toBeGreaterThan(1);
    expect((await everything('?phase=CANCELLED,REJECTED&limit=2')).map((item) => item.uuid)).toEqual(cancelledOrRejected);
    expect((await everything('?phase=cancelled&phase=REJECTED')).map((item) => item.uuid)).toEqual(cancelledOrRejected);
    expect(phases(await everything('?phase=OFFERED'))).toEqual(new Set(['OFFERED']));
    // An accepted session moves on to WAITING by itself; either way it is no longer OFFERED.
    const live = await everything('?phase=ACCEPTED,WAITING');
    expect(live.map((item) => item.uuid).sort()).toEqual(accepted.slice(1).map((offer) => offer.meta.uuid).sort());
    const onBeta = await everything('?site=beta');
    expect(onBeta.length).toBeGreaterThan(0);
    expect(onBeta.map((item) => item.uuid)).toEqual(all.filter((item) => item.site === 'beta').map((item) => item.uuid));
    expect(await everything('?site=nowhere')).toEqual([]);
  });

  it.each([
    ['limit=0', 'limit'], ['limit=1001', 'limit'], ['limit=ten', 'limit'], ['phase=SLEEPING', 'phase'], ['phase=', 'phase'],
    ['cursor=not-a-cursor', 'cursor'], [`cursor=${Buffer.from('123').toString('base64url')}`, 'cursor'], ['site=', 'site'], ['limit=1&limit=2', 'limit'],
  ])('answers GET /sessions?%s with a 400 invalid-query naming %s', async (query, name) => {
    const res = await broker.http.get(`/sessions?${query}`).set('Accept', 'application/yaml').expect(400);
    expect(res.headers['content-type']).toMatch(/^application\/yaml/);
    expect(parseYaml(res.text)).toMatchObject({ code: 'invalid-query', messages: [{ values: { name } }] });
  });

  it('drops from the listing, and from its index, a session whose record is gone (past its retention)', async () => {
    const [offer] = await offers(laterRequest(10));
    const uuid = offer!.meta.uuid as string;
    const keys = redisKeys(broker.config.keyPrefix);
    const entry = (await broker.redis.zrange(keys.sessionsByTime, 0, -1)).find((member) => member.endsWith(uuid));
    expect(entry).toBeDefined();
    expect((await list('?limit=1000')).sessions.map((item: Doc) => item.uuid)).toContain(uuid);
    await broker.redis.del(keys.session(uuid)); // what its expiry does
    expect((await list('?limit=1000')).sessions.map((item: Doc) => item.uuid)).not.toContain(uuid);
    expect(await broker.redis.zscore(keys.sessionsByTime, entry!)).toBeNull();
    expect(await broker.redis.zscore(keys.sessionsOf('anonymous'), entry!)).toBeNull();
  });

  it('drops the oldest index entries whose sessions are gone whenever a session is added', async () => {
    const keys = redisKeys(broker.config.keyPrefix);
    const ghost = randomUUID();
    const entry = `000000000000001:${ghost}`;
    await broker.redis.zadd(keys.sessionsByTime, 0, entry);
    await broker.redis.zadd(keys.sessionsOf('anonymous'), 0, entry);
    for (const site of ['alpha', 'beta']) await broker.redis.zadd(keys.reservations(site), 1, ghost);
    const made = await offers(laterRequest(30));
    expect(await broker.redis.zscore(keys.sessionsByTime, entry)).toBeNull();
    expect(await broker.redis.zscore(keys.sessionsOf('anonymous'), entry)).toBeNull();
    const sites = new Set<string>((await list('?limit=1000')).sessions.filter((item: Doc) => made.some((offer) => offer.meta.uuid === item.uuid)).map((item: Doc) => item.site as string));
    for (const site of sites) expect(await broker.redis.zscore(keys.reservations(site), ghost)).toBeNull();
  });

  it('records the phase history of a session as it runs to COMPLETED', async () => {
    const request = { ...dockerRequest(), executable: { ...dockerRequest().executable as Doc, command: ['-c', 'echo done'] } };
    const [offer] = await offers(request);
    const uuid = offer!.meta.uuid as string;
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
    let history: Doc = {};
    for (let i = 0; i < 200 && history.phase !== 'COMPLETED'; i++) {
      history = (await broker.http.get(`/sessions/${uuid}/history`).expect(200)).body as Doc;
      if (history.phase !== 'COMPLETED') await new Promise((r) => setTimeout(r, 50));
    }
    expect(history.uuid).toBe(uuid);
    expect(history.history.map((change: Doc) => change.phase)).toEqual(['OFFERED', 'ACCEPTED', 'WAITING', 'PREPARING', 'AVAILABLE', 'RUNNING', 'RELEASING', 'COMPLETED']);
    const times = history.history.map((change: Doc) => Date.parse(change.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(Math.abs(times[0] - Date.parse(offer!.meta.created))).toBeLessThan(1000);
    const xml = await broker.http.get(`/sessions/${uuid}/history`).set('Accept', 'application/xml').expect(200);
    expect(xml.text).toContain('<session-history><uuid>');
    expect(xml.text).toContain('<history><change><phase>OFFERED</phase>');
    await broker.http.get(`/sessions/${randomUUID()}/history`).expect(404);
    await broker.http.get('/sessions/not-a-uuid/history').expect(400);
  });

  it('describes the sites as a client may know them: sizes, limits, what they run; nothing of how', async () => {
    const res = await broker.http.get('/sites').expect(200);
    expect(res.body.sites.map((site: Doc) => site.name)).toEqual(['alpha', 'beta']);
    expect(res.body.sites[1]).toEqual({
      name: 'beta', online: true, cores: 16, memoryGiB: 256, scratchGiB: 10_000, gpus: { K40: 1 },
      limits: { cores: 32, memoryGiB: 256, duration: 'PT168H', horizon: 'PT720H' },
      preparation: 'PT0S', releasing: 'PT0S',
      // What the live worker can run of the three kinds the demo site lists; the rest, with the reason.
      executables: expect.arrayContaining(['docker-container']),
      ...(res.body.sites[1].unavailableExecutables ? { unavailableExecutables: expect.any(Array) } : {}),
      architectures: ['amd64'], operatingSystems: ['linux'], dataSchemes: ['http', 'https'], locations: ['democity'],
      storage: [{ name: 'DEMOCITY-RSE', local: true }],
      // The demo site's runs: sandboxed where bubblewrap works, else plain processes, and it says so.
      isolation: 'sandbox-if-available (development only)',
      // What runs its sessions, by name only (the test sites run plain processes).
      executors: ['processes'],
      // What its calendar leaves free now and hour by hour (site-catalogue-listing.test.ts looks closer).
      free: { at: expect.any(String), now: expect.objectContaining({ gpus: expect.any(Object) }), step: 'PT1H', hours: expect.any(Array) },
    });
    const { executables, unavailableExecutables = [] } = res.body.sites[1] as Doc;
    expect([...executables, ...unavailableExecutables.map((entry: Doc) => entry.kind)].sort()).toEqual(['docker-container', 'jupyter-notebook', 'singularity-container']);
    expect(unavailableExecutables.every((entry: Doc) => typeof entry.reason === 'string' && entry.reason.length > 0)).toBe(true);
    const text = JSON.stringify(res.body);
    for (const secret of ['"executor"', 'containerRuntime', 'scratch' + 'Dir', 'developmentImages', 'source-finder', 'localhost', broker.config.sites[0]!.scratchDir]) expect(text).not.toContain(secret);
    const xml = await broker.http.get('/sites').set('Accept', 'application/xml').expect(200);
    expect(xml.text).toContain('<site-list><sites><site><name>alpha</name><online>true</online>');
    expect(xml.text).toContain('<gpus><K40>1</K40></gpus>');
  });

  it('shows on a site\'s timeline what holds capacity in the window, and nothing once it has ended', async () => {
    const [offer] = await offers({ ...laterRequest(20), compute: { ...dockerRequest().compute as Doc, cores: { min: 3, max: 3 } } });
    const uuid = offer!.meta.uuid as string;
    const site = (await broker.http.get(`/sessions?limit=1000`)).body.sessions.find((item: Doc) => item.uuid === uuid).site as string;
    const start = Date.parse(offer!.schedule.preparing.start);
    const timeline = async (from: number, to: number): Promise<Doc> =>
      (await broker.http.get(`/sites/${site}/timeline?from=${iso(from)}&to=${iso(to)}`).expect(200)).body as Doc;
    const around = await timeline(start - HOUR, start + HOUR);
    expect(around).toMatchObject({ site, from: iso(start - HOUR).replace('.000', ''), capacity: { cores: site === 'beta' ? 16 : 32, memoryGiB: 256, gpus: { K40: 1 } } });
    const mine = (around.reservations as Doc[]).find((entry) => entry.session?.uuid === uuid);
    expect(mine).toMatchObject({
      phase: 'OFFERED', cores: 3, memoryGiB: 1, start: offer!.schedule.preparing.start,
      session: { uuid, name: offer!.meta.name, owner: 'anonymous', url: offer!.meta.url },
    });
    expect(Date.parse(mine!.end)).toBe(Date.parse(offer!.schedule.releasing.start)); // releasing takes no time here
    // Windows that end before it starts, or start after it ends, do not show it.
    expect((await timeline(start - 3 * HOUR, start - HOUR)).reservations.map((entry: Doc) => entry.session?.uuid)).not.toContain(uuid);
    expect((await timeline(start + 2 * HOUR, start + 3 * HOUR)).reservations.map((entry: Doc) => entry.session?.uuid)).not.toContain(uuid);
    // Overlapping either end is enough.
    expect((await timeline(start + 10 * 60_000, start + 3 * HOUR)).reservations.map((entry: Doc) => entry.session?.uuid)).toContain(uuid);
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('REJECTED')).expect(200);
    expect((await timeline(start - HOUR, start + HOUR)).reservations.map((entry: Doc) => entry.session?.uuid)).not.toContain(uuid);
    expect(await broker.redis.zscore(redisKeys(broker.config.keyPrefix).reservations(site), uuid)).toBeNull();
  });

  it('answers a timeline without a window for the next 12 hours', async () => {
    const before = Date.now();
    const body = (await broker.http.get('/sites/alpha/timeline').expect(200)).body as Doc;
    expect(Date.parse(body.from)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(body.to) - Date.parse(body.from)).toBe(12 * HOUR);
  });

  it.each([
    ['from=yesterday', 'from'], ['to=2026-13-01T00:00:00Z', 'to'], ['from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 'to'],
    ['from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z', 'to'], ['from=2026-01-01T00:00:00Z&from=2026-01-02T00:00:00Z', 'from'],
  ])('answers a timeline with %s with a 400 invalid-query naming %s', async (query, name) => {
    const res = await broker.http.get(`/sites/alpha/timeline?${query}`).expect(400);
    expect(res.body).toMatchObject({ code: 'invalid-query', messages: [{ values: { name } }] });
  });

  it('answers the timeline of an unknown site with a 404 problem in the client\'s format', async () => {
    const res = await broker.http.get('/sites/nowhere/timeline').set('Accept', 'application/xml').expect(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+xml/);
    expect(res.text).toContain('<detail>No site with the identifier [nowhere]</detail>');
    expect((await broker.http.get('/sites/nowhere/timeline').expect(404)).body.code).toBe('not-found');
  });

  it('answers other methods on the new paths with 405 and Allow', async () => {
    expect((await broker.http.delete('/sessions').expect(405)).headers.allow).toBe('GET, HEAD, POST');
    expect((await broker.http.post('/sites').expect(405)).headers.allow).toBe('GET, HEAD');
    expect((await broker.http.put('/sites/alpha/timeline').expect(405)).headers.allow).toBe('GET, HEAD');
    expect((await broker.http.post(`/sessions/${randomUUID()}/history`).expect(405)).headers.allow).toBe('GET, HEAD');
    expect((await broker.http.post('/events').expect(405)).headers.allow).toBe('GET, HEAD');
  });
});

describe('the overview documents', () => {
  let broker: TestBroker;
  beforeAll(async () => { broker = await startTestBroker({ config: { sites: [demoSite({ preparationMs: 0, releasingMs: 0 })] } }); });
  afterAll(async () => { await broker.close(); });

  it('match the schemas /openapi.json gives them, field for field', async () => {
    const document = (await broker.http.get('/openapi.json').expect(200)).body as Doc;
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv, ['date-time', 'uri', 'uuid']);
    ajv.addSchema({ $id: 'urn:test:openapi', components: document.components });
    const check = (name: string, value: unknown): unknown[] => {
      const validate = ajv.getSchema(`urn:test:openapi#/components/schemas/${name}`)!;
      return validate(value) ? [] : validate.errors ?? ['invalid'];
    };
    const offers = await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(dockerRequest())).expect(303);
    const uuid = offers.body.offers[0].meta.uuid as string;
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('ACCEPTED')).expect(200);
    const list = (await broker.http.get('/sessions?limit=1').expect(200)).body as Doc;
    expect(list.next).toEqual(expect.any(String));
    expect(check('SessionList', list)).toEqual([]);
    expect(check('SessionHistory', (await broker.http.get(`/sessions/${uuid}/history`).expect(200)).body)).toEqual([]);
    expect(check('SiteList', (await broker.http.get('/sites').expect(200)).body)).toEqual([]);
    const timeline = (await broker.http.get(`/sites/demo/timeline?from=${iso(Date.now() - HOUR)}`).expect(200)).body as Doc;
    expect(timeline.reservations.length).toBeGreaterThan(0);
    expect(check('SiteTimeline', timeline)).toEqual([]);
    // The schemas do refuse what they do not describe.
    expect(check('SessionList', { ...list, extra: 1 })).not.toEqual([]);
    expect(check('SiteTimeline', { ...timeline, reservations: [{ ...timeline.reservations[0], owner: 'someone' }] })).not.toEqual([]);
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(update('CANCELLED')).expect(200);
  });
});
