#!/usr/bin/env node
// Builds our JSON Schemas and XML shapes from the unmodified IVOA ExecutionBroker v1.0 OpenAPI
// files in schemas/upstream/v1.0 (copies of ../shared/spec/openapi/v1.0; never edit them).
//
//   node schemas/generate.mjs          writes schemas/execution-broker.schema.json, xml-shapes.json and openapi-schemas.json
//   node schemas/generate.mjs --check  exits 1 when the committed files are out of date
//
// What the overlay changes, and why:
// - Every $ref becomes a local `#/$defs/<Name>` in one bundle, so one ajv instance compiles it once.
// - Each abstract base with a discriminator gets an `Any<Base>` def: the base plus one
//   `if kind = K then <Subtype>` per mapping entry. Every use of the base outside its own subtypes
//   points at `Any<Base>`, so the fields of each subtype are really validated (upstream's mapping
//   holds no $refs and validates nothing below the abstract types). Unknown kinds still pass the
//   schema: the broker answers them with result NO and a message, not a 400.
// - ISO8601Instant: `(?>` (an atomic group, unknown to ECMAScript) becomes `(?:`, which accepts
//   the same language, and `format: date-time` makes it a real RFC 3339 instant with a zone.
// - OpenAPI-only keywords (discriminator, xml, example) are dropped from the JSON Schema; the XML
//   names they carry go to xml-shapes.json, which the XML codec follows.
// - Our extensions (see addExtensions) are added beside the upstream definitions.
//
// openapi-schemas.json is the other face: the component schemas the served /openapi.json
// carries for code generators. It keeps upstream's shapes as they are (each base with its
// `discriminator` and a `mapping` whose targets are local `#/components/schemas/<Name>`, the
// subtypes as `allOf` of their base, `xml` and `example`), with our extensions beside them, and
// `kind` declared on each base itself (see buildOpenApiSchemas); the Any<Base> if/then defs are
// for ajv only and are not in it.
import { readFileSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { join, dirname, relative, resolve, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
const upstreamRoot = join(here, 'upstream', 'v1.0');
export const SCHEMA_ID = 'urn:srcnet:execution-broker:schema:v1.0';

function listYaml(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return listYaml(path);
    return name.endsWith('.yaml') ? [path] : [];
  });
}

function loadUpstream() {
  const files = new Map();
  for (const path of listYaml(upstreamRoot)) {
    const rel = relative(upstreamRoot, path).split('\\').join('/');
    files.set(rel, parse(readFileSync(path, 'utf8')));
  }
  return files;
}

function refTarget(ref, fromFile) {
  const [filePart, pointer] = ref.split('#');
  const file = filePart ? posix.normalize(posix.join(posix.dirname(fromFile), filePart)) : fromFile;
  const name = pointer.replace('/components/schemas/', '');
  return { file, name };
}

const OPENAPI_ONLY = new Set(['discriminator', 'xml', 'example']);

function collectDefs(files) {
  const defs = {};
  const origin = {};
  for (const [file, doc] of files) {
    for (const [name, schema] of Object.entries(doc?.components?.schemas ?? {})) {
      if (defs[name]) throw new Error(`schema name ${name} is defined twice (${origin[name]}, ${file})`);
      defs[name] = schema;
      origin[name] = file;
    }
  }
  addExtensions(defs, origin);
  return { defs, origin };
}

/**
 * Our documented extensions, added beside the upstream definitions (docs/protocol.md):
 * - `srcnet.gpu` on SimpleComputeResource: GPUs by count and model. v1.0 has no field for GPUs;
 *   the dotted name cannot collide with a future unprefixed one, and is a valid XML name.
 * - `srcnet.notebook` on JupyterNotebook: how the notebook runs (interactive server or headless)
 *   and, headless, the parameters injected before it runs.
 * - `srcnet.notify` on ExecutionRequest: who is told of the sessions' phase changes
 *   (docs/notifications.md), a list of targets (or one alone), each a URL or `mailto:` address, or
 *   `{target, events}`. In XML one `<srcnet.notify>` element per target, holding the target as text
 *   or `<target>` and one `<events>` per event (its XML shape: an object that may be plain text).
 *   Its values (which URLs, which events) are checked by the broker, which says why it refuses one
 *   (400 notify-refused), so the schema checks only the shape.
 */
