// What one data resource means in files to fetch: a URL as it is, the members of a WebDAV
// collection, the replicas Rucio lists for a DID, or the `#this` link of a DataLink service. Runs
// inside the downloader (sites/stage-files.ts); every request goes through the egress guard.
import type { IncomingMessage } from 'node:http';
import { basename, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { EgressPolicy } from '../domain/egress-policy.js';
import { readDataLinkTable, thisLink } from './datalink-table.js';
import { EgressRefused, guardedRequest, type GuardedRequest } from './egress-guard.js';
import type { S3Credential } from './s3-source.js';
import { PROPFIND_BODY, readDavListing } from './webdav-listing.js';

export interface Checksum { type: string; value: string }

/** A data resource as the downloader is given it (the plan file). */
export interface SourceItem {
  name: string;
  url: string;
  path: string;
  checksum?: Checksum;
  egress?: EgressPolicy;
  /** How `url` is read: absent, fetched as it is (a WebDAV collection, ending in `/`, as its files). */
  via?: 'rucio' | 'datalink' | 's3';
  /** For `via: s3`, `url` being the S3 endpoint: the bucket and the object (none: the whole bucket). */
  s3?: { bucket: string; object?: string };
  /** For `via: rucio`, `url` being Rucio's REST endpoint: the DID and its type (FILE, DATASET, CONTAINER). */
  rucio?: { scope: string; name: string; type?: string };
  /** SKAO replicas by RSE: the one at the most preferred RSE is fetched instead of `url`. */
  replicas?: Array<{ rse: string; url: string }>;
  /** Storage element (RSE) names in the order the site prefers them (its own first). */
  prefer?: string[];
}

/** A bearer token and the hosts that may see it (case-insensitive host names); the site's S3 credentials by endpoint. */
export interface StagingSecrets { bearer?: string; hosts?: string[]; s3?: S3Credential[] }

/** One file to fetch, and the name it is reported by; `open` when it is not fetched by URL (S3). */
export interface Fetch { label: string; url: string; path: string; checksum?: Checksum; open?: () => Promise<{ stream: Readable; size: number }> }

/** The Authorization header for a URL: the token only for the listed hosts (each redirect's host is asked again). */
export function authorizationFor(url: string, secrets: StagingSecrets): Record<string, string> {
  if (!secrets.bearer) return {};
  const host = new URL(url).hostname.toLowerCase();
  return (secrets.hosts ?? []).some((allowed) => allowed.toLowerCase() === host) ? { authorization: `Bearer ${secrets.bearer}` } : {};
}

/** WebDAV's schemes are HTTP's: `davs://` is https, `dav://` http. */
export const overHttp = (url: string): string => url.replace(/^dav(s?):\/\//i, (_all, s: string) => `http${s.toLowerCase()}://`);

/** A request under the egress policy, a refusal named with the resource and URL. */
export async function request(item: SourceItem, url: string, secrets: StagingSecrets, extra: Record<string, string> = {}, options: GuardedRequest = {}): Promise<IncomingMessage> {
  return guardedRequest(overHttp(url), item.egress ?? { allow: [] }, (hop) => ({ ...authorizationFor(hop, secrets), ...extra }), options).catch((error: Error) => {
    throw error instanceof EgressRefused ? new Error(`${item.name}: ${url} is refused by the site's egress policy: ${error.message}`) : error;
  });
}

const MAX_LISTING_BYTES = 16 * 1024 * 1024;

/** A listing's body as text, refusing a status outside 2xx (or 207) and more than 16 MiB. */
async function bodyText(item: SourceItem, url: string, response: IncomingMessage): Promise<string> {
  const status = response.statusCode ?? 0;
  if (status < 200 || status > 299) {
    response.resume();
    throw new Error(`${item.name}: ${url} answered ${status}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response) {
    size += (chunk as Buffer).length;
    if (size > MAX_LISTING_BYTES) { response.destroy(); throw new Error(`${item.name}: the listing at ${url} is more than ${MAX_LISTING_BYTES} bytes`); }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A file name that stays inside its directory. */
const safeName = (name: string): string => {
  const cleaned = name.replace(/[^A-Za-z0-9._-]/g, '_');
  return cleaned === '.' || cleaned === '..' || cleaned === '' ? `_${cleaned}` : cleaned;
};

/** The files of a WebDAV collection (one level; sub-collections are not followed). */
async function davCollection(item: SourceItem, secrets: StagingSecrets): Promise<Fetch[]> {
  const response = await request(item, item.url, secrets, { depth: '1', 'content-type': 'application/xml' }, { method: 'PROPFIND', body: PROPFIND_BODY });
  const base = new URL(overHttp(item.url));
  const members = readDavListing(await bodyText(item, item.url, response));
  return members
    .map((member) => ({ member, at: new URL(member.href, base) }))
    .filter(({ member, at }) => !member.collection && at.pathname !== base.pathname)
    .map(({ at }) => {
      const name = safeName(decodeURIComponent(basename(at.pathname)));
      const url = `${item.url.slice(0, item.url.indexOf('://'))}://${at.host}${at.pathname}`;
      return { label: `${item.name}/${name}`, url, path: join(item.path, name) };
    });
}

/** Where an RSE stands in the site's preference: its own first, unknown ones last. */
const rankOf = (item: SourceItem) => (rse: string | undefined): number => {
  const at = rse ? (item.prefer ?? []).indexOf(rse) : -1;
  return at < 0 ? Number.MAX_SAFE_INTEGER : at;
};

interface RucioReplica { scope?: string; name?: string; bytes?: number; adler32?: string; md5?: string; pfns?: Record<string, { rse?: string; priority?: number }> }

/**
 * The files of a Rucio DID (a DATASET or CONTAINER expanded by Rucio), each from the replica at
 * the most preferred RSE, else Rucio's first by priority, over davs/https (or dav/http); checked
 * against Rucio's adler32, else its md5. A FILE lands at the path, anything else as a directory.
 */
async function rucioReplicas(item: SourceItem, secrets: StagingSecrets): Promise<Fetch[]> {
  const did = item.rucio!;
  const listUrl = `${item.url.replace(/\/+$/, '')}/replicas/list`;
  // Rucio reads its own header for tokens; it goes only where the bearer may go.
  const token = authorizationFor(overHttp(listUrl), secrets).authorization?.slice('Bearer '.length);
  const response = await request(item, listUrl, secrets, {
    'content-type': 'application/json', accept: 'application/x-json-stream', ...(token ? { 'x-rucio-auth-token': token } : {}),
  }, { method: 'POST', body: JSON.stringify({ dids: [{ scope: did.scope, name: did.name }], schemes: ['davs', 'https', 'dav', 'http'] }) });
  const text = await bodyText(item, listUrl, response);
  const replicas = text.split('\n').filter((line) => line.trim()).map((line) => {
    try { return JSON.parse(line) as RucioReplica; } catch { throw new Error(`${item.name}: Rucio at ${listUrl} answered a line that is not JSON`); }
  });
  if (replicas.length === 0) throw new Error(`${item.name}: Rucio lists no replica of ${did.scope}:${did.name}`);
  const single = (did.type ?? 'FILE').toUpperCase() === 'FILE';
  if (single && replicas.length > 1) throw new Error(`${item.name}: ${did.scope}:${did.name} is a FILE, but Rucio lists ${replicas.length} files`);
  const rank = rankOf(item);
  return replicas.map((replica) => {
    const file = `${replica.scope ?? did.scope}:${replica.name ?? '?'}`;
    const pfns = Object.entries(replica.pfns ?? {})
      .filter(([pfn]) => /^(davs?|https?):\/\//i.test(pfn))
      .sort(([, a], [, b]) => rank(a.rse) - rank(b.rse) || (a.priority ?? 0) - (b.priority ?? 0));
    const chosen = pfns[0]?.[0];
    if (!chosen) throw new Error(`${item.name}: Rucio lists no replica of ${file} reachable over davs, https, dav or http`);
    const checksum = replica.adler32 ? { type: 'adler32', value: replica.adler32 } : replica.md5 ? { type: 'md5', value: replica.md5 } : undefined;
    const name = safeName(replica.name ?? 'file');
    return { label: single ? item.name : `${item.name}/${name}`, url: chosen, path: single ? item.path : join(item.path, name), ...(checksum ? { checksum } : {}) };
  });
}

/** A DataLink service's `#this` link: the data itself. */
async function dataLink(item: SourceItem, secrets: StagingSecrets): Promise<Fetch[]> {
  const response = await request(item, item.url, secrets, { accept: 'application/x-votable+xml, text/xml' });
  const text = await bodyText(item, item.url, response);
  let rows: ReturnType<typeof readDataLinkTable>;
  try { rows = readDataLinkTable(text); } catch (error) { throw new Error(`${item.name}: ${item.url}: ${(error as Error).message}`); }
  const link = thisLink(rows);
  if (!link?.access_url) throw new Error(`${item.name}: the DataLink answer of ${item.url} has no #this link with an access_url`);
  return [{ label: item.name, url: link.access_url, path: item.path, ...(item.checksum ? { checksum: item.checksum } : {}) }];
}

/** The object, or every object of the bucket, signed with the site's credentials for the endpoint. */
async function s3Sources(item: SourceItem, secrets: StagingSecrets): Promise<Fetch[]> {
  const source = { endpoint: item.url, bucket: item.s3?.bucket ?? '', ...(item.s3?.object ? { object: item.s3.object } : {}) };
  // Loaded only for S3 data: the SDK is large, and most stagings never need it.
  const { describeS3Error, openS3Object, s3ClientFor, s3Objects, sameEndpoint } = await import('./s3-source.js');
  try {
    const client = s3ClientFor(item.url, item.egress ?? { allow: [] }, (secrets.s3 ?? []).find((c) => sameEndpoint(c.endpoint, item.url)));
    const objects = await s3Objects(client, item.name, source, item.path);
    if (objects.length === 0) throw new Error(`${item.name}: the bucket ${source.bucket} at ${item.url} holds no objects`);
    return objects.map((object) => ({
      label: object.label, url: `s3://${object.bucket}/${object.key}`, path: object.path,
      ...(item.checksum && source.object ? { checksum: item.checksum } : {}),
      open: () => openS3Object(client, object).catch((error: unknown) => { throw describeS3Error(object.label, { ...source, object: object.key }, error); }),
    }));
  } catch (error) {
    throw (error as Error).message.startsWith(`${item.name}: `) ? error : describeS3Error(item.name, source, error);
  }
}

/** The files a data resource stands for. */
export async function resolveSources(item: SourceItem, secrets: StagingSecrets): Promise<Fetch[]> {
  if (item.via === 's3') return s3Sources(item, secrets);
  if (item.via === 'rucio') return rucioReplicas(item, secrets);
  if (item.via === 'datalink') return dataLink(item, secrets);
  if (/^davs?:\/\/.*\/$/i.test(item.url)) return davCollection(item, secrets);
  const rank = rankOf(item);
  // The replica at the site's own (or best) storage element; ties keep the request's order, nearest first.
  const replica = (item.replicas ?? []).map((r, i) => ({ ...r, i })).sort((a, b) => rank(a.rse) - rank(b.rse) || a.i - b.i)[0];
  const url = replica && rank(replica.rse) !== Number.MAX_SAFE_INTEGER ? replica.url : item.url;
  return [{ label: item.name, url, path: item.path, ...(item.checksum ? { checksum: item.checksum } : {}) }];
}
