import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { create } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces.js';
import { BrokerError } from '../../domain/errors.js';
import { setOwn } from '../own-property.js';
import { concreteType, xmlShapes, type PropertyShape } from '../schema-files.js';
import type { DocumentType, ListingType } from './document-types.js';

/**
 * XML as the ExecutionBroker schema names it (unqualified names, no namespace): roots
 * `offers-request`, `offers-response`, `execution` and `update`; `kind` as an attribute where the
 * schema says so; lists as the schema's `xml` names them (schemas/generate.mjs, xmlListNames):
 * unwrapped, one element per item (`message`, `cost`, `metric`, `connector`, else the property's
 * name), except `offers` (wrapped, items `execution`); items named after the property are read
 * too, as this broker wrote them before; maps as
 * `<KEY>value</KEY>`, or `<entry key="KEY">value</entry>` when KEY is not an XML name.
 * XML carries no types, so decoding follows schemas/xml-shapes.json to rebuild numbers,
 * booleans and single-item arrays.
 */

const ROOT_OF: Record<Exclude<DocumentType, 'Problem' | ListingType>, string> = {
  ExecutionRequest: 'offers-request',
  OfferSetResponse: 'offers-response',
  AbstractExecutionSession: 'execution',
  AbstractUpdate: 'update',
};

const PROBLEM_NAMESPACE = 'urn:ietf:rfc:7807';

/**
 * The broker's own documents have no schema shapes: every array is wrapped in an element named
 * after it, its items named as listed here (`<sessions><session>...</session></sessions>`).
 */
const LISTING_ROOTS: Record<ListingType, string> = {
  SessionList: 'session-list', SiteList: 'site-list', SiteTimeline: 'site-timeline', SessionHistory: 'session-history',
};
const LISTING_ITEMS: Record<string, string> = {
  sessions: 'session', sites: 'site', reservations: 'reservation', history: 'change', executables: 'executable', unavailableExecutables: 'executable',
  architectures: 'architecture', operatingSystems: 'operatingSystem', dataSchemes: 'scheme', locations: 'location', storage: 'element',
  executors: 'executor', hardware: 'capability', services: 'service', storageAreas: 'area', hours: 'hour',
};
const isListing = (type: DocumentType): type is ListingType => Object.hasOwn(LISTING_ROOTS, type);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  removeNSPrefix: true,
  processEntities: true,
  htmlEntities: true,
  commentPropName: false,
});

type XmlNode = string | { [key: string]: XmlNode | XmlNode[] };

const FORBIDDEN = /<!(DOCTYPE|ENTITY)/i;

export function decodeXml(text: string, type: DocumentType): unknown {
  if (FORBIDDEN.test(text)) {
    throw new BrokerError('forbidden-xml-construct', { detail: 'XML with a DOCTYPE or entity declarations is refused' });
  }
  const verdict = XMLValidator.validate(text);
  if (verdict !== true) {
    const { msg, line, col } = verdict.err;
    throw new BrokerError('malformed-body', { detail: `The body is not well-formed XML: ${msg} (line ${line}, column ${col})` });
  }
  let tree: Record<string, XmlNode>;
  try {
    tree = parser.parse(text) as Record<string, XmlNode>;
  } catch (cause) {
    throw new BrokerError('document-too-complex', { detail: `The XML document is refused: ${(cause as Error).message}`, cause });
  }
  const roots = Object.keys(tree).filter((key) => key !== '#text');
  if (roots.length !== 1 || Array.isArray(tree[roots[0] as string])) throw new BrokerError('malformed-body', { detail: 'An XML document must have exactly one root element' });
  const rootName = roots[0] as string;
  const expected = type === 'Problem' ? 'problem' : isListing(type) ? LISTING_ROOTS[type] : ROOT_OF[type];
  if (type !== 'AbstractUpdate' && rootName !== expected) {
    throw new BrokerError('malformed-body', { detail: `Expected the root element <${expected}>, found <${rootName}>` });
  }
  const root = tree[rootName] as XmlNode;
  return type === 'Problem' || isListing(type) ? genericValue(root) : objectValue(root, type);
}

/** Element name -> property, for arrays whose items are named otherwise (connectors -> connector). */
const itemElements = new Map<string, Map<string, string>>();
function propertyOfElement(type: string, element: string): string {
  let names = itemElements.get(type);
  if (!names) {
    names = new Map();
    for (const [property, shape] of Object.entries(xmlShapes.types[type] ?? {})) {
      if (shape.t === 'array' && !shape.wrapped && shape.item) names.set(shape.item, property);
    }
    itemElements.set(type, names);
  }
  return names.get(element) ?? element;
}

