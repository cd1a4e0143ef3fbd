import { isMap, isScalar, isSeq, parseAllDocuments, stringify, type Node } from 'yaml';
import { DOCUMENT_LIMITS } from './canonical-value.js';
import { BrokerError } from '../../domain/errors.js';

const PARSE_OPTIONS = {
  version: '1.2',
  schema: 'core',
  // The parser's own duplicate-key check compares every key with every other of its mapping (90,000
  // keys took minutes): refuseDuplicateKeys does it with a set per mapping.
  uniqueKeys: false,
  strict: true,
  prettyErrors: false,
  logLevel: 'silent',
} as const;

/** Aliases are legal YAML, but a handful is all a real request needs; more is an alias bomb. */
const MAX_ALIAS_COUNT = 50;

/**
 * YAML 1.2 with the core schema: `YES`, `NO`, `on` and `off` stay strings. Duplicate keys, several
 * documents in one body, unknown tags and alias bombs are refused.
 */
export function decodeYaml(text: string): unknown {
  const docs = parseAllDocuments(text, PARSE_OPTIONS);
  if (!Array.isArray(docs) || docs.length !== 1) {
    throw new BrokerError('malformed-body', { detail: 'The body must hold exactly one YAML document' });
  }
  const doc = docs[0]!;
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) {
    // The parser records a stack overflow on absurd nesting as an error of its own.
    if (/call stack/i.test(problem.message)) throw new BrokerError('document-too-complex', { detail: 'The YAML document is nested too deeply' });
    throw new BrokerError('malformed-body', { detail: `The body is not valid YAML: ${problem.message.split('\n')[0]}` });
  }
  refuseDuplicateKeys(doc.contents, 0);
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (cause) {
    if (cause instanceof RangeError) throw new BrokerError('document-too-complex', { detail: 'The YAML document is nested too deeply', cause });
    throw new BrokerError('document-too-complex', { detail: `The YAML document is refused: ${(cause as Error).message}`, cause });
  }
}

/** Duplicate keys (equal scalar values, as the parser's own check compares them) are refused, in one pass. */
function refuseDuplicateKeys(node: unknown, depth: number): void {
  if (depth > DOCUMENT_LIMITS.maxDepth) throw new BrokerError('document-too-complex', { detail: `The document is nested more than ${DOCUMENT_LIMITS.maxDepth} levels deep` });
  if (isMap(node)) {
    const seen = new Set<unknown>();
    for (const pair of node.items) {
      const key: unknown = isScalar(pair.key) ? pair.key.value : pair.key;
      if (seen.has(key)) throw new BrokerError('malformed-body', { detail: `The body is not valid YAML: Map keys must be unique ("${String(key).slice(0, 100)}" is repeated)` });
      seen.add(key);
      refuseDuplicateKeys(pair.value, depth + 1);
    }
  } else if (isSeq(node)) {
    for (const item of node.items) refuseDuplicateKeys(item as Node, depth + 1);
  }
}

/** Every string is double-quoted, so YAML 1.1 readers do not take `YES` or `NO` for booleans. */
export function encodeYaml(value: unknown): string {
  return stringify(value, { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN', lineWidth: 0, aliasDuplicateObjects: false });
}
