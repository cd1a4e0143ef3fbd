import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { decodeBody, encodeBody } from '../../src/protocol/codecs/body-codec.js';
import { xmlShapes } from '../../src/protocol/schema-files.js';

type Doc = Record<string, any>;
const UPSTREAM = fileURLToPath(new URL('../../schemas/upstream/v1.0/', import.meta.url));
const yamlFiles = (dir: string): string[] => readdirSync(dir).flatMap((name) =>
  (statSync(join(dir, name)).isDirectory() ? yamlFiles(join(dir, name)) : name.endsWith('.yaml') ? [join(dir, name)] : []));

const defs: Doc = {};
for (const file of yamlFiles(UPSTREAM)) Object.assign(defs, (parseYaml(readFileSync(file, 'utf8')) as Doc)?.components?.schemas ?? {});
const target = (ref: string): Doc => defs[ref.split('/').pop()!] as Doc;

/** Every list property of every upstream schema, read from the upstream `xml` annotations: [type, property, item name, wrapped]. */
function upstreamLists(): Array<[string, string, string, boolean]> {
  const out: Array<[string, string, string, boolean]> = [];
  const visit = (type: string, schema: Doc): void => {
    for (const part of schema.allOf ?? []) if (!part.$ref) visit(type, part);
    for (const [property, raw] of Object.entries((schema.properties ?? {}) as Doc)) {
      const list = (raw as Doc).$ref ? target((raw as Doc).$ref) : raw as Doc;
      if (list?.type !== 'array') continue;
      const wrapped = list.xml?.wrapped === true;
      // OpenAPI: items are named by items.xml.name; an unwrapped list's own name names its items
      // where the items have none (upstream's SimpleSessionConnectorList `connector`).
      const item = list.items?.xml?.name ?? (wrapped ? 'item' : list.xml?.name ?? property);
      out.push([type, property, item, wrapped]);
    }
  };
  for (const [type, schema] of Object.entries(defs)) visit(type, schema as Doc);
  return out;
}

describe('XML list names', () => {
  const lists = upstreamLists();

  it('follow the upstream xml annotations for every list in the schema', () => {
    expect(lists.length).toBeGreaterThanOrEqual(20);
    for (const [type, property, item, wrapped] of lists) {
      // The codec reads the shape of each type, and of each type that extends it.
      const holders = Object.entries(xmlShapes.types).filter(([name, props]) => name === type || (props[property] && defs[name]?.allOf?.some((p: Doc) => p.$ref?.endsWith(`/${type}`))));
      expect(holders.length).toBeGreaterThan(0);
      for (const [name, props] of holders) {
        const shape = props[property]!;
        expect({ name, property, item: shape.item ?? property, wrapped: shape.wrapped === true }).toEqual({ name, property, item, wrapped });
      }
    }
    const named = Object.fromEntries(lists.map(([, property, item]) => [property, item]));
    expect(named).toMatchObject({ messages: 'message', costs: 'cost', metrics: 'metric', connectors: 'connector', offers: 'execution' });
  });

  it('name no item after another property of the same type, so that reading stays unambiguous', () => {
    for (const [name, props] of Object.entries(xmlShapes.types)) {
      for (const [property, shape] of Object.entries(props)) {
        if (shape.t === 'array' && !shape.wrapped && shape.item && shape.item !== property) expect([name, property, Object.hasOwn(props, shape.item)]).toEqual([name, property, false]);
      }
    }
  });

  it('are written so, and read back in both the upstream names and the property names', () => {
    const session = {
      kind: 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds/session/scheduled-execution-session.yaml',
      meta: { uuid: '0b5b1c52-4cde-4c1b-9d57-1b1f3cc2d9a1', messages: [{ kind: 'urn:a', level: 'INFO', template: 'a', message: 'a' }, { kind: 'urn:b', level: 'INFO', template: 'b', message: 'b' }] },
      phase: 'OFFERED',
      costs: [{ kind: 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds/costs/simple-minmax-float-cost.yaml', min: 1, max: 2 }],
      connectors: [{ kind: 'urn:srcnet:connector:logs', protocol: 'HTTP', location: 'http://x/logs' }],
    };
    const xml = encodeBody(session, 'xml', 'AbstractExecutionSession');
    expect(xml).toContain('<message><kind>urn:a</kind>');
    expect(xml).toContain('<cost kind=');
    expect(xml).toContain('<connector><kind>urn:srcnet:connector:logs</kind>');
    expect(xml).not.toMatch(/<(messages|costs|connectors)>/);
    expect(decodeBody(Buffer.from(xml), 'xml', 'AbstractExecutionSession')).toEqual(session);
    // A message item ends with its own <message> text: `...<message>a</message></message>`.
    const older = xml.replaceAll('<message><kind>', '<messages><kind>').replaceAll('</message></message>', '</message></messages>')
      .replace(/<(\/?)connector>/g, '<$1connectors>');
    expect(older).toContain('<messages><kind>urn:a</kind>');
    expect(decodeBody(Buffer.from(older), 'xml', 'AbstractExecutionSession')).toEqual(session);
  });
});
