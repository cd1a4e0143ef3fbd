import { BrokerError } from '../../domain/errors.js';
import { DOCUMENT_LIMITS } from './canonical-value.js';
import type { Format } from './document-types.js';

/**
 * A pass over the text before any parser sees it, one character at a time, that counts what could
 * become keys and values and how deeply brackets and elements nest, and refuses a body past the
 * limits in milliseconds. The parsers' own cost is not linear in every case (the YAML parser's
 * duplicate-key check grew with the square of the keys: 90,000 keys took minutes), so they must
 * never be handed more than the limits allow. The counts are upper bounds: a value is counted
 * exactly afterwards (canonicalValue); here a body is refused only when even the bound is far past
 * the limit, so that no document within the limits is refused for text that merely looks like
 * structure (a colon in a long string).
 */
const MAX_TOKENS = DOCUMENT_LIMITS.maxNodes * 2;
const MAX_NESTING = DOCUMENT_LIMITS.maxDepth * 2;

export function scanDocument(text: string, format: Format): void {
  const { tokens, depth } = format === 'json' ? scanJson(text) : format === 'xml' ? scanXml(text) : scanYaml(text);
  if (tokens > MAX_TOKENS) {
    throw new BrokerError('document-too-complex', { detail: `The document has more than ${DOCUMENT_LIMITS.maxNodes} values (or keys)` });
  }
  if (depth > MAX_NESTING) {
    throw new BrokerError('document-too-complex', { detail: `The document is nested more than ${DOCUMENT_LIMITS.maxDepth} levels deep` });
  }
}

interface Scan { tokens: number; depth: number }

const QUOTE = 0x22, BACKSLASH = 0x5c, COLON = 0x3a, COMMA = 0x2c, OPEN_BRACE = 0x7b, OPEN_BRACKET = 0x5b,
  CLOSE_BRACE = 0x7d, CLOSE_BRACKET = 0x5d, LT = 0x3c, GT = 0x3e, SLASH = 0x2f, EQUALS = 0x3d, APOSTROPHE = 0x27,
  DASH = 0x2d, NEWLINE = 0x0a, SPACE = 0x20, TAB = 0x09, CR = 0x0d, BANG = 0x21, QUESTION = 0x3f;

const blank = (code: number): boolean => code === SPACE || code === TAB || code === NEWLINE || code === CR || Number.isNaN(code);

/** JSON: exact, since strings are unambiguous: every `:` is a key, every `,` another item, brackets nest. */
function scanJson(text: string): Scan {
  let tokens = 1, depth = 0, deepest = 0, inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === BACKSLASH) i++;
      else if (code === QUOTE) inString = false;
      continue;
    }
    if (code === QUOTE) inString = true;
    else if (code === COLON || code === COMMA) tokens++;
    else if (code === OPEN_BRACE || code === OPEN_BRACKET) { tokens++; if (++depth > deepest) deepest = depth; if (deepest > MAX_NESTING) break; }
    else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) depth--;
    if (tokens > MAX_TOKENS) break;
  }
  return { tokens, depth: deepest };
}

/**
 * YAML (and JSON read as YAML): a mapping indicator (`: ` or a colon ending a line or following
 * a quote), a block sequence entry (`- `), a flow separator or bracket each count one; flow
 * brackets nest. Quoted text may be counted too: a bound, never less than the truth.
 */
function scanYaml(text: string): Scan {
  let tokens = 1, depth = 0, deepest = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === COLON) {
      const before = text.charCodeAt(i - 1);
      if (blank(text.charCodeAt(i + 1)) || before === QUOTE || before === APOSTROPHE || text.charCodeAt(i + 1) === QUOTE) tokens++;
    } else if (code === DASH) {
      if (blank(text.charCodeAt(i + 1)) && (i === 0 || blank(text.charCodeAt(i - 1)) || text.charCodeAt(i - 1) === DASH)) tokens++;
    } else if (code === COMMA) tokens++;
    else if (code === OPEN_BRACE || code === OPEN_BRACKET) { tokens++; if (++depth > deepest) deepest = depth; }
    else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) depth = Math.max(0, depth - 1);
    else if (code === NEWLINE) {
      // Block nesting shows as indentation: two columns a level is the least a level can take.
      let indent = 0;
      while (text.charCodeAt(i + 1 + indent) === SPACE) indent++;
      if (indent / 2 > deepest) deepest = Math.floor(indent / 2);
    }
    if (tokens > MAX_TOKENS || deepest > MAX_NESTING) break;
  }
  return { tokens, depth: deepest };
}

/** XML: each start tag is a value and nests, each attribute another; comments and declarations are skipped. */
function scanXml(text: string): Scan {
  let tokens = 0, depth = 0, deepest = 0;
  for (let i = text.indexOf('<'); i !== -1 && i < text.length; i = text.indexOf('<', i + 1)) {
    const next = text.charCodeAt(i + 1);
    if (next === SLASH) { depth--; continue; }
    if (next === BANG || next === QUESTION) continue;
    tokens++;
    if (++depth > deepest) deepest = depth;
    // To the end of the tag, outside quoted attribute values; `=` marks an attribute.
    let quote = 0, j = i + 1;
    for (; j < text.length; j++) {
      const code = text.charCodeAt(j);
      if (quote) { if (code === quote) quote = 0; continue; }
      if (code === QUOTE || code === APOSTROPHE) quote = code;
      else if (code === EQUALS) tokens++;
      else if (code === GT || code === LT) break;
    }
    if (text.charCodeAt(j) === GT && text.charCodeAt(j - 1) === SLASH) depth--;
    i = j - 1;
    if (tokens > MAX_TOKENS || deepest > MAX_NESTING) break;
  }
  return { tokens, depth: deepest };
}
