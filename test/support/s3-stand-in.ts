import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the stand-in saw: each request, the access key it was signed with, and whether its signature held. */
export interface S3Seen { method: string; url: string; accessKeyId?: string; signatureOk: boolean }

export interface S3StandIn {
  endpoint: string;
  seen: S3Seen[];
  close: () => Promise<void>;
}

const encode = (text: string): string => encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const hmac = (key: Buffer | string, text: string): Buffer => createHmac('sha256', key).update(text).digest();
const escapeXml = (text: string): string => text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Checks an AWS Signature Version 4 `Authorization` header as S3 does: the canonical request is
 * rebuilt from the method, the path as sent, the sorted query and the signed headers, and signed
 * with the secret key of the access key named. Only what the header says was signed is used.
 */
function signatureHolds(req: IncomingMessage, keys: Record<string, string>): { accessKeyId?: string; ok: boolean } {
  const header = req.headers.authorization ?? '';
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(header);
  if (!match) return { ok: false };
  const [, accessKeyId, day, region, signedHeaders, signature] = match as unknown as [string, string, string, string, string, string];
  const secret = keys[accessKeyId];
  if (!secret) return { accessKeyId, ok: false };
  const [path, query = ''] = (req.url ?? '/').split('?') as [string, string?];
  const canonicalQuery = query.split('&').filter(Boolean)
    .map((pair) => { const [k, v = ''] = pair.split('=') as [string, string?]; return [encode(decodeURIComponent(k)), encode(decodeURIComponent(v))] as const; })
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`).join('&');
  const names = signedHeaders.split(';');
  const canonicalHeaders = names.map((name) => `${name}:${String(req.headers[name] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const payloadHash = String(req.headers['x-amz-content-sha256'] ?? 'UNSIGNED-PAYLOAD');
  const canonical = [req.method, path, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${day}/${region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', String(req.headers['x-amz-date'] ?? ''), scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), 's3'), 'aws4_request');
  return { accessKeyId, ok: hmac(key, toSign).toString('hex') === signature };
}

const s3Error = (res: ServerResponse, status: number, code: string, message: string): void => {
  res.writeHead(status, { 'content-type': 'application/xml' })
    .end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error>`);
};

/**
 * A STAND-IN for an S3-compatible object store, speaking the REST shapes the AWS SDK's S3 client
 * uses for reading (path-style): ListObjectsV2 (`GET /bucket?list-type=2`, two keys a page, so that
 * continuation is exercised) and GetObject (`GET /bucket/key`), with S3's XML errors. Every request
 * must carry a valid SigV4 signature made with one of `keys` (access key id -> secret key).
 */
export async function startS3StandIn(buckets: Record<string, Record<string, string>>, keys: Record<string, string>, options: { delayMs?: (key: string) => number } = {}): Promise<S3StandIn> {
  const seen: S3Seen[] = [];
  const server: Server = createServer((req, res) => {
    const signed = signatureHolds(req, keys);
    seen.push({ method: req.method ?? '', url: req.url ?? '', ...(signed.accessKeyId ? { accessKeyId: signed.accessKeyId } : {}), signatureOk: signed.ok });
    req.resume();
    if (!signed.ok) return s3Error(res, 403, signed.accessKeyId && keys[signed.accessKeyId] ? 'SignatureDoesNotMatch' : 'InvalidAccessKeyId', 'The request signature we calculated does not match the signature you provided.');
    const url = new URL(req.url ?? '/', 'http://s3.stand-in');
    const [, bucketName = '', ...rest] = url.pathname.split('/');
    const bucket = buckets[decodeURIComponent(bucketName)];
    if (req.method !== 'GET') return s3Error(res, 405, 'MethodNotAllowed', 'Only reads are served');
    if (!bucket) return s3Error(res, 404, 'NoSuchBucket', 'The specified bucket does not exist');
    if (rest.length === 0 || (rest.length === 1 && rest[0] === '')) {
      if (url.searchParams.get('list-type') !== '2') return s3Error(res, 400, 'InvalidArgument', 'Only ListObjectsV2 is served');
      const all = Object.keys(bucket).sort();
      const from = Number(url.searchParams.get('continuation-token') ?? '0');
      const page = all.slice(from, from + 2);
      const more = from + 2 < all.length;
      const contents = page.map((key) => `<Contents><Key>${escapeXml(key)}</Key><Size>${Buffer.byteLength(bucket[key]!)}</Size><StorageClass>STANDARD</StorageClass></Contents>`).join('');
      return void res.writeHead(200, { 'content-type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${escapeXml(bucketName)}</Name><KeyCount>${page.length}</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>${more}</IsTruncated>${more ? `<NextContinuationToken>${from + 2}</NextContinuationToken>` : ''}${contents}</ListBucketResult>`);
    }
    const key = rest.map(decodeURIComponent).join('/');
    const body = bucket[key];
    if (body === undefined) return s3Error(res, 404, 'NoSuchKey', 'The specified key does not exist.');
    const delay = options.delayMs?.(key) ?? 0;
    if (delay > 0) return void setTimeout(() => res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(body) }).end(body), delay);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((done) => server.close(() => done())),
  };
}