function children(node: XmlNode): Record<string, XmlNode | XmlNode[]> {
  return typeof node === 'string' ? {} : node;
}

function textOf(node: XmlNode | XmlNode[]): string {
  if (Array.isArray(node)) return textOf(node[0] ?? '');
  if (typeof node === 'string') return node;
  const text = node['#text'];
  return typeof text === 'string' ? text : '';
}

function objectValue(node: XmlNode, declared: string): Record<string, unknown> {
  const fields = children(node);
  const kind = fields['@_kind'] ?? (fields.kind === undefined ? undefined : textOf(fields.kind));
  const type = concreteType(declared, kind);
  const shape = xmlShapes.types[type] ?? {};
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(fields)) {
    if (key === '#text') continue;
    const name = key.startsWith('@_') ? key.slice(2) : propertyOfElement(type, key);
    const property = Object.hasOwn(shape, name) ? shape[name] : undefined;
    if (key.startsWith('@_') && !property?.attr) continue;
    setOwn(out, name, property ? typedValue(raw, property) : genericValue(raw));
  }
  return out;
}

function typedValue(raw: XmlNode | XmlNode[], shape: PropertyShape): unknown {
  if (shape.t === 'array') {
    const itemShape = shape.items ?? { t: 'string' };
    let items: XmlNode | XmlNode[] = raw;
    if (shape.wrapped) {
      const wrapper = Array.isArray(raw) ? raw[0] : raw;
      items = children(wrapper ?? '')[shape.item ?? 'item'] ?? [];
    }
    return (Array.isArray(items) ? items : [items]).map((item) => typedValue(item, itemShape));
  }
  if (Array.isArray(raw)) return raw.map((item) => typedValue(item, shape));
  switch (shape.t) {
    // An element holding only text, where the object may be given as text (srcnet.notify's targets); an empty one is the empty object.
    case 'object': return shape.orText && textOf(raw) !== '' && Object.keys(children(raw)).every((key) => key === '#text' || key.startsWith('@_'))
      ? textOf(raw) : objectValue(raw, shape.type ?? '');
    case 'map': return mapValue(raw);
    case 'integer': return numberOr(textOf(raw), /^\s*[-+]?\d+\s*$/);
    case 'number': return numberOr(textOf(raw), /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/);
    case 'boolean': return booleanOr(textOf(raw));
    default: return textOf(raw);
  }
}

/** Text that is not a number stays text, so that validation reports it against its field. */
function numberOr(text: string, pattern: RegExp): number | string {
  return pattern.test(text) ? Number(text) : text;
}

function booleanOr(text: string): boolean | string {
  const trimmed = text.trim();
  if (trimmed === 'true' || trimmed === '1') return true;
  if (trimmed === 'false' || trimmed === '0') return false;
  return text;
}

function mapValue(raw: XmlNode): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(children(raw))) {
    if (key.startsWith('@_') || key === '#text') continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      const entryKey = key === 'entry' && typeof item === 'object' ? item['@_key'] : undefined;
      setOwn(out, typeof entryKey === 'string' ? entryKey : key, textOf(item));
    }
  }
  return out;
}

/** Elements the schema does not name: text stays text, repeated elements become arrays. */
function genericValue(raw: XmlNode | XmlNode[]): unknown {
  if (Array.isArray(raw)) return raw.map(genericValue);
  if (typeof raw === 'string') return raw;
  const entries = Object.entries(raw).filter(([key]) => key !== '#text' && !key.startsWith('@_'));
  if (entries.length === 0) return textOf(raw);
  return Object.fromEntries(entries.map(([key, value]) => [key, genericValue(value)]));
}

// ---- writing ---------------------------------------------------------------------------------

const XML_NAME = /^[A-Za-z_][A-Za-z0-9._-]*$/;
// Characters XML 1.0 cannot carry at all; they are replaced rather than failing the response.
// eslint-disable-next-line no-control-regex
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * xmlbuilder2 leaves a `&` alone when it already starts an entity (`&lt;`, `&#13;`), so text that
 * merely looks like one would be read back expanded: escape every `&` first (xmlbuilder2 then
 * keeps our `&amp;` as it is).
 */
const xmlText = (value: unknown): string => String(value).replace(NOT_XML, '\uFFFD').replace(/&/g, '&amp;');
/** Attribute values also keep tabs and line feeds, which XML parsers would turn into spaces. */
const xmlAttr = (value: unknown): string => xmlText(value).replace(/\t/g, '&#9;').replace(/\n/g, '&#10;');

