/**
 * Property tests of the three body codecs (JSON, XML, YAML) behind body-codec.ts.
 *
 * The documents are generated FROM schemas/xml-shapes.json (the same file the XML codec is driven
 * by), so a field added to the schema is covered without touching this file:
 * - every property of a type is optional; its value follows the property's shape (`t`);
 * - a property whose declared type is an abstract base listed in `kinds` holds one of that base's
 *   subtypes, with the subtype's kind URI in `kind`;
 * - documents are in the canonical form decodeBody produces (no null, no empty arrays), so that a
 *   faithful round trip is plain deep equality.
 */
import fc from 'fast-check';
import { decodeBody, encodeBody, type DocumentType, type Format } from '../../src/protocol/codecs/body-codec.js';
import type { ListingType } from '../../src/protocol/codecs/document-types.js';
import { xmlShapes, type PropertyShape } from '../../src/protocol/schema-files.js';

type DocType = Exclude<DocumentType, 'Problem' | ListingType>;
const DOCUMENT_TYPES: readonly DocType[] = ['ExecutionRequest', 'OfferSetResponse', 'AbstractExecutionSession', 'AbstractUpdate'];
const FORMATS: readonly Format[] = ['json', 'xml', 'yaml'];
const ROOT_ELEMENT: Record<DocType, string> = {
  ExecutionRequest: 'offers-request',
  OfferSetResponse: 'offers-response',
  AbstractExecutionSession: 'execution',
  AbstractUpdate: 'update',
};

const NUM_RUNS = 200;
/** Objects nested deeper than this get no container-valued (object, map, array) properties. */
const MAX_DEPTH = 4;
const MAX_ITEMS = 3;

// ---- scalars ---------------------------------------------------------------------------------

const codePoints = (min: number, max: number): fc.Arbitrary<string> =>
  fc.integer({ min, max }).map((cp) => String.fromCodePoint(cp));

/**
 * One character of the XML 1.0 Char production:
 *   #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
 * Left out, because no XML 1.0 document can carry them at all (not even as character references):
 * the other C0 controls, U+FFFE, U+FFFF and lone surrogates. \r IS included: the encoder writes it
 * as a character reference.
 */
const xmlChar: fc.Arbitrary<string> = fc.oneof(
  { weight: 12, arbitrary: codePoints(0x20, 0x7e) },
  { weight: 4, arbitrary: fc.constantFrom('\t', '\n', '\r', ' ', '<', '>', '&', '"', "'", ';', '#', ':', '\\', ']') },
  { weight: 1, arbitrary: codePoints(0x7f, 0x9f) },
  { weight: 2, arbitrary: codePoints(0xa0, 0xd7ff) },
  { weight: 1, arbitrary: codePoints(0xe000, 0xfffd) },
  { weight: 1, arbitrary: codePoints(0x10000, 0x10ffff) },
);

/** Strings that a careless codec turns into something else. */
const TRICKY_STRINGS = [
  '', ' ', '  ', '\n', '\r\n', '\t', ' lead', 'trail ', 'YES', 'NO', 'yes', 'no', 'on', 'off', 'y', 'n',
  'true', 'false', 'True', 'null', 'Null', '~', '0', '1', '-1', '007', '0x1F', '0o17', '1e3', '.5', '-.inf',
  '.nan', '[]', '{}', '- a', 'a: b', '#c', '&', '&amp;', '&lt;', '&#13;', '&#x26;', '&nbsp;', '&copy;', '&foo;', ']]>',
  '<![CDATA[x]]>', '<!-- c -->', '<a/>', '"', "'", '\\', '\u0085', '\u00a0', '\u2028', '\ufeff', '\u{1F600}',
];

const xmlString: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: xmlChar, maxLength: 12 }) },
  { weight: 2, arbitrary: fc.constantFrom(...TRICKY_STRINGS) },
);

/** Map keys: XML names (written as elements) and anything else (written as `<entry key="...">`). */
const xmlName = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9._-]{0,8}$/);
const TRICKY_KEYS = [
  'entry', 'Entry', 'xml', 'xmlns', 'XMLfoo', 'key', 'kind', '#text', '@_key', '@_kind', 'a:b', '1a', '-a', 'a b',
  // Names JavaScript objects (and fast-xml-parser, which refuses or renames them as element names) treat specially.
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__',
];
const mapKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: xmlName },
  { weight: 3, arbitrary: fc.string({ unit: xmlChar, minLength: 1, maxLength: 10 }) },
  { weight: 1, arbitrary: fc.constantFrom(...TRICKY_KEYS) },
);

