import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { decodeBody } from '../../src/protocol/codecs/body-codec.js';
import type { DocumentType } from '../../src/protocol/codecs/document-types.js';
import { checkDocument, type ValidatedDocument } from '../../src/protocol/validator.js';
import { demoSite, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
type Format = 'json' | 'yaml' | 'xml';
const MEDIA: Record<Format, string> = { json: 'application/json', yaml: 'application/yaml', xml: 'application/xml' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TERMINAL = ['COMPLETED', 'FAILED', 'CANCELLED'];

const UPSTREAM = fileURLToPath(new URL('../../schemas/upstream/v1.0/', import.meta.url));
const SHARED = fileURLToPath(new URL('../../../shared/spec/openapi/v1.0/', import.meta.url));
const files = (dir: string): string[] => readdirSync(dir).flatMap((name) =>
  (statSync(join(dir, name)).isDirectory() ? files(join(dir, name)) : [join(dir, name)]));

/** kind URI -> subtype, for every base with a discriminator, read from the upstream files themselves. */
function upstreamMappings(): Map<string, Map<string, string>> {
  const bases = new Map<string, Map<string, string>>();
  for (const file of files(UPSTREAM).filter((f) => f.endsWith('.yaml'))) {
    for (const [name, schema] of Object.entries((parseYaml(readFileSync(file, 'utf8')) as Doc)?.components?.schemas ?? {})) {
      const mapping = (schema as Doc).discriminator?.mapping as Record<string, string> | undefined;
      if (mapping) bases.set(name, new Map(Object.entries(mapping).map(([kind, ref]) => [kind, ref.split('/').pop()!])));
    }
  }
  return bases;
}
const MAPPINGS = upstreamMappings();

/** Every polymorphic value of a session document, with the base it is declared as. */
function polymorphic(session: Doc): Array<[string, Doc]> {
  const list = (value: unknown): Doc[] => (Array.isArray(value) ? value : []);
  return [
    ['AbstractExecutionSession', session],
    ...(session.executable ? [['AbstractExecutable', session.executable] as [string, Doc]] : []),
    ...(session.compute ? [['AbstractComputeResource', session.compute] as [string, Doc]] : []),
    ...list(session.storage).map((s) => ['AbstractStorageResource', s] as [string, Doc]),
    ...list(session.data).map((d) => ['AbstractDataResource', d] as [string, Doc]),
    ...list(session.compute?.volumes).map((v) => ['AbstractVolumeMount', v] as [string, Doc]),
    ...list(session.meta?.options).map((o) => ['AbstractOption', o] as [string, Doc]),
    ...[session, session.compute ?? {}].flatMap((component: Doc) => [
      ...list(component.costs).map((c) => ['AbstractCostItem', c] as [string, Doc]),
      ...list(component.metrics).map((m) => ['AbstractMetricItem', m] as [string, Doc]),
    ]),
  ];
}

/** An offer's quote: every cost and metric type, on the session and its compute, min <= max. */
function checkQuote(session: Doc): void {
  for (const component of [session, session.compute] as Doc[]) {
    expect((component.costs as Doc[]).map((c) => c.type)).toEqual(['urn:ivoa:calycopis:cost:monetary', 'urn:ivoa:calycopis:cost:energy', 'urn:ivoa:calycopis:cost:carbon']);
    expect((component.metrics as Doc[]).map((m) => m.type)).toEqual(['urn:ivoa:calycopis:metric:compute-performance', 'urn:ivoa:calycopis:metric:io-throughput']);
    for (const item of [...component.costs, ...component.metrics] as Doc[]) {
      expect(typeof item.min).toBe('number');
      expect(item.min).toBeLessThanOrEqual(item.max);
    }
  }
}

/**
 * The answer read in its format, valid against the v1.0 schema with each discriminator resolved
 * (the ajv overlay checks each value against the subtype its kind names), and each polymorphic
 * value's kind one that upstream's mapping names, so that the subtype's fields really were checked.
 */
function checked(res: { text: string; body: unknown }, format: Format, type: ValidatedDocument & DocumentType): Doc {
  const doc = (format === 'json' ? res.body : decodeBody(Buffer.from(res.text), format, type)) as Doc;
  expect({ type, violations: checkDocument(type, doc) }).toEqual({ type, violations: [] });
  const sessions = type === 'OfferSetResponse' ? (doc.offers ?? []) as Doc[] : [doc];
  for (const session of sessions) {
    for (const [base, value] of polymorphic(session)) {
      expect({ base, kind: value.kind, mapped: MAPPINGS.get(base)?.has(value.kind) }).toEqual({ base, kind: value.kind, mapped: true });
    }
  }
  if (format === 'xml') checkXmlNames(res.text, type);
  return doc;
}

/** Element names as upstream's `xml` annotations give them. */
function checkXmlNames(text: string, type: DocumentType): void {
  expect(text).not.toMatch(/<(messages|costs|metrics|connectors)[ >]/);
  if (/"level"|<level>/.test(text)) expect(text).toMatch(/<message><kind>/);
  if (type === 'OfferSetResponse' && /<offers>/.test(text)) expect(text).toMatch(/<offers><execution kind="/);
  if (type === 'AbstractExecutionSession') expect(text).toMatch(/^<\?xml[^>]*\?><execution kind="/);
  if (/urn:srcnet:connector/.test(text)) expect(text).toMatch(/<connector><kind>urn:srcnet:connector:/);
}

/** Each reference of an offer or session is the uuid of the resource it names. */
function checkReferences(session: Doc): void {
  const uuids = (list: unknown): string[] => (Array.isArray(list) ? list.map((item: Doc) => item.meta?.uuid) : []);
  const storage = uuids(session.storage);
  const data = uuids(session.data);
  for (const d of (session.data ?? []) as Doc[]) if (d.storage !== undefined) expect(storage).toContain(d.storage);
  for (const s of (session.storage ?? []) as Doc[]) for (const ref of s.data ?? []) expect(data).toContain(ref);
  for (const v of (session.compute?.volumes ?? []) as Doc[]) expect([...data, ...storage]).toContain(v.resource);
  for (const ref of [...storage, ...data]) expect(ref).toMatch(UUID);
}

describe('every answer of a session against the upstream v1.0 schema', () => {
  let broker: TestBroker;
  let dataServer: Server;
  let dataUrl: string;
  beforeAll(async () => {
    dataServer = createServer((_req, res) => { res.end('some data\n'); });
    await new Promise<void>((ready) => dataServer.listen(0, '127.0.0.1', ready));
    dataUrl = `http://127.0.0.1:${(dataServer.address() as AddressInfo).port}/input.txt`;
    // apptainer (the fake, test/support/fake-apptainer.mjs) on the worker's PATH, so that the demo site runs singularity images.
    const tools = mkdtempSync(join(tmpdir(), 'eb-upstream-tools-'));
    symlinkSync(process.execPath, join(tools, 'node'));
    symlinkSync(fileURLToPath(new URL('../support/fake-apptainer.mjs', import.meta.url)), join(tools, 'apptainer'));
    broker = await startTestBroker({
      config: { sites: [demoSite({ cores: 64, memoryGiB: 256, preparationMs: 0, releasingMs: 0 })] },
      parts: { api: true, siteWorkers: true, timers: true, hostTools: { path: tools } },
    });
  });
  afterAll(async () => {
    await broker.close();
    await new Promise((done) => dataServer.close(done));
  });

  const EXECUTABLES: Record<string, Doc> = {
    // Without a container (the demo site's local executor), a mount at /volumes/x is ./volumes/x.
    'docker-container': { kind: `${V1}/executable/docker-container.yaml`, meta: { name: 'job' }, image: { locations: ['busybox'] }, entrypoint: '/bin/sh', command: ['-c', 'cat volumes/input.txt'] },
    'singularity-container': { kind: `${V1}/executable/singularity-container.yaml`, meta: { name: 'job' }, location: 'docker://busybox' },
  };
  const request = (executable: Doc): Doc => ({
    executable,
    compute: {
      kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 },
      volumes: [{ kind: `${V1}/volume/simple-volume-mount.yaml`, meta: { name: 'mount' }, path: '/volumes/input.txt', mode: 'READONLY', resource: 'my-data' }],
    },
    storage: [{ kind: `${V1}/storage/simple-storage-resource.yaml`, meta: { name: 'my-storage' } }],
    data: [{ kind: `${V1}/data/simple-data-resource.yaml`, meta: { name: 'my-data' }, storage: 'my-storage', location: dataUrl }],
    schedule: { requested: { duration: 'PT10M' } },
  });
  const accept = JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value: 'ACCEPTED' });

  it('keeps its copies of the upstream files identical to ../shared (skipped where ../shared is absent)', () => {
    if (!existsSync(SHARED)) return;
    const copies = files(UPSTREAM).map((f) => relative(UPSTREAM, f)).sort();
    expect(copies).toEqual(files(SHARED).map((f) => relative(SHARED, f)).sort());
    for (const file of copies) expect([file, readFileSync(join(UPSTREAM, file)).equals(readFileSync(join(SHARED, file)))]).toEqual([file, true]);
    expect(MAPPINGS.size).toBe(10);
  });

  for (const [name, executable] of Object.entries(EXECUTABLES)) {
    for (const format of ['json', 'yaml', 'xml'] as Format[]) {
      it(`${name} in ${format}: offers, offer set, accept, each phase to the end, /direct and a failed /direct`, async () => {
        const set = checked(await broker.http.post('/requests').set('Content-Type', 'application/json').set('Accept', MEDIA[format])
          .send(JSON.stringify(request(executable))).expect(303), format, 'OfferSetResponse');
        expect(set.result).toBe('YES');
        for (const offer of set.offers as Doc[]) checkReferences(offer);
        for (const offer of set.offers as Doc[]) checkQuote(offer);
        const offer = (set.offers as Doc[])[0]!;
        expect(offer.data[0].storage).toBe(offer.storage[0].meta.uuid);
        expect(offer.compute.volumes[0].resource).toBe(offer.data[0].meta.uuid);
        checked(await broker.http.get(`/offersets/${set.meta.uuid}`).set('Accept', MEDIA[format]).expect(200), format, 'OfferSetResponse');
        const uuid = offer.meta.uuid as string;
        checked(await broker.http.post(`/sessions/${uuid}`).set('Content-Type', 'application/json').set('Accept', MEDIA[format]).send(accept).expect(200), format, 'AbstractExecutionSession');
        const phases = new Set<string>();
        let session: Doc = {};
        for (let i = 0; i < 600 && !TERMINAL.includes(session.phase); i++) {
          session = checked(await broker.http.get(`/sessions/${uuid}`).set('Accept', MEDIA[format]).expect(200), format, 'AbstractExecutionSession');
          checkReferences(session);
          phases.add(session.phase);
          await new Promise((r) => setTimeout(r, 50));
        }
        expect(TERMINAL).toContain(session.phase);
        if (name === 'docker-container') {
          expect({ phase: session.phase, messages: session.meta.messages }).toMatchObject({ phase: 'COMPLETED' });
          expect((await broker.http.get(`/sessions/${uuid}/logs`)).text).toBe('some data\n');
        }
        const direct = checked(await broker.http.post('/direct').set('Content-Type', 'application/json').set('Accept', MEDIA[format])
          .send(JSON.stringify(request(executable))).expect(303), format, 'AbstractExecutionSession');
        checkReferences(direct);
        const tooBig = request(executable);
        tooBig.compute.cores = { min: 100_000, max: 100_000 };
        const failed = checked(await broker.http.post('/direct').set('Content-Type', 'application/json').set('Accept', MEDIA[format])
          .send(JSON.stringify(tooBig)).expect(400), format, 'AbstractExecutionSession');
        expect(failed.phase).toBe('FAILED');
        await broker.http.post(`/sessions/${direct.meta.uuid}`).set('Content-Type', 'application/json')
          .send(JSON.stringify({ kind: 'uri:enum-value-update', path: 'phase', value: 'CANCELLED' }));
      }, 120_000);
    }
  }
});