/** Names an element may safely take: XML names that no parser treats as special object keys. */
const RESERVED = new Set(['__proto__', 'constructor', 'prototype']);
const safeElementName = (name: string): boolean =>
  XML_NAME.test(name) && !RESERVED.has(name) && !(name in Object.prototype) && !name.startsWith('__') && !name.toLowerCase().startsWith('xml');

/**
 * Every element is made with its namespace given (`ele(null, name)` for the broker's documents,
 * which have none): given none, xmlbuilder2 looks the parent's default namespace up through every
 * ancestor, for each element (an eighth of writing an offer set).
 */
export function encodeXml(value: unknown, type: DocumentType): string {
  const doc = create({ version: '1.0', encoding: 'UTF-8' });
  if (type === 'Problem') {
    const root = doc.ele(PROBLEM_NAMESPACE, 'problem');
    writeGeneric(root, value as Record<string, unknown>, PROBLEM_NAMESPACE);
  } else if (isListing(type)) {
    writeListing(doc.ele(null, LISTING_ROOTS[type]), value as Record<string, unknown>);
  } else {
    writeObject(doc.ele(null, ROOT_OF[type]), value as Record<string, unknown>, type);
  }
  // A literal carriage return would be read back as a line feed (XML end-of-line handling).
  return doc.end({ prettyPrint: false }).replace(/\r/g, '&#13;');
}

function writeObject(element: XMLBuilder, value: Record<string, unknown>, declared: string): void {
  const type = concreteType(declared, value.kind);
  const shape = xmlShapes.types[type] ?? {};
  for (const [key, child] of Object.entries(value)) {
    if (child === undefined || child === null) continue;
    const property = shape[key];
    if (property?.attr) element.att(key, xmlAttr(child));
    else if (property) writeProperty(element, key, child, property);
    else writeUnknown(element, key, child);
  }
}

function writeProperty(parent: XMLBuilder, key: string, value: unknown, shape: PropertyShape): void {
  if (shape.t === 'array' && Array.isArray(value)) {
    const itemShape = shape.items ?? { t: 'string' };
    const container = shape.wrapped ? parent.ele(null, key) : parent;
    const itemName = shape.item ?? key;
    for (const item of value) writeProperty(container, itemName, item, itemShape);
    return;
  }
  if (shape.t === 'object' && isRecord(value)) {
    writeObject(parent.ele(null, key), value, shape.type ?? '');
  } else if (shape.t === 'map' && isRecord(value)) {
    const map = parent.ele(null, key);
    for (const [name, text] of Object.entries(value)) {
      if (safeElementName(name) && name !== 'entry') map.ele(null, name).txt(xmlText(text));
      else map.ele(null, 'entry').att('key', xmlAttr(name)).txt(xmlText(text));
    }
  } else {
    writeUnknown(parent, key, value);
  }
}

function writeUnknown(parent: XMLBuilder, key: string, value: unknown, namespace?: string): void {
  if (!safeElementName(key)) return;
  if (Array.isArray(value)) {
    for (const item of value) writeUnknown(parent, key, item, namespace);
  } else if (isRecord(value)) {
    writeGeneric(parent.ele(namespace ?? null, key), value, namespace);
  } else {
    parent.ele(namespace ?? null, key).txt(xmlText(value));
  }
}

function writeGeneric(element: XMLBuilder, value: Record<string, unknown>, namespace?: string): void {
  for (const [key, child] of Object.entries(value)) {
    if (child !== undefined && child !== null) writeUnknown(element, key, child, namespace);
  }
}

/** A listing's object: keys that are no XML name (a GPU model, say) become `<entry key="...">`. */
function writeListing(element: XMLBuilder, value: Record<string, unknown>): void {
  for (const [key, child] of Object.entries(value)) {
    if (child === undefined || child === null) continue;
    const named = safeElementName(key) && key !== 'entry';
    const item = (parent: XMLBuilder, name: string, inner: unknown): void => {
      const node = parent.ele(null, name);
      if (name === 'entry' && !named) node.att('key', xmlAttr(key));
      if (isRecord(inner)) writeListing(node, inner);
      else node.txt(xmlText(inner));
    };
    if (Array.isArray(child)) {
      const wrapper = element.ele(null, named ? key : 'entry');
      if (!named) wrapper.att('key', xmlAttr(key));
      for (const inner of child) item(wrapper, LISTING_ITEMS[key] ?? 'item', inner);
    } else {
      item(element, named ? key : 'entry', child);
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
