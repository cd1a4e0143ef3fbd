import { request as httpRequest } from 'node:http';
import { dockerRequest, startTestBroker, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;

/** Every bad input must get a typed problem in the client's format: never a 500, never a crash. */
describe('bad and hostile input', () => {
  let broker: TestBroker;
  beforeAll(async () => { broker = await startTestBroker({ env: { BODY_LIMIT_BYTES: String(64 * 1024) } }); });
  afterAll(async () => { await broker.close(); });

  const post = (body: string | Buffer, contentType?: string, accept?: string) => {
    const req = broker.http.post('/requests');
    if (contentType) req.set('Content-Type', contentType);
    if (accept) req.set('Accept', accept);
    return req.send(body);
  };

  /** Sends bytes exactly as given (supertest would re-encode a Buffer or add a Content-Type). */
  function rawPost(path: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; body: Doc; type: string }> {
    return new Promise((done, fail) => {
      const req = httpRequest(`${broker.baseUrl}${path}`, { method: 'POST', headers: { 'Content-Length': String(body.length), ...headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => done({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) as Doc, type: String(res.headers['content-type']).split(';')[0] ?? '' }));
      });
      req.on('error', fail);
      req.end(body);
    });
  }

  async function expectProblem(res: { status: number; body: Doc; type: string }, status: number, code: string): Promise<void> {
    expect({ status: res.status, code: res.body.code }).toEqual({ status, code });
    expect(res.type).toBe('application/problem+json');
    expect(res.body.type).toBe(`urn:srcnet:execution-broker:error:${code}`);
    expect(res.body.status).toBe(status);
    expect(res.body.messages[0].level).toBe('ERROR');
  }

  it.each([
    ['malformed JSON', '{"executable": ', 'application/json', 'malformed-body'],
    ['malformed XML', '<offers-request><executable></offers-request>', 'application/xml', 'malformed-body'],
    ['malformed YAML', 'executable: [unclosed', 'application/yaml', 'malformed-body'],
    ['an empty body', '', 'application/json', 'malformed-body'],
    ['two XML roots', '<offers-request/><offers-request/>', 'application/xml', 'malformed-body'],
    ['the wrong XML root', '<execution/>', 'application/xml', 'malformed-body'],
    ['several YAML documents', 'a: 1\n---\nb: 2', 'application/yaml', 'malformed-body'],
    ['duplicate YAML keys', 'compute: 1\ncompute: 2', 'application/yaml', 'malformed-body'],
    ['an unknown YAML tag', 'executable: !!js/function "x"', 'application/yaml', 'malformed-body'],
    ['a JSON array instead of a document', '[1, 2]', 'application/json', 'invalid-document'],
    ['a wrong type', JSON.stringify({ compute: { kind: 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds/compute/simple-compute-resource.yaml', cores: { min: 'many' } } }), 'application/json', 'invalid-document'],
    ['a component without kind', JSON.stringify({ executable: { image: {} } }), 'application/json', 'invalid-document'],
  ])('refuses %s with a 400', async (_name, body, contentType, code) => {
    await expectProblem(await post(body, contentType), 400, code);
  });

  it('names the offending field of a schema violation', async () => {
    const res = await post(JSON.stringify({ compute: { kind: 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds/compute/simple-compute-resource.yaml', cores: { min: 1.5 } } }), 'application/json');
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual(['/compute/cores/min: must be integer']);
  });

  it('refuses XML with a DOCTYPE or entities (billion laughs, external entities)', async () => {
    const laughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><offers-request>&lol2;</offers-request>';
    const external = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><offers-request>&xxe;</offers-request>';
    await expectProblem(await post(laughs, 'application/xml'), 400, 'forbidden-xml-construct');
    await expectProblem(await post(external, 'application/xml'), 400, 'forbidden-xml-construct');
  });

  it('refuses deep nesting in every format', async () => {
    const depth = 5000;
    await expectProblem(await post(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`, 'application/json'), 400, 'document-too-complex');
    await expectProblem(await post(`${'['.repeat(depth)}${']'.repeat(depth)}`, 'application/yaml'), 400, 'document-too-complex');
    const xml = `<offers-request>${'<a>'.repeat(depth)}${'</a>'.repeat(depth)}</offers-request>`;
    const res = await post(xml, 'application/xml');
    expect(res.status).toBe(400);
    expect(['document-too-complex', 'malformed-body']).toContain(res.body.code);
  });

  it('refuses a YAML alias bomb', async () => {
    let bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n';
    let previous = 'a';
    for (const name of 'bcdefghi') {
      bomb += `${name}: &${name} [${Array(9).fill(`*${previous}`).join(',')}]\n`;
      previous = name;
    }
    await expectProblem(await post(bomb, 'application/yaml'), 400, 'document-too-complex');
  });

  it('refuses a body larger than the limit with 413', async () => {
    const huge = JSON.stringify({ ...dockerRequest(), padding: 'x'.repeat(100 * 1024) });
    await expectProblem(await post(huge, 'application/json'), 413, 'body-too-large');
  });

  it('refuses invalid UTF-8 with a 400', async () => {
    const bad = Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d]);
    for (const type of ['application/json', 'application/xml', 'application/yaml']) {
      await expectProblem(await rawPost('/requests', bad, { 'Content-Type': type }), 400, 'invalid-encoding');
    }
  });

  it('refuses an unknown Content-Type with 415 and an unsupported charset too', async () => {
    await expectProblem(await post('x', 'text/plain'), 415, 'unsupported-media-type');
    await expectProblem(await post('{}', 'application/json; charset=iso-8859-1'), 415, 'unsupported-media-type');
  });

  it('reads a body without Content-Type as YAML 1.2, which reads JSON too', async () => {
    const res = await rawPost('/requests', Buffer.from(JSON.stringify(dockerRequest())), {});
    expect(res.status).toBe(303);
    expect(res.body.result).toBe('YES');
  });

  it('answers 406 when Accept names nothing it can write, before holding any capacity', async () => {
    const before = await broker.heldNow();
    const res = await post(JSON.stringify(dockerRequest()), 'application/json', 'text/html');
    await expectProblem(res, 406, 'not-acceptable');
    expect(await broker.heldNow()).toBe(before);
  });

  it('writes problems in XML or YAML when the client reads those', async () => {
    const xml = await post('{', 'application/json', 'application/xml');
    expect(xml.status).toBe(400);
    expect(xml.type).toBe('application/problem+xml');
    expect(xml.text).toContain('<problem xmlns="urn:ietf:rfc:7807">');
    expect(xml.text).toContain('<code>malformed-body</code>');
    const yaml = await post('{', 'application/json', 'application/yaml');
    expect(yaml.type).toBe('application/yaml');
    expect(yaml.text).toContain('code: "malformed-body"');
  });

  it('answers unknown and malformed identifiers with 404 and 400', async () => {
    const unknown = '00000000-0000-0000-0000-000000000000';
    await expectProblem(await broker.http.get(`/sessions/${unknown}`), 404, 'not-found');
    await expectProblem(await broker.http.get(`/offersets/${unknown}`), 404, 'not-found');
    await expectProblem(await broker.http.post(`/sessions/${unknown}`).set('Content-Type', 'application/json')
      .send('{"kind":"uri:enum-value-update","path":"phase","value":"ACCEPTED"}'), 404, 'not-found');
    await expectProblem(await broker.http.get('/sessions/not-a-uuid'), 400, 'invalid-uuid');
    // A percent-encoding that decodes to no text: the path is at fault, not a body.
    await expectProblem(await broker.http.get('/sessions/%E0%A4%A'), 400, 'malformed-path');
    await expectProblem(await broker.http.get('/sites/%E0%A4%A/timeline'), 400, 'malformed-path');
  });

  it('answers unknown paths with 404 and wrong methods with 405 and Allow', async () => {
    await expectProblem(await broker.http.get('/nothing-here'), 404, 'route-not-found');
    const res = await broker.http.get('/requests');
    await expectProblem(res, 405, 'method-not-allowed');
    expect(res.headers.allow).toBe('POST');
  });

  describe('updates', () => {
    let uuid = '';
    beforeAll(async () => {
      const res = await post(JSON.stringify(dockerRequest()), 'application/json');
      uuid = res.body.offers[0].meta.uuid;
    });
    const update = (body: string, contentType = 'application/json') =>
      broker.http.post(`/sessions/${uuid}`).set('Content-Type', contentType).send(body);

    it.each([
      ['an unknown path', '{"kind":"uri:enum-value-update","path":"/executable/name","value":"x"}'],
      ['a phase a client may not set', '{"kind":"uri:enum-value-update","path":"phase","value":"FAILED"}'],
      ['a value that is no phase', '{"kind":"uri:enum-value-update","path":"phase","value":"MAYBE"}'],
      ['an unknown update kind', '{"kind":"uri:integer-delta-update","path":"phase","delta":1}'],
      ['an update without path', '{"kind":"uri:enum-value-update","value":"ACCEPTED"}'],
    ])('refuses %s with 400 invalid-update and leaves the session OFFERED', async (_name, body) => {
      await expectProblem(await update(body), 400, 'invalid-update');
      expect((await broker.http.get(`/sessions/${uuid}`)).body.phase).toBe('OFFERED');
    });

    it('reads the legacy wrapped update and XML updates', async () => {
      const xml = await update('<update kind="uri:enum-value-update"><path>phase</path><value>REJECTED</value></update>', 'application/xml');
      expect(xml.status).toBe(200);
      expect(xml.body.phase).toBe('REJECTED');
      const wrapped = await update('{"update":{"type":"uri:enum-value-update","path":"phase","value":"ACCEPTED"}}');
      expect(wrapped.status).toBe(409);
    });
  });

  it('never answers 500 to any of a batch of random byte strings', async () => {
    const formats = ['application/json', 'application/xml', 'application/yaml'];
    for (let i = 0; i < 60; i++) {
      const bytes = Buffer.from(Array.from({ length: 1 + (i * 37) % 300 }, (_, j) => (i * 131 + j * 17) % 256));
      const res = await rawPost('/requests', bytes, { 'Content-Type': formats[i % 3] ?? '' });
      expect(res.status).toBeLessThan(500);
    }
  });
});
