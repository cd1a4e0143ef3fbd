import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { readSchemaFile } from './schema-files.js';

type Doc = Record<string, unknown>;

const DOCUMENT_TYPES = ['application/json', 'application/xml', 'application/yaml'];

/** `content: { $ref: '#/components/x-documents/X' }` -> the same schema in each of the three formats. */
function expandDocuments(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(expandDocuments);
  if (value && typeof value === 'object') {
    const out: Doc = {};
    for (const [key, inner] of Object.entries(value as Doc)) {
      const ref = key === 'content' && inner && typeof inner === 'object' ? (inner as Doc).$ref : undefined;
      if (typeof ref === 'string' && ref.startsWith('#/components/x-documents/')) {
        const schema = { $ref: `#/components/schemas/${ref.slice('#/components/x-documents/'.length)}` };
        out[key] = Object.fromEntries(DOCUMENT_TYPES.map((type) => [type, { schema }]));
      } else {
        out[key] = expandDocuments(inner);
      }
    }
    return out;
  }
  return value;
}

let built: { yaml: string; json: string } | undefined;

/**
 * The OpenAPI 3.1 description of the broker: the paths of schemas/openapi-paths.yaml with the
 * upstream v1.0 component schemas as code generators read them (schemas/openapi-schemas.json:
 * each polymorphic base with its discriminator and mapping), built once. Validation does not use
 * this face: it has its own if/then overlay (schemas/execution-broker.schema.json, validator.ts).
 */
export function openApiDocument(): { yaml: string; json: string } {
  if (built) return built;
  const paths = parseYaml(readFileSync(fileURLToPath(new URL('../../schemas/openapi-paths.yaml', import.meta.url)), 'utf8')) as Doc;
  const upstream = readSchemaFile<{ schemas: Doc }>('openapi-schemas.json');
  const components = (paths.components ?? {}) as Doc;
  const document = expandDocuments({
    ...paths,
    components: { ...components, schemas: { ...upstream.schemas, ...(components.schemas as Doc | undefined) } },
  }) as Doc;
  built = { yaml: stringifyYaml(document, { aliasDuplicateObjects: false }), json: JSON.stringify(document) };
  return built;
}
