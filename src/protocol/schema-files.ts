import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

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
}

export interface XmlShapes {
  roots: Record<string, string>;
  /** Abstract base -> kind URI (v1.0 family) -> subtype. */
  kinds: Record<string, Record<string, string>>;
  types: Record<string, Record<string, PropertyShape>>;
}

export const xmlShapes: XmlShapes = readSchemaFile<XmlShapes>('xml-shapes.json');
