import { XMLParser } from 'fast-xml-parser';

/** One member of a WebDAV collection: its href (as the server wrote it) and whether it is a collection itself. */
export interface DavMember { href: string; collection: boolean; bytes?: number }

const parser = new XMLParser({ removeNSPrefix: true, ignoreAttributes: true, parseTagValue: false, isArray: (name) => ['response', 'propstat'].includes(name) });

type Node = Record<string, unknown>;
const isNode = (value: unknown): value is Node => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The members of a PROPFIND (Depth: 1) answer, a `multistatus` document (RFC 4918, 13), read with a
 * real XML parser whatever namespace prefixes the server chose. The collection itself is among the
 * responses; the caller leaves it out by its href.
 */
export function readDavListing(xml: string): DavMember[] {
  const doc = parser.parse(xml) as Node;
  const multistatus = doc.multistatus;
  if (!isNode(multistatus)) throw new Error('the PROPFIND answer is not a WebDAV multistatus document');
  const responses = Array.isArray(multistatus.response) ? multistatus.response.filter(isNode) : [];
  return responses.flatMap((response) => {
    if (typeof response.href !== 'string') return [];
    const props = (Array.isArray(response.propstat) ? response.propstat.filter(isNode) : [])
      .filter((propstat) => typeof propstat.status !== 'string' || / 200 /.test(propstat.status))
      .map((propstat) => (isNode(propstat.prop) ? propstat.prop : {}));
    const collection = props.some((prop) => isNode(prop.resourcetype) && 'collection' in prop.resourcetype);
    const length = props.map((prop) => Number(prop.getcontentlength)).find((n) => Number.isFinite(n));
    return [{ href: response.href.trim(), collection, ...(length !== undefined ? { bytes: length } : {}) }];
  });
}

/** The PROPFIND body that asks for what readDavListing reads. */
export const PROPFIND_BODY = '<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/></D:prop></D:propfind>';
