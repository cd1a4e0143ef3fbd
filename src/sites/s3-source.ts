// S3 data for the downloader (sites/stage-files.ts), through the AWS SDK's S3 client (SigV4 signing,
// pagination and S3's error shapes are the SDK's; a hand-written client would redo all three), with
// the site's credentials for the endpoint, which reach the downloader on its stdin only.
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import type { EgressPolicy } from '../domain/egress-policy.js';
import { checkLiteral, EgressRefused, guardedLookup } from './egress-guard.js';

/** A site's credentials for one S3 endpoint (the sites file's `s3`), as the downloader gets them on stdin. */
export interface S3Credential { endpoint: string; region?: string; accessKeyId: string; secretAccessKey: string }

/** An S3 data resource: the endpoint, the bucket and an object (none: every object of the bucket). */
export interface S3Source { endpoint: string; bucket: string; object?: string }

/** One object to fetch and where it goes. */
export interface S3Object { label: string; bucket: string; key: string; path: string }

/** Endpoints compared as origins with their path, without a trailing slash, case-insensitively. */
export const sameEndpoint = (a: string, b: string): boolean => a.replace(/\/+$/, '').toLowerCase() === b.replace(/\/+$/, '').toLowerCase();

/** A file name per key segment that stays inside the bucket's directory. */
const safeSegment = (segment: string): string => {
  const cleaned = segment.replace(/[^A-Za-z0-9._-]/g, '_');
  return cleaned === '.' || cleaned === '..' || cleaned === '' ? `_${cleaned}` : cleaned;
};

/**
 * A client for the endpoint under the egress policy: an address in the endpoint is checked before
 * anything is sent, a name on every connection (the agents' lookup), and the SDK follows no
 * redirects. Path-style addressing (`endpoint/bucket/key`), as S3-compatible stores serve.
 */
export function s3ClientFor(endpoint: string, policy: EgressPolicy, credential: S3Credential | undefined): S3Client {
  const url = new URL(endpoint);
  if (!/^https?:$/.test(url.protocol)) throw new Error(`the S3 endpoint ${endpoint} is not an http(s) URL`);
  checkLiteral(policy, url);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const lookup = guardedLookup(policy, port);
  return new S3Client({
    endpoint: url.href.replace(/\/+$/, ''),
    region: credential?.region ?? 'us-east-1',
    forcePathStyle: true,
    maxAttempts: 2,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Without credentials for the endpoint, requests go unsigned (a public bucket).
    ...(credential
      ? { credentials: { accessKeyId: credential.accessKeyId, secretAccessKey: credential.secretAccessKey } }
      : { credentials: { accessKeyId: '', secretAccessKey: '' }, signer: { sign: async (request) => request } }),
    requestHandler: { httpAgent: new HttpAgent({ lookup }), httpsAgent: new HttpsAgent({ lookup }), requestTimeout: 60_000 },
  });
}

/** What went wrong, in S3's words where S3 said something, never with a credential. */
export function describeS3Error(label: string, source: S3Source, error: unknown): Error {
  if (error instanceof EgressRefused || (error as { code?: string }).code === 'EEGRESS') {
    return new Error(`${label}: ${source.endpoint} is refused by the site's egress policy: ${(error as Error).message}`);
  }
  if (error instanceof S3ServiceException) {
    return new Error(`${label}: S3 at ${source.endpoint} answered ${error.$metadata.httpStatusCode ?? '?'} ${error.name} for ${source.bucket}${source.object ? `/${source.object}` : ''}`);
  }
  return new Error(`${label}: S3 at ${source.endpoint}: ${(error as Error).message}`);
}

/** The objects to fetch: the one named, or every object of the bucket as a directory (keys' slashes as folders). */
export async function s3Objects(client: S3Client, label: string, source: S3Source, path: string): Promise<S3Object[]> {
  if (source.object) return [{ label, bucket: source.bucket, key: source.object, path }];
  const objects: S3Object[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: source.bucket, ContinuationToken: token }));
    for (const entry of page.Contents ?? []) {
      if (!entry.Key || entry.Key.endsWith('/')) continue; // a folder marker
      const segments = entry.Key.split('/').filter((s) => s !== '').map(safeSegment);
      objects.push({ label: `${label}/${segments.join('/')}`, bucket: source.bucket, key: entry.Key, path: join(path, ...segments) });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects;
}

/** One object's bytes and announced size. */
export async function openS3Object(client: S3Client, object: S3Object): Promise<{ stream: Readable; size: number }> {
  const answer = await client.send(new GetObjectCommand({ Bucket: object.bucket, Key: object.key }));
  if (!answer.Body) throw new Error(`${object.label}: S3 sent no body`);
  return { stream: answer.Body as Readable, size: answer.ContentLength ?? NaN };
}