/** Safe integers only: beyond 2^53 JSON and YAML readers give back a different number. */
const safeInteger: fc.Arbitrary<number> = fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.constantFrom(0, 1, -1));

/** Finite doubles; -0 is left out because JSON cannot carry it (JSON.stringify(-0) is "0"). */
const finiteDouble: fc.Arbitrary<number> = fc
  .oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), safeInteger, fc.constantFrom(0.1, 1.5, 1e21, 1e-7, 5e-324))
  .filter((x) => !Object.is(x, -0));

/**
 * Builds a plain object from entries with CreateDataProperty semantics, so that a key such as
 * `__proto__` becomes an own property (as JSON.parse makes it) instead of setting the prototype.
 */
const plainObject = (entries: ReadonlyArray<readonly [string, unknown]>): Record<string, unknown> => Object.fromEntries(entries);

const mapValue: fc.Arbitrary<Record<string, string>> = fc
  .uniqueArray(fc.tuple(mapKey, xmlString), { selector: ([key]) => key, maxLength: 4 })
  .map((entries) => plainObject(entries) as Record<string, string>);

// ---- documents from the shapes ----------------------------------------------------------------

const ABSENT = Symbol('absent');
/** Every type the generator has built a value of (checked against the reachable types below). */
const generatedTypes = new Set<string>();

const isContainer = (shape: PropertyShape): boolean => shape.t === 'object' || shape.t === 'map' || shape.t === 'array';

function propertyArbitrary(shape: PropertyShape, depth: number): fc.Arbitrary<unknown> {
  switch (shape.t) {
    case 'string': return xmlString;
    case 'integer': return safeInteger;
    case 'number': return finiteDouble;
    case 'boolean': return fc.boolean();
    case 'map': return mapValue;
    // An object that may be given as text (srcnet.notify's targets): either, non-empty text (empty is the empty object).
    case 'object': return shape.orText
      ? fc.oneof(objectArbitrary(shape.type ?? '', depth + 1), xmlString.filter((text) => text !== ''))
      : objectArbitrary(shape.type ?? '', depth + 1);
    case 'array': {
      // Canonical documents hold no empty arrays (decoding drops them).
      const items = shape.items ?? { t: 'string' };
      const maxLength = isContainer(items) ? 2 : MAX_ITEMS;
      return fc.array(propertyArbitrary(items, depth), { minLength: 1, maxLength });
    }
  }
}

/** Each property present about half the time; none holds null. */
function recordArbitrary(
  typeName: string,
  depth: number,
  fixed: Record<string, string> = {},
): fc.Arbitrary<Record<string, unknown>> {
  const shape = xmlShapes.types[typeName] ?? {};
  const names: string[] = [];
  const arbs: fc.Arbitrary<unknown>[] = [];
  for (const [name, property] of Object.entries(shape)) {
    if (name in fixed) continue;
    if (depth >= MAX_DEPTH && isContainer(property)) continue;
    names.push(name);
    arbs.push(fc.option(propertyArbitrary(property, depth), { nil: ABSENT, freq: 2 }));
  }
  return fc.tuple(...arbs).map((values) => {
    generatedTypes.add(typeName);
    const entries: Array<[string, unknown]> = Object.entries(fixed);
    values.forEach((value, index) => { if (value !== ABSENT) entries.push([names[index] as string, value]); });
    return plainObject(entries);
  });
}

const memo = new Map<string, fc.Arbitrary<Record<string, unknown>>>();

/** A value of the declared type: for an abstract base with kinds, one of its subtypes, with its kind. */
function objectArbitrary(declared: string, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const memoKey = `${declared}@${depth}`;
  let arb = memo.get(memoKey);
  if (!arb) {
    const subtypes = xmlShapes.kinds[declared];
    arb = subtypes
      ? fc.oneof(...Object.entries(subtypes).map(([kind, subtype]) => recordArbitrary(subtype, depth, { kind })))
      : recordArbitrary(declared, depth);
    memo.set(memoKey, arb);
  }
  return arb;
}

const documentArbitrary = (type: DocType): fc.Arbitrary<Record<string, unknown>> => objectArbitrary(type, 0);

// ---- helpers ------------------------------------------------------------------------------------

/** No null, no undefined, no empty array anywhere. */
const isCanonical = (value: unknown): boolean => {
  if (value === null || value === undefined) return false;
  if (Array.isArray(value)) return value.length > 0 && value.every(isCanonical);
  if (typeof value === 'object') return Object.values(value).every(isCanonical);
  return true;
};

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const roundTrip = (doc: unknown, format: Format, type: DocType): unknown =>
  decodeBody(bytes(encodeBody(doc, format, type)), format, type);

