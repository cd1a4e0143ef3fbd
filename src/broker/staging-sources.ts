import type { StagingItem } from './executor.js';

type Doc = Record<string, unknown>;
const isDoc = (value: unknown): value is Doc => typeof value === 'object' && value !== null && !Array.isArray(value);
const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** The name a data resource is staged under: its own name, else its uuid. */
export const stagingName = (data: Doc): string =>
  String((data.meta as Doc | undefined)?.name ?? (data.meta as Doc | undefined)?.uuid ?? 'data');

/** URLs the downloader fetches as they are. */
const FETCHABLE = /^(https?:\/\/|davs?:\/\/|file:\/\/\/)/i;

/** A DataLink service, by ObsCore's `access_format` or DataLink's `content_type`. */
const isDataLinkType = (type: string | undefined): boolean => /content=datalink/i.test(type ?? '');

/**
 * What the downloader is given for one data resource of a session, or why this site cannot stage
 * it: a URL (SKAO replicas, a simple resource's location, ObsCore's access_url), a Rucio DID
 * listed by its REST endpoint, or a DataLink service whose `#this` link is followed.
 */
export function stagingItemOf(data: Doc, maxBytes: number): Omit<StagingItem, 'maxBytes'> | string {
  const name = stagingName(data);
  const skao = isDoc(data.skao) ? data.skao : undefined;
  const checksum = skao && isDoc(skao.checksum) && str(skao.checksum.type) && str(skao.checksum.value)
    ? { type: String(skao.checksum.type), value: String(skao.checksum.value) } : undefined;
  const extras = {
    ...(checksum ? { checksum } : {}),
    ...(skao && typeof skao.datasize === 'number' && skao.datasize >= 0 && skao.datasize <= maxBytes ? { expectedBytes: skao.datasize } : {}),
  };
  // An S3 data resource: endpoint, bucket and object (blank: the whole bucket); `template` is not needed with path-style requests.
  if (str(data.bucket) || (str(data.endpoint) && !isDoc(data.rucio))) {
    const endpoint = str(data.endpoint);
    const bucket = str(data.bucket);
    if (!endpoint || !/^https?:\/\//i.test(endpoint)) return `data [${name}] names no http(s) S3 endpoint`;
    if (!bucket) return `data [${name}] names no S3 bucket`;
    return { name, url: endpoint, via: 's3', s3: { bucket, ...(str(data.object) ? { object: String(data.object) } : {}) }, ...extras };
  }
  const rucio = isDoc(data.rucio) ? data.rucio : undefined;
  if (rucio) {
    const endpoint = str(rucio.endpoint);
    const scope = str(rucio.scope);
    const object = str(rucio.object);
    if (!endpoint || !/^https?:\/\//i.test(endpoint)) return `data [${name}] names no http(s) Rucio endpoint`;
    if (!scope || !object) return `data [${name}] names no Rucio scope and object`;
    return { name, url: endpoint, via: 'rucio', rucio: { scope, name: object, ...(str(rucio.type) ? { type: String(rucio.type) } : {}) }, ...extras };
  }
  const ivoa = isDoc(data.ivoa) ? data.ivoa : undefined;
  const obscore = ivoa && isDoc(ivoa.obscore) ? ivoa.obscore : undefined;
  const datalink = ivoa && isDoc(ivoa.datalink) ? ivoa.datalink : undefined;
  // A DataLink row that is the data itself is fetched; one pointing at a DataLink service is followed.
  if (datalink && str(datalink.access_url)) {
    const url = String(datalink.access_url);
    if (datalink.semantics === '#this' && !isDataLinkType(str(datalink.content_type))) return { name, url, ...extras };
    return { name, url, via: 'datalink', ...extras };
  }
  if (obscore && str(obscore.access_url) && isDataLinkType(str(obscore.access_format))) {
    return { name, url: String(obscore.access_url), via: 'datalink', ...extras };
  }
  const replicaDocs = skao && Array.isArray(skao.replicas) ? skao.replicas.filter(isDoc) : [];
  const replicas = replicaDocs.map((r) => String(r.dataurl ?? ''));
  const url = [str(data.location) ?? '', str(obscore?.access_url) ?? '', ...replicas].find((u) => FETCHABLE.test(u));
  if (!url) return `data [${name}] has no http(s), dav(s) or file:/// location this site can fetch`;
  const byRse = replicaDocs.flatMap((r) => (str(r.rsename) && FETCHABLE.test(String(r.dataurl ?? '')) ? [{ rse: String(r.rsename), url: String(r.dataurl) }] : []));
  return { name, url, ...(byRse.length > 1 ? { replicas: byRse } : {}), ...extras };
}

/** Every data resource of a session document as the downloader is given it, or the first reason one cannot be. */
export function stagingItemsOf(document: Doc, maxBytes: number): StagingItem[] | string {
  const items: StagingItem[] = [];
  for (const data of Array.isArray(document.data) ? document.data.filter(isDoc) : []) {
    const item = stagingItemOf(data, maxBytes);
    if (typeof item === 'string') return item;
    items.push({ ...item, maxBytes });
  }
  return items;
}
