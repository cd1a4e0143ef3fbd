import { BrokerError } from '../../domain/errors.js';
import { setOwn } from '../own-property.js';

/** Limits on any decoded document, whatever its format: far above any real request. */
export const DOCUMENT_LIMITS = { maxDepth: 32, maxNodes: 20_000 } as const;

/**
 * Brings a decoded value to the one form all three codecs agree on: properties holding null and
 * empty arrays are dropped (XML cannot tell them from absent ones, and the reference broker never
 * sends them). Refuses documents nested deeper or larger than DOCUMENT_LIMITS.
 */
export function canonicalValue(value: unknown): unknown {
  let nodes = 0;
  const walk = (node: unknown, depth: number): unknown => {
    if (++nodes > DOCUMENT_LIMITS.maxNodes) {
      throw new BrokerError('document-too-complex', { detail: `The document has more than ${DOCUMENT_LIMITS.maxNodes} values` });
    }
    if (node === null || typeof node !== 'object') return node;
    if (depth >= DOCUMENT_LIMITS.maxDepth) {
      throw new BrokerError('document-too-complex', { detail: `The document is nested more than ${DOCUMENT_LIMITS.maxDepth} levels deep` });
    }
    if (Array.isArray(node)) return node.map((item) => walk(item, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(node)) {
      if (child === null || child === undefined) continue;
      if (Array.isArray(child) && child.length === 0) continue;
      setOwn(out, key, walk(child, depth + 1));
    }
    return out;
  };
  return walk(value, 0);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes UTF-8 strictly (invalid bytes are an error, not U+FFFD) and drops a byte order mark. */
export function decodeUtf8(bytes: Uint8Array): string {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (cause) {
    throw new BrokerError('invalid-encoding', { detail: 'The request body is not valid UTF-8', cause });
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