const kindOf = (base: string, subtype: string): string => {
  const entry = Object.entries(xmlShapes.kinds[base] ?? {}).find(([, name]) => name === subtype);
  if (!entry) throw new Error(`No kind for ${subtype} under ${base}`);
  return entry[0];
};
const DOCKER = kindOf('AbstractExecutable', 'DockerContainer');
const SIMPLE_COMPUTE = kindOf('AbstractComputeResource', 'SimpleComputeResource');
const MINMAX_COST = kindOf('AbstractCostItem', 'SimpleMinMaxFloatCost');
const SIMPLE_SESSION = kindOf('AbstractExecutionSession', 'SimpleExecutionSession');
const SIMPLE_STORAGE = kindOf('AbstractStorageResource', 'SimpleStorageResource');

// ---- properties ---------------------------------------------------------------------------------

describe('codec properties (documents generated from schemas/xml-shapes.json)', () => {
  it('generates canonical documents covering every type reachable within the depth bound', () => {
    const reachable = new Set<string>();
    const reach = (declared: string, depth: number): void => {
      const subtypes = xmlShapes.kinds[declared];
      for (const type of subtypes ? Object.values(subtypes) : [declared]) {
        reachable.add(type);
        for (const property of Object.values(xmlShapes.types[type] ?? {})) {
          const target = property.t === 'array' ? property.items ?? { t: 'string' } : property;
          if (depth < MAX_DEPTH && target.t === 'object') reach(target.type ?? '', depth + 1);
        }
      }
    };
    DOCUMENT_TYPES.forEach((type) => reach(type, 0));
    generatedTypes.clear();
    for (const type of DOCUMENT_TYPES) {
      for (const doc of fc.sample(documentArbitrary(type), { numRuns: 300, seed: 1 })) expect(isCanonical(doc)).toBe(true);
    }
    expect([...reachable].filter((type) => !generatedTypes.has(type)).sort()).toEqual([]);
  });

  describe.each(DOCUMENT_TYPES)('%s', (type) => {
    const documents = documentArbitrary(type);

    it.each(FORMATS)('round-trips through %s', (format) => {
      fc.assert(
        fc.property(documents, (doc) => {
          expect(roundTrip(doc, format, type)).toEqual(doc);
        }),
        { numRuns: NUM_RUNS },
      );
    });

    it('decodes to the same value from JSON, XML and YAML', () => {
      fc.assert(
        fc.property(documents, (doc) => {
          const [json, xml, yaml] = FORMATS.map((format) => roundTrip(doc, format, type));
          expect(xml).toEqual(json);
          expect(yaml).toEqual(json);
        }),
        { numRuns: NUM_RUNS },
      );
    });

    it(`writes XML with the root element <${ROOT_ELEMENT[type]}>`, () => {
      const root = new RegExp(`^(<\\?xml[^>]*\\?>)?\\s*<${ROOT_ELEMENT[type]}[\\s/>]`);
      fc.assert(
        fc.property(documents, (doc) => {
          expect(encodeBody(doc, 'xml', type)).toMatch(root);
        }),
        { numRuns: 50 },
      );
    });
  });
});

// ---- examples -----------------------------------------------------------------------------------

