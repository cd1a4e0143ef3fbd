import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { kindUri, parseKind } from './kind-uris.js';

/** schemas/ at the top of the package: two levels up from src/protocol and from dist/protocol. */
const SCHEMAS_DIR = fileURLToPath(new URL('../../schemas/', import.meta.url));

export function readSchemaFile<T>(name: string): T {
  return JSON.parse(readFileSync(`${SCHEMAS_DIR}${name}`, 'utf8')) as T;
}

export interface PropertyShape {
  t: 'string' | 'integer' | 'number' | 'boolean' | 'map' | 'object' | 'array';
  type?: string;
  items?: PropertyShape;
  attr?: boolean;
  wrapped?: boolean;
  item?: string;
  /** An object that may also be given as text (an element holding only text is read as that text). */
  orText?: boolean;
}

export interface XmlShapes {
  roots: Record<string, string>;
  /** Abstract base -> kind URI (v1.0 family) -> subtype. */
  kinds: Record<string, Record<string, string>>;
  types: Record<string, Record<string, PropertyShape>>;
}

export const xmlShapes: XmlShapes = readSchemaFile<XmlShapes>('xml-shapes.json');

/** The subtype a value of an abstract `type` has by its `kind` (any URI family, or a plain `uri:` kind). */
export function concreteType(type: string, kind: unknown): string {
  const subtypes = xmlShapes.kinds[type];
  if (!subtypes || typeof kind !== 'string') return type;
  if (Object.hasOwn(subtypes, kind)) return subtypes[kind] as string;
  const parsed = parseKind(kind);
  return (parsed && subtypes[kindUri(parsed.short)]) || type;
}