function addExtensions(defs, origin) {
  defs.SrcnetNotebook = {
    type: 'object',
    title: 'SrcnetNotebook',
    description: 'SRCNet extension: how a Jupyter notebook runs. interactive (the default): a notebook server with the notebook open, for its owner; headless: the notebook runs top to bottom, and the executed notebook goes into the outputs.',
    properties: {
      mode: { type: 'string', enum: ['interactive', 'headless'], description: 'interactive (the default) or headless.' },
      parameters: {
        description: 'Headless only: name => value, injected as Python string variables in a code cell after the one tagged "parameters" (else first), papermill-style.',
        $ref: '../../utils.yaml#/components/schemas/NameValueMap',
      },
    },
  };
  origin.SrcnetNotebook = 'kinds/executable/jupyter-notebook.yaml';
  const notebook = defs.JupyterNotebook;
  defs.JupyterNotebook = {
    ...notebook,
    allOf: [...notebook.allOf, { type: 'object', properties: { 'srcnet.notebook': { $ref: '#/components/schemas/SrcnetNotebook' } } }],
  };
  defs.SrcnetGpu = {
    type: 'object',
    title: 'SrcnetGpu',
    description: 'SRCNet extension: the GPUs a compute resource needs (request) or is given (offer).',
    properties: {
      count: { type: 'integer', format: 'int64', description: 'How many GPUs.' },
      model: { type: 'string', description: 'The GPU model (e.g. A100, K40); absent means any.' },
    },
  };
  origin.SrcnetGpu = 'kinds/compute/simple-compute-resource.yaml';
  const compute = defs.SimpleComputeResource;
  defs.SimpleComputeResource = {
    ...compute,
    allOf: [...compute.allOf, { type: 'object', properties: { 'srcnet.gpu': { $ref: '#/components/schemas/SrcnetGpu' } } }],
  };
  defs.SrcnetNotifyTarget = {
    type: 'object',
    title: 'SrcnetNotifyTarget',
    description: 'SRCNet extension: one subscriber and the events it is told of.',
    required: ['target'],
    properties: {
      target: { type: 'string', maxLength: 2048, description: 'An http(s) URL (a webhook, signed as Standard Webhooks says) or a mailto: address.' },
      events: {
        type: 'array',
        minItems: 1,
        items: { type: 'string' },
        xml: { name: 'events' },
        description: 'What it is told of. Webhooks: EXPIRING (the offer set expires soon, none of its offers accepted), ACCEPTED, REJECTED, EXPIRED, WAITING, PREPARING, AVAILABLE, RUNNING, RELEASING, COMPLETED, FAILED, CANCELLED (default: REJECTED, EXPIRED, AVAILABLE, RUNNING, COMPLETED, FAILED, CANCELLED). Mail: EXPIRING, AVAILABLE, COMPLETED, FAILED, CANCELLED (default: all but EXPIRING).',
      },
    },
  };
  origin.SrcnetNotifyTarget = 'components.yaml';
  const oneTarget = [{ type: 'string', maxLength: 2048, description: 'An http(s) URL or a mailto: address, told the default events.' }, { $ref: '#/components/schemas/SrcnetNotifyTarget' }];
  defs.SrcnetNotifyList = {
    title: 'SrcnetNotifyList',
    description: 'SRCNet extension: who is told of the phase changes of the sessions a request makes (docs/notifications.md): a list of at most 4 targets, or one target alone.',
    oneOf: [{ type: 'array', maxItems: 4, items: { oneOf: oneTarget }, xml: { name: 'srcnet.notify' } }, ...oneTarget],
  };
  origin.SrcnetNotifyList = 'components.yaml';
  const request = defs.ExecutionRequest;
  defs.ExecutionRequest = {
    ...request,
    allOf: [...request.allOf, { type: 'object', properties: { 'srcnet.notify': { $ref: '#/components/schemas/SrcnetNotifyList' } } }],
  };
}

function rewrite(node, file, visit) {
  if (Array.isArray(node)) return node.map((item) => rewrite(item, file, visit));
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref') out.$ref = visit(refTarget(value, file));
    else out[key] = rewrite(value, file, visit);
  }
  return out;
}

function stripOpenApi(node) {
  if (Array.isArray(node)) return node.map(stripOpenApi);
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    if (OPENAPI_ONLY.has(key)) continue;
    out[key] = key === 'properties' || key === '$defs' ? mapValues(value, stripOpenApi) : stripOpenApi(value);
  }
  return out;
}

function mapValues(obj, fn) {
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, fn(v)]));
}

/** The abstract bases that dispatch on `kind`: base name -> [[kind URI, subtype name]]. */
function discriminatedBases(defs, origin) {
  const bases = {};
  for (const [name, schema] of Object.entries(defs)) {
    const mapping = schema.discriminator?.mapping;
    if (!mapping) continue;
    bases[name] = Object.entries(mapping)
      .map(([kind, ref]) => [kind, refTarget(ref, origin[name]).name])
      .filter(([, target]) => target !== name);
  }
  return bases;
}

/** `(?>` (an atomic group) is unknown to ECMAScript; `(?:` accepts the same language. */
function fixInstant(instant) {
  instant.pattern = instant.pattern.replace('(?>', '(?:');
  instant.format = 'date-time';
}