describe('codec examples', () => {
  it('keeps YES, NO, on, off and friends strings through YAML', () => {
    const words = ['YES', 'NO', 'Yes', 'no', 'on', 'OFF', 'y', 'N', 'true', 'False', 'null', '~', '0x10', '1e3', '.inf'];
    const doc = {
      executable: { kind: DOCKER, command: words, entrypoint: 'NO', environment: { FLAG: 'YES', OTHER: 'off' } },
      compute: { kind: SIMPLE_COMPUTE, meta: { name: 'YES' } },
    };
    const yaml = encodeBody(doc, 'yaml', 'ExecutionRequest');
    expect(yaml).toContain('"YES"');
    expect(yaml).toContain('"NO"');
    const decoded = decodeBody(bytes(yaml), 'yaml', 'ExecutionRequest');
    expect(decoded).toEqual(doc);
    const executable = (decoded as { executable: Record<string, unknown> }).executable;
    expect(executable.command).toEqual(words);
    expect(executable.entrypoint).toBe('NO');
  });

  it('keeps a single-item array an array through XML', () => {
    const request = {
      executable: { kind: DOCKER, command: ['only'], costs: [{ kind: MINMAX_COST, min: 1 }] },
      storage: [{ kind: SIMPLE_STORAGE, data: ['one'] }],
    };
    const xml = encodeBody(request, 'xml', 'ExecutionRequest');
    const decoded = decodeBody(bytes(xml), 'xml', 'ExecutionRequest') as typeof request;
    expect(decoded).toEqual(request);
    expect(Array.isArray(decoded.executable.command)).toBe(true);
    expect(Array.isArray(decoded.storage)).toBe(true);
    expect(Array.isArray(decoded.storage[0]?.data)).toBe(true);

    const response = { result: 'YES', offers: [{ kind: SIMPLE_SESSION, phase: 'OFFERED' }] };
    const decodedResponse = decodeBody(bytes(encodeBody(response, 'xml', 'OfferSetResponse')), 'xml', 'OfferSetResponse');
    expect(decodedResponse).toEqual(response);
  });

  it('reads numbers from XML only where the schema says integer or number', () => {
    const xml = [
      '<offers-request>',
      `<executable kind="${DOCKER}"><entrypoint>42</entrypoint><command>7</command>`,
      '<environment><N>3</N><entry key="a b">1.5</entry></environment><meta><name>12</name></meta>',
      `<costs kind="${MINMAX_COST}"><type>5</type><min>0.25</min><max>2</max></costs>`,
      '</executable>',
      `<compute kind="${SIMPLE_COMPUTE}"><cores><min>2</min><max>16</max></cores><phase>1</phase></compute>`,
      '</offers-request>',
    ].join('');
    expect(decodeBody(bytes(xml), 'xml', 'ExecutionRequest')).toEqual({
      executable: {
        kind: DOCKER,
        entrypoint: '42',
        command: ['7'],
        environment: { N: '3', 'a b': '1.5' },
        meta: { name: '12' },
        costs: [{ kind: MINMAX_COST, type: '5', min: 0.25, max: 2 }],
      },
      compute: { kind: SIMPLE_COMPUTE, cores: { min: 2, max: 16 }, phase: '1' },
    });
  });

  it.each(DOCUMENT_TYPES)('writes a %s with the right root element', (type) => {
    const sample = fc.sample(documentArbitrary(type), { numRuns: 1, seed: 42 })[0];
    expect(encodeBody(sample, 'xml', type)).toMatch(new RegExp(`^<\\?xml version="1.0" encoding="UTF-8"\\?><${ROOT_ELEMENT[type]}[\\s/>]`));
    expect(encodeBody({}, 'xml', type)).toMatch(new RegExp(`<${ROOT_ELEMENT[type]}/>$`));
  });
});

// ---- minimal counterexamples found by the properties above ---------------------------------------
// Each is the shrunk form of a failure; they assert the correct behaviour (a faithful round trip).

describe('codec round trips of known-hard documents', () => {
  const ENUM_OPTION = 'uri:enum-value-option';
  const cases: Array<[string, Format, DocType, Record<string, unknown>]> = [
    ['an integer in an update (kind dispatch of uri: kinds)', 'xml', 'AbstractUpdate', { kind: 'uri:integer-value-update', value: 0 }],
    ['a single-item enum option (kind dispatch of uri: kinds)', 'xml', 'ExecutionRequest',
      { executable: { kind: DOCKER, meta: { options: [{ kind: ENUM_OPTION, values: ['a'] }] } } }],
    ['session connectors', 'xml', 'AbstractExecutionSession', { kind: SIMPLE_SESSION, connectors: [{}] }],
    ['a string that looks like an entity reference', 'xml', 'OfferSetResponse', { result: '&lt;' }],
    ['a string that looks like a character reference', 'xml', 'OfferSetResponse', { result: '&#13;' }],
    ['an attribute that looks like an entity reference', 'xml', 'OfferSetResponse', { kind: '&amp;' }],
    ['the map key toString', 'xml', 'ExecutionRequest', { executable: { kind: DOCKER, environment: { toString: '' } } }],
    ['the map key constructor', 'xml', 'ExecutionRequest', { executable: { kind: DOCKER, environment: { constructor: '' } } }],
    ...FORMATS.map((format): [string, Format, DocType, Record<string, unknown>] => [
      'the map key __proto__', format, 'ExecutionRequest',
      { executable: { kind: DOCKER, environment: plainObject([['__proto__', '']]) } },
    ]),
  ];
  it.each(cases)('%s through %s', (_, format, type, doc) => {
    expect(roundTrip(doc, format, type)).toEqual(doc);
  });
});
