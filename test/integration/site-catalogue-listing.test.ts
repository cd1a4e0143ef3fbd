import { parse as parseYaml } from 'yaml';
import { decodeBody } from '../../src/protocol/codecs/body-codec.js';
import { detectContainerRuntime } from '../../src/sites/detect-container-runtime.js';
import { redisKeys } from '../../src/store/redis-keys.js';
import { demoSite, dockerRequest, startTestBroker, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const HOUR = 3600_000;
const MINUTE = 60_000;
const iso = (ms: number): string => new Date(ms).toISOString();
const update = (value: string) => JSON.stringify({ kind: 'uri:enum-value-update', path: '/phase', value });

/**
 * The catalogue (`GET /sites`): per site what it runs and with what, its GPUs, storage, and what
 * its calendar in Redis leaves free now and hour by hour, filterable; through real site workers
 * and the real calendar (offers hold capacity there, rejections and expiry give it back).
 */
describe('the catalogue of sites', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startTestBroker({
      config: {
        offerLifetimeMs: 3_000,
        sites: [
          demoSite({ name: 'alpha', cores: 8, memoryGiB: 32, gpus: { A100: 2 }, preparationMs: 0, releasingMs: 0 }),
          demoSite({ name: 'beta', cores: 16, memoryGiB: 64, gpus: { K40: 1 }, preparationMs: 0, releasingMs: 0 }),
        ],
      },
    });
  });
  afterAll(async () => { await broker.close(); });

  const sites = async (query = ''): Promise<Doc[]> => (await broker.http.get(`/sites${query}`).expect(200)).body.sites as Doc[];
  const site = async (name: string, query = ''): Promise<Doc> => (await sites(query)).find((entry) => entry.name === name)!;
  const names = async (query: string): Promise<string[]> => (await sites(query)).map((entry) => entry.name as string);
  const offers = async (body: Doc): Promise<Doc[]> => {
    const res = await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body)).expect(303);
    expect(res.body.result).toBe('YES');
    return res.body.offers as Doc[];
  };
  const siteOf = (offer: Doc): string => String(offer.meta.description).replace(/^Offered by site /, '');
  const reject = async (list: Doc[]): Promise<void> => {
    for (const offer of list) await broker.http.post(`/sessions/${offer.meta.uuid}`).set('Content-Type', 'application/json').send(update('REJECTED')).expect(200);
  };

  it('tells per site its executors, GPUs by model, storage, and free capacity now and for each of the next 24 hours', async () => {
    const before = Date.now();
    const alpha = await site('alpha');
    expect(alpha).toMatchObject({
      name: 'alpha', online: true, cores: 8, memoryGiB: 32, gpus: { A100: 2 },
      executables: expect.arrayContaining(['docker-container']),
      executors: ['processes'],
      storage: [{ name: 'DEMOCITY-RSE', local: true }],
    });
    expect(alpha.nextDowntime).toBeUndefined(); // no catalogue, no declared downtime
    const { free } = alpha;
    expect(Date.parse(free.at)).toBeGreaterThanOrEqual(before);
    expect(free.now).toEqual({ cores: 8, memoryGiB: 32, gpus: { A100: 2 } });
    expect(free.step).toBe('PT1H');
    expect(free.hours).toHaveLength(24);
    const minute = Math.floor(Date.parse(free.at) / MINUTE) * MINUTE;
    free.hours.forEach((hour: Doc, i: number) => {
      expect(hour).toEqual({ start: iso(minute + i * HOUR).replace('.000', ''), end: iso(minute + (i + 1) * HOUR).replace('.000', ''), cores: 8, memoryGiB: 32, gpus: { A100: 2 } });
    });
    expect((await site('beta', '?hours=3')).free.hours).toHaveLength(3);
    expect((await site('beta', '?hours=0')).free).toMatchObject({ now: { cores: 16, memoryGiB: 64, gpus: { K40: 1 } }, hours: [] });
    expect((await site('beta', '?hours=72')).free.hours).toHaveLength(72);
  });

  it('answers in JSON, XML and YAML alike', async () => {
    const json = await sites('?hours=2');
    const xml = await broker.http.get('/sites?hours=2').set('Accept', 'application/xml').expect(200);
    expect(xml.headers['content-type']).toMatch(/^application\/xml/);
    expect(xml.text).toContain('<executors><executor>processes</executor></executors>');
    expect(xml.text).toMatch(/<free><at>[^<]+<\/at><now><cores>8<\/cores><memoryGiB>32<\/memoryGiB><gpus><A100>2<\/A100><\/gpus><\/now><step>PT1H<\/step><hours><hour><start>/);
    const fromXml = decodeBody(Buffer.from(xml.text), 'xml', 'SiteList') as Doc;
    const xmlSites = fromXml.sites.site as Doc[];
    expect(xmlSites.map((entry) => entry.name)).toEqual(['alpha', 'beta']);
    expect((xmlSites[1]!.free.hours.hour as Doc[]).map((hour) => hour.cores)).toEqual(['16', '16']);
    const yaml = await broker.http.get('/sites?hours=2').set('Accept', 'application/yaml').expect(200);
    expect(yaml.headers['content-type']).toMatch(/^application\/yaml/);
    const fromYaml = parseYaml(yaml.text).sites as Doc[];
    const without = (list: Doc[]) => list.map(({ free, ...rest }) => ({ ...rest, free: { now: free.now, hours: free.hours.length } }));
    expect(without(fromYaml)).toEqual(without(json));
  });

  it('filters by kind, GPU model, cores and memory free; unknown values answer an empty list', async () => {
    expect(await names('')).toEqual(['alpha', 'beta']);
    expect(await names('?kind=docker-container')).toEqual(['alpha', 'beta']);
    expect(await names('?kind=executable/docker-container')).toEqual(['alpha', 'beta']);
    // Notebooks: exactly the sites whose live workers run them now.
    const notebooks = (await sites()).filter((entry) => entry.executables.includes('jupyter-notebook')).map((entry) => entry.name);
    expect(await names('?kind=jupyter-notebook')).toEqual(notebooks);
    expect(await names('?gpu=A100')).toEqual(['alpha']);
    expect(await names('?gpu=a100')).toEqual(['alpha']);
    expect(await names('?gpu=K40&kind=docker-container')).toEqual(['beta']);
    expect(await names('?cores=8')).toEqual(['alpha', 'beta']);
    expect(await names('?cores=9')).toEqual(['beta']);
    expect(await names('?memoryGiB=40')).toEqual(['beta']);
    expect(await names('?memoryGiB=0.5&cores=1')).toEqual(['alpha', 'beta']);
    expect(await names('?gpu=A100&cores=9')).toEqual([]);
    // Values no site has: an empty list, not an error.
    expect(await names('?kind=teleporter')).toEqual([]);
    expect(await names('?gpu=H100')).toEqual([]);
    expect(await names('?cores=17')).toEqual([]);
    const xml = await broker.http.get('/sites?gpu=H100').set('Accept', 'application/xml').expect(200);
    expect(xml.text).toMatch(/<site-list><sites\s*\/>|<site-list><sites><\/sites>/);
  });

  it.each([
    ['cores=0', 'cores'], ['cores=two', 'cores'], ['cores=1.5', 'cores'], ['memoryGiB=-1', 'memoryGiB'], ['memoryGiB=lots', 'memoryGiB'],
    ['hours=73', 'hours'], ['hours=-1', 'hours'], ['hours=1.5', 'hours'], ['kind=', 'kind'], ['gpu=', 'gpu'],
    ['gpu=A100&gpu=K40', 'gpu'], ['gpus=A100', 'gpus'], ['cores=1&cores=2', 'cores'],
  ])('answers GET /sites?%s with a 400 invalid-query naming %s, in the client\'s format', async (query, name) => {
    const json = await broker.http.get(`/sites?${query}`).expect(400);
    expect(json.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(json.body).toMatchObject({ code: 'invalid-query', messages: [{ values: { name } }] });
    const yaml = await broker.http.get(`/sites?${query}`).set('Accept', 'application/yaml').expect(400);
    expect(yaml.headers['content-type']).toMatch(/^application\/yaml/); // as the other routes' problems in YAML
    expect(parseYaml(yaml.text)).toMatchObject({ code: 'invalid-query', messages: [{ values: { name } }] });
    const xml = await broker.http.get(`/sites?${query}`).set('Accept', 'application/xml').expect(400);
    expect(xml.headers['content-type']).toMatch(/^application\/problem\+xml/);
    expect(xml.text).toContain('invalid-query');
  });

  it('shows free capacity drop while offers hold it and come back once they are rejected', async () => {
    const made = await offers(dockerRequest({ min: 3, max: 3 }, { min: 4, max: 4 }));
    const now = await sites();
    let dropped = 0;
    for (const entry of now) {
      const held = await broker.heldNow('cores', entry.name);
      const heldMemory = await broker.heldNow('memory', entry.name);
      expect({ site: entry.name, free: entry.free.now.cores }).toEqual({ site: entry.name, free: entry.cores - held });
      expect(entry.free.now.memoryGiB).toBe(entry.memoryGiB - heldMemory);
      if (held > 0) dropped++;
    }
    expect(dropped).toBeGreaterThan(0);
    const offeredNow = made.filter((offer) => Date.parse(offer.schedule.preparing.start) <= Date.now());
    for (const name of new Set(offeredNow.map(siteOf))) {
      const entry = now.find((candidate) => candidate.name === name)!;
      expect(entry.free.now.cores).toBeLessThanOrEqual(entry.cores - 3);
      expect(entry.free.hours[0].cores).toBeLessThanOrEqual(entry.cores - 3);
    }
    await reject(made);
    for (const entry of await sites()) expect(entry.free.now).toMatchObject({ cores: entry.cores, memoryGiB: entry.memoryGiB });
  });

  it('shows an offer for later in the hours it holds, and gives the capacity back once the offer expires', async () => {
    const start = Date.now() + 3 * HOUR;
    const made = await offers({ ...dockerRequest({ min: 5, max: 5 }), schedule: { requested: { start: `${iso(start)}/PT10M`, duration: 'PT30M' } } });
    const listed = await sites();
    for (const name of new Set(made.map(siteOf))) {
      const entry = listed.find((candidate) => candidate.name === name)!;
      const mine = made.filter((offer) => siteOf(offer) === name);
      // The hours its offers cover show 5 cores less for each; the hours before, nothing held.
      const from = Math.min(...mine.map((offer) => Date.parse(offer.schedule.preparing.start)));
      const hourOf = (at: number) => entry.free.hours.findIndex((hour: Doc) => Date.parse(hour.start) <= at && at < Date.parse(hour.end));
      expect(hourOf(from)).toBeGreaterThanOrEqual(2);
      expect(entry.free.hours[hourOf(from)].cores).toBeLessThanOrEqual(entry.cores - 5);
      for (let i = 0; i < hourOf(from) - 1; i++) expect(entry.free.hours[i].cores).toBe(entry.cores);
      expect(entry.free.now.cores).toBe(entry.cores);
      // Only what is free now counts for the filter: the site still has all its cores now.
      expect(await names(`?cores=${entry.cores}`)).toContain(name);
    }
    // The offers expire (3 s here): the calendar gives their capacity back.
    let after: Doc[] = [];
    for (let i = 0; i < 100; i++) {
      after = await sites();
      if (after.every((entry) => entry.free.hours.every((hour: Doc) => hour.cores === entry.cores))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const entry of after) expect(entry.free.hours.map((hour: Doc) => hour.cores)).toEqual(Array(24).fill(entry.cores));
    const phases = await Promise.all(made.map(async (offer) => (await broker.http.get(`/sessions/${offer.meta.uuid}`).expect(200)).body.phase));
    expect(new Set(phases)).toEqual(new Set(['EXPIRED']));
  });

  it('leaves a site whose free cores fall short out of ?cores=, and lists it again once they are back', async () => {
    const made = await offers(dockerRequest({ min: 8, max: 8 }));
    const full = [...new Set(made.filter((offer) => Date.parse(offer.schedule.preparing.start) <= Date.now()).map(siteOf))];
    expect(full.length).toBeGreaterThan(0);
    const listed = await names('?cores=1');
    for (const name of full) {
      const entry = await site(name);
      if (entry.free.now.cores < 1) expect(listed).not.toContain(name);
    }
    expect(await names('?cores=8')).not.toContain('alpha'); // alpha has 8 cores; an offer of 8 holds them all now
    await reject(made);
    expect(await names('?cores=8')).toEqual(['alpha', 'beta']);
  });
});