/** A discriminator whose mapping names local component schemas, as generators follow them. */
function localDiscriminators(node) {
  if (Array.isArray(node)) return node.map(localDiscriminators);
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] = key === 'discriminator' && value.mapping
      ? { ...value, mapping: mapValues(value.mapping, (ref) => `#/components/schemas/${ref.split('/').pop()}`) }
      : localDiscriminators(value);
  }
  return out;
}

export function buildOpenApiSchemas() {
  const { defs, origin } = collectDefs(loadUpstream());
  const out = {};
  for (const [name, schema] of Object.entries(defs)) {
    out[name] = localDiscriminators(rewrite(schema, origin[name], ({ name: target }) => `#/components/schemas/${target}`));
  }
  fixInstant(out.ISO8601Instant);
  // A base that has `kind` only through AbstractComponent declares it itself too (the same
  // schema): generators then see that a subtype of a subtype (ScheduledExecutionSession of
  // SimpleExecutionSession) overrides its parent's kind, instead of requiring both kinds at once.
  for (const schema of Object.values(out)) {
    const property = schema.discriminator?.propertyName;
    if (property && !schema.properties?.[property]) {
      schema.properties = { [property]: out.AbstractComponent.properties[property], ...schema.properties };
    }
  }
  // A base whose mapping names the base itself (AbstractCostItem, AbstractMetricItem) would give
  // generators a base whose kind is that one URI, to which no subtype is assignable: a client could
  // not narrow a cost to SimpleMinMaxFloatCost. Without the entry the base's kind is any URI, as
  // the other bases' are (the JSON Schema that validates keeps the mapping).
  for (const [name, schema] of Object.entries(out)) {
    const mapping = schema.discriminator?.mapping;
    if (!mapping) continue;
    const own = Object.entries(mapping).filter(([, ref]) => ref === `#/components/schemas/${name}`);
    if (own.length) schema.discriminator = { ...schema.discriminator, mapping: Object.fromEntries(Object.entries(mapping).filter(([, ref]) => ref !== `#/components/schemas/${name}`)) };
  }
  return {
    description: 'Generated by schemas/generate.mjs from schemas/upstream/v1.0 (CC-BY-SA-4.0, Manchester University): the component schemas of the served OpenAPI description. Do not edit.',
    schemas: Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b))),
  };
}

export function buildJsonSchema() {
  const files = loadUpstream();
  const { defs, origin } = collectDefs(files);
  const bases = discriminatedBases(defs, origin);
  const subtypeOf = new Map();
  for (const [base, entries] of Object.entries(bases)) for (const [, sub] of entries) subtypeOf.set(sub, base);
  const anyName = (base) => base.replace(/^Abstract/, 'Any');

  const out = {};
  for (const [name, schema] of Object.entries(defs)) {
    const ownBase = subtypeOf.get(name);
    // A subtype's own allOf must reach the plain base, or Any<Base> would recurse into itself.
    const patched = rewrite(schema, origin[name], ({ name: target }) =>
      bases[target] && target !== ownBase && target !== name
        ? `#/$defs/${anyName(target)}`
        : `#/$defs/${target}`);
    out[name] = stripOpenApi(patched);
  }
  for (const [base, entries] of Object.entries(bases)) {
    out[anyName(base)] = {
      title: anyName(base),
      description: `${base}, with the fields of its subtype checked according to \`kind\`.`,
      allOf: [
        { $ref: `#/$defs/${base}` },
        ...entries.map(([kind, sub]) => ({
          if: { properties: { kind: { const: kind } }, required: ['kind'] },
          then: { $ref: `#/$defs/${sub}` },
        })),
      ],
    };
  }
  fixInstant(out.ISO8601Instant);
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: SCHEMA_ID,
    title: 'IVOA ExecutionBroker v1.0 documents (SRCNet broker overlay)',
    description: 'Generated by schemas/generate.mjs from schemas/upstream/v1.0 (CC-BY-SA-4.0, Manchester University). Do not edit.',
    $defs: Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b))),
  };
}

// ---- XML shapes ----------------------------------------------------------------------------
// A shape tells the XML codec, for each named type, how each property is written: its value type
// (string, integer, number, boolean, map, object of a named type, or array of one of these), and
// whether it is an attribute. Lists are named as xmlListNames says.

