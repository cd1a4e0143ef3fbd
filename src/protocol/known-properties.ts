import { kindUri, parseKind } from './kind-uris.js';
import { xmlShapes, type PropertyShape } from './schema-files.js';

/**
 * Keeps only the properties the v1.0 schema defines for the value's type (its subtype, when it
 * has a kind), recursively. Unknown properties are accepted on input, as the reference broker
 * does, but never echoed: what the broker writes always conforms to the schema.
 */
export function knownProperties(value: unknown, type: string): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const record = value as Record<string, unknown>;
  const subtypes = xmlShapes.kinds[type];
  const parsed = subtypes && typeof record.kind === 'string' ? parseKind(record.kind) : undefined;
  const direct = subtypes && typeof record.kind === 'string' && Object.hasOwn(subtypes, record.kind) ? subtypes[record.kind] : undefined;
  const concrete = direct ?? ((parsed && subtypes?.[kindUri(parsed.short)]) || type);
  const shape = xmlShapes.types[concrete];
  if (!shape) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(record)) {
    const property = Object.hasOwn(shape, key) ? shape[key] : undefined;
    if (property) Object.defineProperty(out, key, { value: keep(child, property), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function keep(value: unknown, shape: PropertyShape): unknown {
  if (shape.t === 'array' && Array.isArray(value)) return value.map((item) => keep(item, shape.items ?? { t: 'string' }));
  if (shape.t === 'object' && shape.type) return knownProperties(value, shape.type);
  return value;
}
