import { canonicalValue, decodeUtf8 } from './canonical-value.js';
import type { DocumentType, Format } from './document-types.js';
import { decodeJson, encodeJson } from './json-codec.js';
import { decodeXml, encodeXml } from './xml-codec.js';
import { decodeYaml, encodeYaml } from './yaml-codec.js';
import { scanDocument } from './document-scan.js';
import { BrokerError } from '../../domain/errors.js';

/**
 * Bytes in any of the three formats -> the one canonical value every later step sees. Whatever
 * the format, the same document decodes to the same value.
 */
export function decodeBody(bytes: Uint8Array, format: Format, type: DocumentType): unknown {
  const text = decodeUtf8(bytes);
  if (text.trim() === '') throw new BrokerError('malformed-body', { detail: 'The request body is empty' });
  scanDocument(text, format);
  let value: unknown;
  try {
    value = format === 'json' ? decodeJson(text) : format === 'xml' ? decodeXml(text, type) : decodeYaml(text);
  } catch (cause) {
    if (cause instanceof RangeError) {
      throw new BrokerError('document-too-complex', { detail: 'The document is nested too deeply', cause });
    }
    throw cause;
  }
  return canonicalValue(value);
}

export function encodeBody(value: unknown, format: Format, type: DocumentType): string {
  if (format === 'json') return encodeJson(value);
  if (format === 'xml') return encodeXml(value, type);
  return encodeYaml(value);
}

export type { DocumentType, Format };
