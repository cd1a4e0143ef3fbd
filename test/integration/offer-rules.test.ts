import { demoSite, dockerRequest, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;

const compute = (cores: Doc, memory: Doc = { min: 1 }) => ({ ...dockerRequest(), compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores, memory } });

/** A request the broker cannot serve is a NO that explains itself, never a 400 and never silence. */
describe('offer rules', () => {
  let broker: TestBroker;
  beforeAll(async () => { broker = await startTestBroker({ config: { sites: [demoSite({ cores: 32, memoryGiB: 64 })] } }); });
  afterAll(async () => { await broker.close(); });

  async function offerSet(body: Doc): Promise<Doc> {
    const res = await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body));
    expect(res.status).toBe(303);
    return res.body as Doc;
  }

  async function expectNo(body: Doc, kind: string, text: RegExp): Promise<Doc> {
    const set = await offerSet(body);
    expect(set.result).toBe('NO');
    expect(set.offers).toBeUndefined();
    const reasons = (set.meta.messages as Doc[]).filter((m) => m.level === 'ERROR');
    const reason = reasons.find((m) => m.kind === kind && text.test(m.message));
    expect(reason).toBeDefined();
    // Each message carries its template, the values and the rendered sentence.
    expect(reason!.template).toEqual(expect.any(String));
    for (const [name, value] of Object.entries(reason!.values ?? {})) {
      if (reason!.template.includes(`{${name}}`)) expect(reason!.message).toContain(String(value));
    }
    return set;
  }

  it('says NO when min is greater than max', () => expectNo(compute({ min: 8, max: 4 }), 'urn:invalid-value', /min \[8\] is greater than max \[4\]/));
  it('says NO to negative values', () => expectNo(compute({ min: -2 }), 'urn:invalid-value', /negative/));
  it('says NO to units other than GiB', () => expectNo(compute({ min: 1 }, { min: 2, units: 'MB' }), 'urn:unsupported-units', /units \[MB\]/));
  it('says NO to an impossible size', () => expectNo(compute({ min: 1 }, { min: 1e30 }), 'urn:invalid-value', /not a usable whole number/));
  it('says NO when more cores are asked than the site has', () => expectNo(compute({ min: 64 }), 'urn:resource-limit', /64 cores asked, 32 exist/));
  it('says NO to an unknown kind', () => expectNo({ ...dockerRequest(), executable: { kind: 'https://example.org/kinds/teleporter', meta: { name: 't' } } }, 'urn:unsupported-kind', /Unknown kind \[https:\/\/example\.org\/kinds\/teleporter\]/));
  it('says NO without an executable', () => expectNo({ compute: compute({ min: 1 }).compute }, 'urn:executable-required', /executable is required/));
  it('says NO to a duration it cannot read', () => expectNo({ ...dockerRequest(), schedule: { requested: { duration: 'PT1X' } } }, 'urn:input-syntax-fail', /PT1X/));
  it('says NO to a start window that has already ended', () => expectNo({ ...dockerRequest(), schedule: { requested: { start: '2020-01-01T00:00:00Z/PT1H', duration: 'PT10M' } } }, 'urn:schedule-unavailable', /ended/));
  it('says NO to a run longer than the site allows', () => expectNo({ ...dockerRequest(), schedule: { requested: { duration: 'P30D' } } }, 'urn:resource-limit', /at most PT168H/));
  it('says NO to privileged containers', () => expectNo({ ...dockerRequest(), executable: { ...(dockerRequest().executable as Doc), privileged: true } }, 'urn:not-supported', /privileged/));
  it('says NO to data it cannot fetch', () => expectNo({ ...dockerRequest(), data: [{ kind: `${V1}/data/simple-data-resource.yaml`, meta: { name: 'd' }, location: 'ftp://example.org/x' }] }, 'urn:not-supported', /\[ftp\]/));
  it('says NO to a mount of a resource that does not exist', () => expectNo({ ...dockerRequest(), compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, volumes: [{ kind: `${V1}/volume/simple-volume-mount.yaml`, resource: 'nothing', path: '/in' }] } }, 'urn:resource-not-found', /Unable to locate resource \[nothing\]/));
  it('says NO when data names storage that does not exist', () => expectNo({ ...dockerRequest(), data: [{ kind: `${V1}/data/simple-data-resource.yaml`, meta: { name: 'd' }, location: 'https://example.org/x', storage: 'elsewhere' }] }, 'urn:resource-not-found', /storage resource \[elsewhere\]/));

  it('caps a max above what the site has, with a warning, and offers the bigger allocation a little later', async () => {
    const set = await offerSet(compute({ min: 2, max: 1000 }));
    expect(set.result).toBe('YES');
    const [soon, big] = set.offers as Doc[];
    expect(soon!.compute.cores).toEqual({ min: 2, max: 2 });
    expect(big!.compute.cores).toEqual({ min: 32, max: 32 });
    // Both hold capacity while offered, so the whole site is free only after the first one ends.
    expect(Date.parse(big!.schedule.available.start.split('/')[0])).toBeGreaterThan(Date.parse(soon!.schedule.releasing.start));
    expect(set.meta.messages).toEqual([expect.objectContaining({ level: 'WARN', kind: 'urn:resource-limit' })]);
    await Promise.all(set.offers.map((o: Doc) => broker.http.post(`/sessions/${o.meta.uuid}`).set('Content-Type', 'application/json')
      .send('{"kind":"uri:enum-value-update","path":"phase","value":"REJECTED"}').expect(200)));
  });

  it('offers a later slot when the site is full now, and says NO when it is full for the whole window', async () => {
    const first = await offerSet(compute({ min: 30 }));
    expect(first.result).toBe('YES');
    const later = await offerSet(compute({ min: 4 }));
    expect(later.result).toBe('YES');
    expect(Date.parse(later.offers[0].schedule.available.start.split('/')[0])).toBeGreaterThan(Date.parse(first.offers[0].schedule.releasing.start));
    const start = new Date().toISOString();
    await expectNo({ ...compute({ min: 4 }), schedule: { requested: { start: `${start}/PT2M`, duration: 'PT10M' } } }, 'urn:no-capacity', /has no room for 4 cores and 1 GiB for PT10M starting between/);
    await Promise.all([first, later].map((set) => broker.http.post(`/sessions/${set.offers[0].meta.uuid}`).set('Content-Type', 'application/json')
      .send('{"kind":"uri:enum-value-update","path":"phase","value":"REJECTED"}').expect(200)));
    expect((await offerSet({ ...compute({ min: 4 }), schedule: { requested: { start: `${start}/PT2M`, duration: 'PT10M' } } })).result).toBe('YES');
  });
});
