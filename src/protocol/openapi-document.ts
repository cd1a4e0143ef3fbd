import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { readSchemaFile } from './schema-files.js';

type Doc = Record<string, unknown>;

const DOCUMENT_TYPES = ['application/json', 'application/xml', 'application/yaml'];

/** `#/$defs/X` (the bundle's) -> `#/components/schemas/X` (OpenAPI's), everywhere in a value. */
function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value && typeof value === 'object') {
    const out: Doc = {};
    for (const [key, inner] of Object.entries(value as Doc)) {
      out[key] = key === '$ref' && typeof inner === 'string' ? inner.replace(/^#\/\$defs\//, '#/components/schemas/') : rewriteRefs(inner);
    }
    return out;
  }
  return value;
}

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
 * component schemas of the bundled v1.0 schema (schemas/execution-broker.schema.json), built once.
 */
export function openApiDocument(): { yaml: string; json: string } {
  if (built) return built;
  const paths = parseYaml(readFileSync(fileURLToPath(new URL('../../schemas/openapi-paths.yaml', import.meta.url)), 'utf8')) as Doc;
  const bundle = readSchemaFile<{ $defs: Doc }>('execution-broker.schema.json');
  const components = (paths.components ?? {}) as Doc;
  const document = expandDocuments({
    ...paths,
    components: { ...components, schemas: { ...(rewriteRefs(bundle.$defs) as Doc), ...(components.schemas as Doc | undefined) } },
  }) as Doc;
  built = { yaml: stringifyYaml(document, { aliasDuplicateObjects: false }), json: JSON.stringify(document) };
  return built;
}