function describe(schema, defs, bases) {
  // A string or an object (srcnet.notify's targets): read as the object, or as its text when the element holds only text.
  const alternatives = schema.oneOf?.filter((part) => part.$ref) ?? [];
  if (alternatives.length === 1 && schema.oneOf.some((part) => part.type === 'string')) return { ...describe(alternatives[0], defs, bases), orText: true };
  if (schema.$ref) {
    const name = schema.$ref.replace('#/$defs/', '');
    const target = defs[name];
    // A list, or one of its items alone (srcnet.notify): XML reads it as the list, one element per item.
    const list = target.oneOf?.find((part) => part.type === 'array');
    if (list) return describe(list, defs, bases);
    if (bases[name] || name.startsWith('Any')) return { t: 'object', type: name.replace(/^Any/, 'Abstract') };
    if (target.type === 'object' && target.additionalProperties && !target.properties) return { t: 'map' };
    if (target.type === 'array') {
      return { t: 'array', items: describe(target.items, defs, bases), ...xmlListNames(target) };
    }
    if (target.type === 'string' || target.enum) return { t: 'string' };
    if (target.type === 'integer' || target.type === 'number' || target.type === 'boolean') return { t: target.type };
    return { t: 'object', type: name };
  }
  if (schema.type === 'array') return { t: 'array', items: describe(schema.items, defs, bases), ...xmlListNames(schema) };
  if (schema.type === 'object' && schema.additionalProperties && !schema.properties) return { t: 'map' };
  if (schema.type === 'integer' || schema.type === 'number' || schema.type === 'boolean') return { t: schema.type };
  if (schema.type === 'object') throw new Error('inline object schemas are not expected in property positions');
  return { t: 'string' };
}

/**
 * How a list's items are named in XML. Wrapped (offers): a wrapper named after the property, items
 * named by `items.xml.name`. Unwrapped (every other list): one element per item, named by
 * `items.xml.name` (messages -> message, costs -> cost, metrics -> metric), else by the list's own
 * `xml.name` (SimpleSessionConnectorList -> connector, AbstractStorageResourceList -> storage),
 * else after the property. OpenAPI leaves a list's own name to wrapped lists; upstream names its
 * connector list `connector` and nothing else could carry that name, so we read it as the items'.
 */
function xmlListNames(arraySchema) {
  const xml = arraySchema.xml ?? {};
  const itemName = arraySchema.items?.xml?.name;
  if (xml.wrapped) return { wrapped: true, item: itemName ?? 'item' };
  const item = itemName ?? xml.name;
  return item ? { item } : {};
}

function propertiesOf(schema, rawDefs, acc = {}) {
  for (const part of schema.allOf ?? []) {
    if (part.$ref) propertiesOf(rawDefs[part.$ref.replace('#/$defs/', '')], rawDefs, acc);
    else propertiesOf(part, rawDefs, acc);
  }
  for (const [key, value] of Object.entries(schema.properties ?? {})) acc[key] = value;
  return acc;
}

export function buildXmlShapes() {
  const files = loadUpstream();
  const { defs, origin } = collectDefs(files);
  const bases = discriminatedBases(defs, origin);
  // Keep the xml keywords here: resolve refs to local names but do not strip anything.
  const withXml = Object.fromEntries(Object.entries(defs).map(([name, schema]) =>
    [name, rewrite(schema, origin[name], ({ name: target }) => `#/$defs/${target}`)]));
  const types = {};
  for (const [name, schema] of Object.entries(withXml)) {
    const props = propertiesOf(schema, withXml);
    if (Object.keys(props).length === 0) continue;
    types[name] = Object.fromEntries(Object.entries(props).map(([prop, propSchema]) => {
      const shape = describe(propSchema, withXml, bases);
      if (propSchema.xml?.attribute) shape.attr = true;
      if (propSchema.$ref && withXml[propSchema.$ref.replace('#/$defs/', '')]?.xml?.attribute) shape.attr = true;
      return [prop, shape];
    }));
  }
  const kinds = {};
  for (const [base, entries] of Object.entries(bases)) kinds[base] = Object.fromEntries(entries);
  return {
    description: 'Generated by schemas/generate.mjs from schemas/upstream/v1.0. Do not edit.',
    roots: { 'offers-request': 'ExecutionRequest', 'offers-response': 'OfferSetResponse', execution: 'AbstractExecutionSession', update: 'AbstractUpdate' },
    kinds,
    types: Object.fromEntries(Object.entries(types).sort(([a], [b]) => a.localeCompare(b))),
  };
}

const outputs = {
  'execution-broker.schema.json': buildJsonSchema,
  'xml-shapes.json': buildXmlShapes,
  'openapi-schemas.json': buildOpenApiSchemas,
};

if (resolve(process.argv[1] ?? '') === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let stale = false;
  for (const [file, build] of Object.entries(outputs)) {
    const text = `${JSON.stringify(build(), null, 2)}\n`;
    const path = join(here, file);
    if (check) {
      let current = '';
      try { current = readFileSync(path, 'utf8'); } catch { /* missing counts as stale */ }
      if (current !== text) { stale = true; console.error(`schemas/${file} is out of date: run node schemas/generate.mjs`); }
    } else {
      writeFileSync(path, text);
      console.log(`wrote schemas/${file}`);
    }
  }
  process.exit(stale ? 1 : 0);
}
