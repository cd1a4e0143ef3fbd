import { BrokerError } from '../domain/errors.js';
import type { Format } from './codecs/document-types.js';

/**
 * Content negotiation. The request's Content-Type picks the decoder; Accept (with q-values) picks
 * the response format, JSON when Accept is missing or `*\/*`, and 406 when nothing fits.
 */
const REQUEST_TYPES: Record<string, Format> = {
  'application/json': 'json',
  'text/json': 'json',
  'application/xml': 'xml',
  'text/xml': 'xml',
  'application/yaml': 'yaml',
  'application/x-yaml': 'yaml',
  'application/yml': 'yaml',
  'text/yaml': 'yaml',
  'text/x-yaml': 'yaml',
  'text/yml': 'yaml',
};

function parseMediaType(value: string): { type: string; params: Record<string, string> } {
  const [type = '', ...rest] = value.split(';');
  const params: Record<string, string> = {};
  for (const part of rest) {
    const index = part.indexOf('=');
    if (index > 0) params[part.slice(0, index).trim().toLowerCase()] = part.slice(index + 1).trim().replace(/^"|"$/g, '');
  }
  return { type: type.trim().toLowerCase(), params };
}

/**
 * The format of a request body. A missing Content-Type is read as YAML 1.2, which reads JSON too
 * (the digest's choice for a silent client); anything unknown is a 415.
 */
export function requestFormat(contentType: string | undefined): Format {
  if (!contentType || contentType.trim() === '') return 'yaml';
  const { type, params } = parseMediaType(contentType);
  const charset = params.charset?.toLowerCase();
  if (charset && charset !== 'utf-8' && charset !== 'utf8' && charset !== 'us-ascii') {
    throw new BrokerError('unsupported-media-type', { values: { type: contentType }, detail: `Only UTF-8 bodies are accepted, not ${params.charset}` });
  }
  const format = REQUEST_TYPES[type]
    ?? (type.endsWith('+json') ? 'json' : type.endsWith('+xml') ? 'xml' : type.endsWith('+yaml') ? 'yaml' : undefined);
  if (!format) throw new BrokerError('unsupported-media-type', { values: { type } });
  return format;
}

interface Offer { mediaType: string; format: Format }

/** What we can answer in, in our order of preference (JSON first, as the schema lists it). */
const DOCUMENT_OFFERS: readonly Offer[] = [
  { mediaType: 'application/json', format: 'json' },
  { mediaType: 'application/xml', format: 'xml' },
  { mediaType: 'application/yaml', format: 'yaml' },
  { mediaType: 'text/xml', format: 'xml' },
  { mediaType: 'text/yaml', format: 'yaml' },
  { mediaType: 'application/x-yaml', format: 'yaml' },
  { mediaType: 'text/json', format: 'json' },
];

/** Problem details have their own media types; clients may ask for those or for the plain ones. */
const PROBLEM_OFFERS: readonly Offer[] = [
  { mediaType: 'application/problem+json', format: 'json' },
  { mediaType: 'application/problem+xml', format: 'xml' },
  ...DOCUMENT_OFFERS,
];

interface Range { type: string; subtype: string; q: number; order: number }

function parseAccept(accept: string): Range[] {
  const ranges: Range[] = [];
  accept.split(',').forEach((item, order) => {
    if (!item.trim()) return;
    const { type, params } = parseMediaType(item);
    const [main = '', sub = ''] = type.split('/');
    const q = params.q === undefined ? 1 : Number(params.q);
    if (!main || !sub || !Number.isFinite(q)) return;
    ranges.push({ type: main, subtype: sub, q: Math.min(Math.max(q, 0), 1), order });
  });
  return ranges;
}

/** The q a client gives a media type: that of the most specific range that matches it. */
function qualityOf(mediaType: string, ranges: readonly Range[]): number {
  const [type, subtype] = mediaType.split('/');
  let best: { specificity: number; q: number } | undefined;
  for (const range of ranges) {
    const specificity = range.type === type && range.subtype === subtype ? 3
      : range.type === type && range.subtype === '*' ? 2
        : range.type === '*' && range.subtype === '*' ? 1 : 0;
    if (specificity && (!best || specificity > best.specificity)) best = { specificity, q: range.q };
  }
  return best?.q ?? 0;
}

export interface Negotiated { format: Format; mediaType: string }

function choose(accept: string | undefined, offers: readonly Offer[]): Negotiated | undefined {
  if (!accept || accept.trim() === '') return { format: 'json', mediaType: offers[0]?.mediaType ?? 'application/json' };
  const ranges = parseAccept(accept);
  if (ranges.length === 0) return { format: 'json', mediaType: offers[0]?.mediaType ?? 'application/json' };
  let best: { offer: Offer; q: number } | undefined;
  for (const offer of offers) {
    const q = qualityOf(offer.mediaType, ranges);
    if (q > 0 && (!best || q > best.q)) best = { offer, q };
  }
  return best ? { format: best.offer.format, mediaType: best.offer.mediaType } : undefined;
}

/** The format of a response document; throws 406 when the client accepts none of ours. */
export function responseFormat(accept: string | undefined): Negotiated {
  const chosen = choose(accept, DOCUMENT_OFFERS);
  if (!chosen) throw new BrokerError('not-acceptable', { values: { accept: accept ?? '' } });
  return chosen;
}

/** The format of a problem document: never fails, falling back to JSON. */
export function problemFormat(accept: string | undefined): Negotiated {
  const chosen = choose(accept, PROBLEM_OFFERS);
  if (!chosen) return { format: 'json', mediaType: 'application/problem+json' };
  // A client that asked for plain XML/YAML gets the problem in it; JSON problems keep their own type.
  if (chosen.format === 'json') return { format: 'json', mediaType: 'application/problem+json' };
  if (chosen.format === 'xml') return { format: 'xml', mediaType: 'application/problem+xml' };
  return chosen;
}
