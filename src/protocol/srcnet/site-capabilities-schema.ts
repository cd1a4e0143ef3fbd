import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { readSchemaFile } from '../schema-files.js';
import { ajv } from '../validator.js';

/**
 * SRCNet's Site Capabilities API schemas (schemas/site-capabilities/, copies of SCAPI's
 * etc/schemas), compiled into the broker's one ajv instance. They are form schemas (json-editor)
 * rather than JSON Schema, so they are read as JSON Schema first, and the reading is written down
 * here (SCAPI's own test data, test/fixtures/site-capabilities/example-nodes.json,
 * passes it): `text` and `email` are strings; `textarea` takes any value (SCAPI serves objects
 * there: `other_attributes` is `{}`); `radios` is the `enum` beside it; `enum` (the editor's
 * drop-down) is any string, since SCAPI's data holds choices the list predates (a global service of
 * type `fts`); a property's own `required: true` joins its object's `required` list unless its
 * default is null (the editor asks for it, SCAPI's data leaves it out: `compute_units`), and a
 * property whose default is null may be null; keywords of the form editor (`version`,
 * `allowEmpty`) are dropped. `$ref`s name sibling files (`site.json`). A queue's
 * `max_cpu_cores`, `max_memory_gb` and `max_scratch_gb` (SCAPI's queues since these copies were
 * taken) are numbers of at least 0 when given.
 */

const BASE = 'urn:srcnet:site-capabilities:schemas';
const DIR = fileURLToPath(new URL('../../../schemas/site-capabilities/', import.meta.url));
const KEPT = new Set(['type', 'properties', 'items', '$ref', 'enum', 'format', 'description', 'title', 'default', 'minItems']);

type Doc = Record<string, unknown>;
const isDoc = (value: unknown): value is Doc => typeof value === 'object' && value !== null && !Array.isArray(value);

function asJsonSchema(form: Doc): Doc {
  const out: Doc = {};
  for (const [key, value] of Object.entries(form)) if (KEPT.has(key)) out[key] = value;
  if (typeof out.$ref === 'string') return { $ref: `${BASE}/${out.$ref}` };
  switch (out.type) {
    case 'text': case 'email': out.type = 'string'; break;
    case 'textarea': delete out.type; break;
    case 'enum': out.type = 'string'; delete out.enum; break;
    case 'radios': delete out.type; break;
    default: break;
  }
  if (out.default === null && typeof out.type === 'string') out.type = [out.type, 'null'];
  if (isDoc(out.items)) out.items = asJsonSchema(out.items);
  if (isDoc(out.properties)) {
    const required: string[] = [];
    out.properties = Object.fromEntries(Object.entries(out.properties).filter(([, p]) => isDoc(p)).map(([name, property]) => {
      if ((property as Doc).required === true && (property as Doc).default !== null) required.push(name);
      return [name, asJsonSchema(property as Doc)];
    }));
    if (required.length) out.required = required;
  }
  return out;
}

let nodes: ValidateFunction | undefined;

/** The validator of `GET /nodes`' answer: a list of nodes. */
function nodesValidator(): ValidateFunction {
  if (nodes) return nodes;
  for (const file of readdirSync(DIR).filter((name) => name.endsWith('.schema.json'))) {
    const id = `${BASE}/${file.replace(/\.schema\.json$/, '.json')}`;
    const schema = asJsonSchema(readSchemaFile<Doc>(`site-capabilities/${file}`));
    if (file === 'queue.schema.json') {
      const limit = { type: ['number', 'null'], minimum: 0 };
      schema.properties = { ...(schema.properties as Doc), max_cpu_cores: limit, max_memory_gb: limit, max_scratch_gb: limit };
    }
    if (!ajv.getSchema(id)) ajv.addSchema({ ...schema, $id: id });
  }
  nodes = ajv.compile({ $id: `${BASE}/nodes-answer.json`, type: 'array', items: { $ref: `${BASE}/node.json` } });
  return nodes;
}

/** The problems of an answer of `GET /nodes` against SCAPI's schemas (the first few, as `pointer: message`). */
export function checkNodes(value: unknown): string[] {
  const validate = nodesValidator();
  if (validate(value)) return [];
  return (validate.errors ?? []).slice(0, 10).map((e: ErrorObject) => `${e.instancePath || '/'}: ${e.message ?? e.keyword}`);
}
