import { decodeBody } from '../../src/protocol/codecs/body-codec.js';
import { checkDocument } from '../../src/protocol/validator.js';
import { demoSite, dockerRequest, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;

const accept = { kind: 'uri:enum-value-update', path: '/phase', value: 'ACCEPTED' };
const reject = { kind: 'uri:enum-value-update', path: 'phase', value: 'REJECTED' };
const cancel = { kind: 'uri:enum-value-update', path: 'phase', value: 'CANCELLED' };

describe('the ExecutionBroker protocol over HTTP, with a real BullMQ site worker and Redis', () => {
  let broker: TestBroker;
  // A big site: these tests are about the protocol; capacity has tests of its own.
  beforeAll(async () => { broker = await startTestBroker({ config: { sites: [demoSite({ cores: 100_000, memoryGiB: 100_000, preparationMs: 0 })] } }); });
  afterAll(async () => { await broker.close(); });

  async function offers(body: Doc = dockerRequest({ min: 2, max: 8 }, { min: 2, max: 8 })): Promise<Doc> {
    const res = await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body));
    expect(res.status).toBe(303);
    return res.body as Doc;
  }

  it('answers POST /requests with 303, an absolute Location and the offer set in the body', async () => {
    const res = await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(dockerRequest({ min: 2, max: 8 })));
    expect(res.status).toBe(303);
    expect(res.headers.location).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/offersets\/[0-9a-f-]{36}$/);
    expect(res.body.result).toBe('YES');
    expect(String(res.headers.location).endsWith(res.body.meta.uuid)).toBe(true);
    expect(checkDocument('OfferSetResponse', res.body)).toEqual([]);
    for (const offer of res.body.offers) expect(checkDocument('AbstractExecutionSession', offer)).toEqual([]);
  });

  it('offers the largest allocation first and never goes below min or above max', async () => {
    const set = await offers(dockerRequest({ min: 2, max: 8 }, { min: 3, max: 6 }));
    expect(set.offers.map((o: Doc) => [o.compute.cores.min, o.compute.memory.min])).toEqual([[8, 6], [2, 3]]);
    for (const offer of set.offers) {
      expect(offer.phase).toBe('OFFERED');
      expect(offer.kind).toBe(`${V1}/session/scheduled-execution-session.yaml`);
      expect(offer.meta.options).toEqual([{ kind: 'uri:enum-value-option', path: '/phase', values: ['ACCEPTED', 'REJECTED', 'CANCELLED'] }]);
      expect(offer.schedule.available.duration).toBe('PT10M');
      expect(Date.parse(offer.expires) - Date.parse(set.meta.created)).toBe(5 * 60_000);
    }
  });

  it('serves the alias POST /offersets and GET /offersets/{uuid}', async () => {
    const res = await broker.http.post('/offersets').set('Content-Type', 'application/json').send(JSON.stringify(dockerRequest()));
    expect(res.status).toBe(303);
    const again = await broker.http.get(`/offersets/${res.body.meta.uuid}`);
    expect(again.status).toBe(200);
    expect(again.body.offers.map((o: Doc) => o.meta.uuid)).toEqual(res.body.offers.map((o: Doc) => o.meta.uuid));
  });

  it('accepts one offer and rejects its siblings in the same step, then runs the session to COMPLETED', async () => {
    const set = await offers();
    const [first, second] = set.offers as Doc[];
    const res = await broker.http.post(`/sessions/${second!.meta.uuid}`).set('Content-Type', 'application/json').send(JSON.stringify(accept));
    expect(res.status).toBe(200);
    expect(res.body.phase).toBe('ACCEPTED');
    expect(res.body.meta.options[0].values).toEqual(['CANCELLED']);
    const sibling = await broker.http.get(`/sessions/${first!.meta.uuid}`);
    expect(sibling.body.phase).toBe('REJECTED');
    expect(sibling.body.meta.options).toBeUndefined();
    let phase = 'ACCEPTED';
    for (let i = 0; i < 200 && phase !== 'COMPLETED' && phase !== 'FAILED'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      phase = (await broker.http.get(`/sessions/${second!.meta.uuid}`)).body.phase;
    }
    expect(phase).toBe('COMPLETED');
    const done = await broker.http.get(`/sessions/${second!.meta.uuid}`);
    expect(done.body.meta.messages.map((m: Doc) => m.message)).toEqual(expect.arrayContaining([
      'Preparing', 'Every component is ready', 'Running on site demo', 'Releasing',
    ]));
    expect((await broker.http.get(`/sessions/${second!.meta.uuid}/logs`)).text).toBe('hello\n');
  });

  it('refuses a second accept, a late accept and any transition the options do not allow with 409', async () => {
    const set = await offers();
    const [first, second] = set.offers as Doc[];
    await broker.http.post(`/sessions/${first!.meta.uuid}`).set('Content-Type', 'application/json').send(JSON.stringify(accept)).expect(200);
    const again = await broker.http.post(`/sessions/${first!.meta.uuid}`).set('Content-Type', 'application/json').send(JSON.stringify(accept));
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('transition-not-allowed');
    const sibling = await broker.http.post(`/sessions/${second!.meta.uuid}`).set('Content-Type', 'application/json').send(JSON.stringify(accept));
    expect(sibling.status).toBe(409);
    expect(sibling.body.detail).toContain('REJECTED');
  });

  it('rejects an offer and releases its capacity', async () => {
    const before = await broker.heldNow();
    const set = await offers(dockerRequest({ min: 3, max: 3 }));
    const held = await broker.heldNow();
    expect(held - before).toBe(3);
    const res = await broker.http.post(`/sessions/${set.offers[0].meta.uuid}`).set('Content-Type', 'application/json').send(JSON.stringify(reject));
    expect(res.body.phase).toBe('REJECTED');
    expect(await broker.heldNow()).toBe(before);
  });

  it('cancels an accepted session and releases its capacity', async () => {
    const before = await broker.heldNow();
    const set = await offers(dockerRequest({ min: 4, max: 4 }));
    const uuid = set.offers[0].meta.uuid;
    await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(JSON.stringify(accept)).expect(200);
    const res = await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(JSON.stringify(cancel));
    expect(res.status).toBe(200);
    expect(res.body.phase).toBe('CANCELLED');
    expect(res.body.compute.phase).toBe('CANCELLED');
    expect(await broker.heldNow()).toBe(before);
  });

  it('answers in the format Accept asks for, with q-values, and the same offer set in all three', async () => {
    const set = await offers();
    const uuid = set.meta.uuid;
    const json = await broker.http.get(`/offersets/${uuid}`).set('Accept', 'application/xml;q=0.5, application/json');
    expect(json.type).toBe('application/json');
    const xml = await broker.http.get(`/offersets/${uuid}`).set('Accept', 'application/json;q=0.1, application/xml');
    expect(xml.type).toBe('application/xml');
    expect(xml.text).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?><offers-response kind="/);
    const yaml = await broker.http.get(`/offersets/${uuid}`).set('Accept', 'application/yaml');
    expect(yaml.type).toBe('application/yaml');
    expect(yaml.text).toContain('result: "YES"');
    const fromXml = decodeBody(Buffer.from(xml.text), 'xml', 'OfferSetResponse');
    const fromYaml = decodeBody(Buffer.from(yaml.text), 'yaml', 'OfferSetResponse');
    expect(fromXml).toEqual(json.body);
    expect(fromYaml).toEqual(json.body);
    const wildcard = await broker.http.get(`/offersets/${uuid}`).set('Accept', '*/*');
    expect(wildcard.type).toBe('application/json');
  });

  it('reads requests in XML and YAML and answers in the kind family the client used', async () => {
    const xml = `<?xml version="1.0"?>
<offers-request>
  <executable kind="https://www.purl.org/ivoa.net/EB/schema/v1.0/types/executable/docker-container-1.0">
    <meta><name>xml-job</name></meta>
    <image><locations>busybox</locations></image>
    <command>-c</command>
    <command>echo 1</command>
  </executable>
  <compute kind="https://www.purl.org/ivoa.net/EB/schema/v1.0/types/compute/simple-compute-resource-1.0">
    <cores><min>2</min><max>2</max></cores>
  </compute>
</offers-request>`;
    const res = await broker.http.post('/requests').set('Content-Type', 'application/xml').set('Accept', 'application/json').send(xml);
    expect(res.status).toBe(303);
    expect(res.body.result).toBe('YES');
    expect(res.body.kind).toBe('https://www.purl.org/ivoa.net/EB/schema/v1.0/types/offerset/execution-offerset-1.0');
    expect(res.body.offers[0].executable.kind).toBe('https://www.purl.org/ivoa.net/EB/schema/v1.0/types/executable/docker-container-1.0');
    expect(res.body.offers[0].executable.command).toEqual(['-c', 'echo 1']);
    expect(res.body.offers[0].compute.cores).toEqual({ min: 2, max: 2 });

    const yaml = [
      'executable:',
      '  kind: https://www.purl.org/ivoa.net/EB/schema/types/executable/docker-container-1.0',
      '  image: { locations: [busybox] }',
      'compute:',
      '  kind: https://www.purl.org/ivoa.net/EB/schema/types/computer/simple-compute-resource-1.0',
      '  cores: { min: 1 }',
    ].join('\n');
    const fromYaml = await broker.http.post('/requests').set('Content-Type', 'application/yaml').send(yaml);
    expect(fromYaml.body.result).toBe('YES');
    expect(fromYaml.body.offers[0].compute.kind).toBe('https://www.purl.org/ivoa.net/EB/schema/types/compute/simple-compute-resource-1.0');
  });

  it('books and accepts the best offer in one call with POST /direct (alias POST /sessions)', async () => {
    for (const path of ['/direct', '/sessions']) {
      const res = await broker.http.post(path).set('Content-Type', 'application/json').send(JSON.stringify(dockerRequest({ min: 2, max: 6 })));
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe(`${broker.baseUrl}/sessions/${res.body.meta.uuid}`);
      expect(res.body.phase).toBe('ACCEPTED');
      expect(res.body.compute.cores).toEqual({ min: 6, max: 6 });
      expect(checkDocument('AbstractExecutionSession', res.body)).toEqual([]);
    }
  });

  it('answers a /direct request nothing can serve with 400 and a FAILED session that says why', async () => {
    const res = await broker.http.post('/direct').set('Content-Type', 'application/json').send(JSON.stringify(dockerRequest({ min: 8, max: 4 })));
    expect(res.status).toBe(400);
    expect(res.headers.location).toBeUndefined();
    expect(res.body.phase).toBe('FAILED');
    expect(res.body.meta.uuid).toBeUndefined();
    expect(res.body.meta.messages[0]).toMatchObject({ level: 'ERROR', kind: 'urn:invalid-value' });
    expect(checkDocument('AbstractExecutionSession', res.body)).toEqual([]);
  });

  it('expires unaccepted offers at `expires` through a delayed job, releasing their capacity', async () => {
    const short = await startTestBroker({ env: { OFFER_LIFETIME: 'PT0.4S' } });
    try {
      const res = await short.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(dockerRequest({ min: 5, max: 5 })));
      const uuid = res.body.offers[0].meta.uuid;
      expect(await short.heldNow()).toBe(5);
      let stored = 'OFFERED';
      for (let i = 0; i < 100 && stored !== 'EXPIRED'; i++) {
        await new Promise((r) => setTimeout(r, 20));
        stored = (await short.redis.hget(`${short.config.keyPrefix}:session:${uuid}`, 'phase')) ?? '';
      }
      expect(stored).toBe('EXPIRED');
      expect(await short.heldNow()).toBe(0);
      const late = await short.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').send(JSON.stringify(accept));
      expect(late.status).toBe(409);
      expect(late.body.code).toBe('transition-not-allowed');
    } finally {
      await short.close();
    }
  });
});
