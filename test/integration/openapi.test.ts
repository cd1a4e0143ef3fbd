import { Validator } from '@seriousme/openapi-schema-validator';
import { parse as parseYaml } from 'yaml';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

/** Every (method, path) the Express app routes, with Express's `:name` (and `*name`, several segments) written as OpenAPI's `{name}`. */
function servedRoutes(stack: Doc[], prefix = ''): Set<string> {
  const routes = new Set<string>();
  for (const layer of stack) {
    if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      for (const path of paths as string[]) {
        for (const method of Object.keys(layer.route.methods as Doc).filter((m) => METHODS.includes(m))) {
          routes.add(`${method.toUpperCase()} ${prefix}${path.replace(/[:*](\w+)/g, '{$1}')}`);
        }
      }
    } else if (layer.handle?.stack) {
      for (const route of servedRoutes(layer.handle.stack as Doc[], prefix)) routes.add(route);
    }
  }
  return routes;
}

/** /openapi.yaml describes exactly what the broker serves, and is valid OpenAPI 3.1. */
describe('the OpenAPI description', () => {
  let broker: TestBroker;
  beforeAll(async () => { broker = await startTestBroker(); });
  afterAll(async () => { await broker.close(); });

  it('is served as YAML and JSON, the same document, and validates as OpenAPI 3.1', async () => {
    const yaml = await broker.http.get('/openapi.yaml').expect(200);
    expect(yaml.headers['content-type']).toMatch(/^application\/yaml/);
    const document = parseYaml(yaml.text) as Doc;
    const json = await broker.http.get('/openapi.json').expect(200);
    expect(json.body).toEqual(document);
    expect(document.openapi).toBe('3.1.0');
    const result = await new Validator().validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    // The validator does refuse a broken description (a response without its description).
    const broken = JSON.parse(JSON.stringify(document)) as Doc;
    delete broken.paths['/metrics'].get.responses['200'].description;
    expect((await new Validator().validate(broken)).valid).toBe(false);
    // Every $ref points at something that exists.
    const refs = new Set<string>();
    JSON.stringify(document, (key, value: unknown) => { if (key === '$ref' && typeof value === 'string') refs.add(value); return value; });
    for (const ref of refs) {
      const target = ref.slice(2).split('/').reduce<any>((node, part) => node?.[part], document);
      expect([ref, target !== undefined]).toEqual([ref, true]);
    }
  });

  it('documents every route the app serves, and the app serves every documented route', async () => {
    const document = parseYaml((await broker.http.get('/openapi.yaml')).text) as Doc;
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(document.paths as Record<string, Doc>)) {
      for (const method of Object.keys(item).filter((m) => METHODS.includes(m))) documented.add(`${method.toUpperCase()} ${path}`);
    }
    const app = broker.runtime.app as unknown as { router: { stack: Doc[] } };
    const served = servedRoutes(app.router.stack);
    // The page's static assets (/docs/*) are files, not API routes.
    served.delete('GET /docs/init.js');
    expect([...served].filter((route) => !documented.has(route)).sort()).toEqual([]);
    expect([...documented].filter((route) => !served.has(route)).sort()).toEqual([]);
    expect(documented.size).toBeGreaterThanOrEqual(13);
  });

  it('keeps upstream\'s discriminators, mappings and operationIds, and describes /direct as it answers', async () => {
    const document = (await broker.http.get('/openapi.json').expect(200)).body as Doc;
    const schemas = document.components.schemas as Record<string, Doc>;
    const bases = Object.entries(schemas).filter(([, schema]) => schema.discriminator);
    expect(bases.map(([name]) => name).sort()).toEqual([
      'AbstractComputeResource', 'AbstractCostItem', 'AbstractDataResource', 'AbstractExecutable', 'AbstractExecutionSession',
      'AbstractMetricItem', 'AbstractOption', 'AbstractStorageResource', 'AbstractUpdate', 'AbstractVolumeMount',
    ]);
    for (const [name, schema] of bases) {
      expect([name, schema.discriminator.propertyName, schema.properties?.kind !== undefined]).toEqual([name, 'kind', true]);
      for (const [kind, ref] of Object.entries(schema.discriminator.mapping as Record<string, string>)) {
        const target = (ref as string).replace('#/components/schemas/', '');
        // Each target is a local schema: the base itself, or a subtype that extends it (allOf, at any depth).
        const extendsBase = (schemaName: string): boolean => schemaName === name || (schemas[schemaName]?.allOf ?? [])
          .some((part: Doc) => typeof part.$ref === 'string' && extendsBase(part.$ref.replace('#/components/schemas/', '')));
        expect([kind, target, extendsBase(target)]).toEqual([kind, target, true]);
      }
    }
    expect(schemas.DockerContainer?.allOf[0]).toEqual({ $ref: '#/components/schemas/AbstractExecutable' });
    expect(JSON.stringify(document)).not.toMatch(/"if":|#\/components\/schemas\/Any/);
    const operations = Object.fromEntries(Object.entries(document.paths as Record<string, Doc>).flatMap(([path, item]) =>
      Object.entries(item).filter(([method]) => METHODS.includes(method)).map(([method, op]) => [(op as Doc).operationId, `${method.toUpperCase()} ${path}`])));
    expect(operations).toMatchObject({
      ExecutionRequest: 'POST /requests', DirectExecution: 'POST /direct', OfferSetSelect: 'GET /offersets/{uuid}',
      SessionSelect: 'GET /sessions/{uuid}', SessionUpdate: 'POST /sessions/{uuid}',
    });
    const direct = document.paths['/direct'].post.responses as Doc;
    expect(Object.keys(direct)).toEqual(expect.arrayContaining(['303', '200', '400']));
    expect(document.components.responses.SessionSeeOther.headers.Location.required).toBe(true);
    expect(document.components.responses.DirectFailed.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/AbstractExecutionSession' });
  });

  it('renders at /docs from the package itself, with no asset from elsewhere', async () => {
    const page = await broker.http.get('/docs').expect(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(3);
    for (const asset of assets) {
      expect(asset).toMatch(/^\/docs\//);
      expect((await broker.http.get(asset)).status).toBe(200);
    }
    expect((await broker.http.get('/docs/init.js')).text).toContain("url: '/openapi.yaml'");
  });
});