/** `executors` says what the site's live workers make runs with, as they found it (`containerRuntime: auto` resolved). */
describe('the catalogue\'s executors', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startTestBroker({ config: { sites: [
      demoSite({ name: 'chosen', executor: { type: 'local', containerRuntime: 'auto' } }),
      demoSite({ name: 'plain' }),
    ] } });
  }, 60_000);
  afterAll(async () => { await broker.close(); });

  it('names the runtime the worker found for auto, and processes for a site without containers', async () => {
    const found = await detectContainerRuntime();
    const listed = (await broker.http.get('/sites').expect(200)).body.sites as Doc[];
    const chosen = listed.find((entry) => entry.name === 'chosen')!;
    expect(chosen.executors).toEqual(found === 'none' ? expect.arrayContaining(['processes']) : [found]);
    expect(listed.find((entry) => entry.name === 'plain')!.executors).toEqual(expect.arrayContaining(['processes']));
    // Published per worker beside its abilities, and read only for live workers.
    const keys = redisKeys(broker.config.keyPrefix);
    const published = Object.values(await broker.redis.hgetall(keys.siteExecutors('chosen'))).map((text) => JSON.parse(text));
    expect(published).toEqual([chosen.executors]);
    await broker.redis.del(keys.siteWorkers('chosen')); // as if its worker had stopped beating
    const without = ((await broker.http.get('/sites').expect(200)).body.sites as Doc[]).find((entry) => entry.name === 'chosen')!;
    expect(without.executors).toEqual(['auto']); // the sites file's word
  });
});
