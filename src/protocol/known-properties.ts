import { setOwn } from './own-property.js';
import { concreteType, xmlShapes, type PropertyShape } from './schema-files.js';

/**
 * Keeps only the properties the v1.0 schema defines for the value's type (its subtype, when it
 * has a kind), recursively. Unknown properties are accepted on input, as the reference broker
 * does, but never echoed: what the broker writes always conforms to the schema.
 */
export function knownProperties(value: unknown, type: string): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const record = value as Record<string, unknown>;
  const shape = xmlShapes.types[concreteType(type, record.kind)];
  if (!shape) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(record)) {
    const property = Object.hasOwn(shape, key) ? shape[key] : undefined;
    if (property) setOwn(out, key, keep(child, property));
  }
  return out;
}

function keep(value: unknown, shape: PropertyShape): unknown {
  if (shape.t === 'array' && Array.isArray(value)) return value.map((item) => keep(item, shape.items ?? { t: 'string' }));
  if (shape.t === 'object' && shape.type) return knownProperties(value, shape.type);
  return value;
}
