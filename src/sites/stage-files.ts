// Brings a session's data (http(s), or file:// under the site's allowed roots), run detached by the HTTP stager (sites/http-stager.ts) so that no
// BullMQ job is held open while big files arrive:
//   node dist/sites/stage-files.js <plan.json>
// The plan lists {name, url, path, maxBytes, checksum?}; progress and the outcome are written to
// <plan dir>/staging.json ({state: running|done|failed, reason?}) for the site worker to read.
// Its stdin holds {bearer?, hosts?}: a token sent only to those hosts (a site acting for the user).
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, realpath, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { EgressPolicy } from '../domain/egress-policy.js';
import { EgressRefused, guardedGet } from './egress-guard.js';

export interface StagingItem {
  name: string;
  url: string;
  path: string;
  maxBytes: number;
  checksum?: { type: string; value: string };
  /** Directories a `file://` URL may be read from (the site's fileRoots); none refuses `file://`. */
  fileRoots?: string[];
  /** Where http(s) data may come from (the site's egress policy); without one, the reserved ranges are refused. */
  egress?: EgressPolicy;
}

/** A bearer token and the hosts that may see it (case-insensitive host names). */
export interface StagingSecrets { bearer?: string; hosts?: string[] }

export interface StagingState { state: 'running' | 'done' | 'failed'; reason?: string; staged?: string[] }

const HASHES: Record<string, string> = { md5: 'md5', sha1: 'sha1', sha256: 'sha256', sha512: 'sha512' };

async function writeState(file: string, state: StagingState): Promise<void> {
  await writeFile(`${file}.tmp`, JSON.stringify(state));
  await rename(`${file}.tmp`, file);
}

/** The Authorization header for a URL: the token only for the listed hosts (each redirect's host is asked again). */
export function authorizationFor(url: string, secrets: StagingSecrets): Record<string, string> {
  if (!secrets.bearer) return {};
  const host = new URL(url).hostname.toLowerCase();
  return (secrets.hosts ?? []).some((allowed) => allowed.toLowerCase() === host) ? { authorization: `Bearer ${secrets.bearer}` } : {};
}

/**
 * A `file://` source, only when it lies under one of the allowed roots once every link in its
 * path is resolved (so a link inside a root cannot lead out of it).
 */
async function openLocalFile(item: StagingItem): Promise<{ stream: Readable; size: number }> {
  const asked = fileURLToPath(item.url);
  const real = await realpath(asked).catch(() => { throw new Error(`${item.name}: ${asked} does not exist`); });
  const roots = await Promise.all((item.fileRoots ?? []).map((root) => realpath(root).catch(() => undefined)));
  if (!roots.some((root) => root && (real === root || real.startsWith(`${root}${sep}`)))) {
    throw new Error(`${item.name}: ${asked} is not under a directory this site may read from`);
  }
  const info = await stat(real);
  if (!info.isFile()) throw new Error(`${item.name}: ${asked} is not a file`);
  return { stream: createReadStream(real), size: info.size };
}

async function openSource(item: StagingItem, secrets: StagingSecrets): Promise<{ stream: Readable; size: number }> {
  if (/^file:/i.test(item.url)) return openLocalFile(item);
  const response = await guardedGet(item.url, item.egress ?? { allow: [] }, (url) => authorizationFor(url, secrets)).catch((error: Error) => {
    throw error instanceof EgressRefused ? new Error(`${item.name}: ${item.url} is refused by the site's egress policy: ${error.message}`) : error;
  });
  const status = response.statusCode ?? 0;
  if (status < 200 || status > 299) {
    response.resume();
    throw new Error(`${item.name}: ${item.url} answered ${status}`);
  }
  return { stream: response, size: Number(response.headers['content-length'] ?? NaN) };
}

/** Brings one item (http(s), or file:// under the site's roots) to its path, refusing more than maxBytes and checking the checksum. */
export async function stageItem(item: StagingItem, secrets: StagingSecrets = {}): Promise<void> {
  const source = await openSource(item, secrets);
  const declared = source.size;
  if (declared > item.maxBytes) {
    source.stream.destroy();
    throw new Error(`${item.name}: ${declared} bytes is more than the ${item.maxBytes} allowed`);
  }
  const algorithm = item.checksum ? HASHES[item.checksum.type.toLowerCase()] : undefined;
  if (item.checksum && !algorithm) throw new Error(`${item.name}: checksum type ${item.checksum.type} is not supported`);
  const hash = algorithm ? createHash(algorithm) : undefined;
  let bytes = 0;
  await mkdir(dirname(item.path), { recursive: true });
  const counted = source.stream.map((chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > item.maxBytes) throw new Error(`${item.name}: more than the ${item.maxBytes} bytes allowed`);
    hash?.update(chunk);
    return chunk;
  });
  await pipeline(counted, createWriteStream(item.path));
  const digest = hash?.digest('hex');
  if (item.checksum && digest !== item.checksum.value.toLowerCase()) {
    throw new Error(`${item.name}: ${item.checksum.type} checksum ${digest} differs from the ${item.checksum.value} expected`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(planFile: string): Promise<void> {
  const stateFile = join(dirname(planFile), 'staging.json');
  const secrets = JSON.parse((await readStdin()) || '{}') as StagingSecrets;
  const items = JSON.parse(await readFile(planFile, 'utf8')) as StagingItem[];
  const staged: string[] = [];
  try {
    for (const item of items) {
      await writeState(stateFile, { state: 'running', staged });
      await stageItem(item, secrets);
      staged.push(item.name);
    }
    await writeState(stateFile, { state: 'done', staged });
  } catch (error) {
    await writeState(stateFile, { state: 'failed', reason: (error as Error).message, staged });
  }
}

if (process.argv[1]?.endsWith('stage-files.js') && process.argv[2]) {
  await main(process.argv[2]);
}
