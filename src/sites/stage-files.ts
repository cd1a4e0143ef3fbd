// Brings a session's data (http(s), dav(s), Rucio DIDs, DataLink services, or file:// under the site's allowed roots), run detached by the HTTP stager (sites/http-stager.ts) so that no
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
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Adler32 } from './adler32.js';
import { request, resolveSources, type Fetch, type SourceItem, type StagingSecrets } from './resolve-sources.js';

export { authorizationFor, type StagingSecrets } from './resolve-sources.js';

export interface StagingItem extends SourceItem {
  maxBytes: number;
  /** Directories a `file://` URL may be read from (the site's fileRoots); none refuses `file://`. */
  fileRoots?: string[];
  /** The size the request gives (SKAO `datasize`), for the progress shown while PREPARING. */
  expectedBytes?: number;
}

export interface StagingState {
  state: 'running' | 'done' | 'failed';
  reason?: string;
  staged?: string[];
  /** Bytes written so far, and the bytes the sources announced (when they all did). */
  bytesDone?: number;
  bytesExpected?: number;
  /** When the last byte arrived (ms since the epoch; the start before any): how a stall is seen. */
  progressAt?: number;
}

const HASHES: Record<string, string> = { md5: 'md5', sha1: 'sha1', sha256: 'sha256', sha512: 'sha512' };

interface Hash { update(chunk: Buffer): unknown; digest(encoding: 'hex'): string }

function hashFor(label: string, checksum: Fetch['checksum']): Hash | undefined {
  if (!checksum) return undefined;
  const type = checksum.type.toLowerCase();
  if (type === 'adler32') return new Adler32();
  const algorithm = HASHES[type];
  if (!algorithm) throw new Error(`${label}: checksum type ${checksum.type} is not supported`);
  return createHash(algorithm);
}

async function writeState(file: string, state: StagingState): Promise<void> {
  await writeFile(`${file}.tmp`, JSON.stringify(state));
  await rename(`${file}.tmp`, file);
}

/**
 * A `file://` source, only when it lies under one of the allowed roots once every link in its
 * path is resolved (so a link inside a root cannot lead out of it).
 */
async function openLocalFile(item: StagingItem, fetch: Fetch): Promise<{ stream: Readable; size: number }> {
  const asked = fileURLToPath(fetch.url);
  const real = await realpath(asked).catch(() => { throw new Error(`${fetch.label}: ${asked} does not exist`); });
  const roots = await Promise.all((item.fileRoots ?? []).map((root) => realpath(root).catch(() => undefined)));
  if (!roots.some((root) => root && (real === root || real.startsWith(`${root}${sep}`)))) {
    throw new Error(`${fetch.label}: ${asked} is not under a directory this site may read from`);
  }
  const info = await stat(real);
  if (!info.isFile()) throw new Error(`${fetch.label}: ${asked} is not a file`);
  return { stream: createReadStream(real), size: info.size };
}

async function openSource(item: StagingItem, fetch: Fetch, secrets: StagingSecrets): Promise<{ stream: Readable; size: number }> {
  if (fetch.open) return fetch.open();
  if (/^file:/i.test(fetch.url)) return openLocalFile(item, fetch);
  if (!/^(https?|davs?):\/\//i.test(fetch.url)) throw new Error(`${fetch.label}: ${fetch.url} is not an http(s), dav(s) or file URL`);
  const response = await request({ ...item, name: fetch.label }, fetch.url, secrets);
  const status = response.statusCode ?? 0;
  if (status < 200 || status > 299) {
    response.resume();
    throw new Error(`${fetch.label}: ${fetch.url} answered ${status}`);
  }
  return { stream: response, size: Number(response.headers['content-length'] ?? NaN) };
}

/** How much has been written, shared by the files of one plan and reported to the state file. */
export interface Progress { done: number; expected?: number; report?: () => void }

/** Brings one file to its path, refusing more than the item's maxBytes in all and checking its checksum. */
async function stageFetch(item: StagingItem, fetch: Fetch, secrets: StagingSecrets, used: { bytes: number }, progress: Progress): Promise<void> {
  const hash = hashFor(fetch.label, fetch.checksum);
  const source = await openSource(item, fetch, secrets);
  if (used.bytes + source.size > item.maxBytes) {
    source.stream.destroy();
    throw new Error(`${fetch.label}: ${source.size} bytes is more than the ${item.maxBytes - used.bytes} allowed`);
  }
  await mkdir(dirname(fetch.path), { recursive: true });
  const counted = source.stream.map((chunk: Buffer) => {
    used.bytes += chunk.length;
    progress.done += chunk.length;
    if (used.bytes > item.maxBytes) throw new Error(`${fetch.label}: more than the ${item.maxBytes} bytes allowed`);
    hash?.update(chunk);
    progress.report?.();
    return chunk;
  });
  await pipeline(counted, createWriteStream(fetch.path));
  const digest = hash?.digest('hex');
  // Rucio writes adler32 without its leading zeros at times.
  const wanted = fetch.checksum?.value.toLowerCase().padStart(fetch.checksum.type.toLowerCase() === 'adler32' ? 8 : 0, '0');
  if (fetch.checksum && digest !== wanted) {
    throw new Error(`${fetch.label}: ${fetch.checksum.type} checksum ${digest} differs from the ${fetch.checksum.value} expected`);
  }
}

/**
 * Brings one data resource (http(s), dav(s), file:// under the site's roots, a Rucio DID, a
 * DataLink service) to its path: a file, or a directory of files for a collection or dataset.
 */
export async function stageItem(item: StagingItem, secrets: StagingSecrets = {}, progress: Progress = { done: 0 }): Promise<void> {
  const fetches = await resolveSources(item, secrets);
  if (fetches.some((fetch) => fetch.path !== item.path)) await mkdir(item.path, { recursive: true });
  const used = { bytes: 0 };
  for (const fetch of fetches) await stageFetch(item, fetch, secrets, used, progress);
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
  const progress: Progress = { done: 0 };
  const expected = items.map((item) => item.expectedBytes);
  if (expected.every((bytes) => typeof bytes === 'number')) progress.expected = expected.reduce<number>((a, b) => a + (b ?? 0), 0);
  let lastByte = Date.now();
  const snapshot = (): StagingState => ({
    state: 'running', staged: [...staged], bytesDone: progress.done, progressAt: lastByte, ...(progress.expected !== undefined ? { bytesExpected: progress.expected } : {}),
  });
  // At most one write of the state every quarter second while bytes arrive, and one after the last.
  let last = 0;
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  const flush = (): void => {
    timer = undefined;
    last = Date.now();
    writing = writing.then(() => writeState(stateFile, snapshot())).catch(() => undefined);
  };
  progress.report = () => {
    lastByte = Date.now();
    if (timer) return;
    const wait = 250 - (lastByte - last);
    if (wait <= 0) flush();
    else timer = setTimeout(flush, wait);
  };
  // The final state must not be overwritten by a pending progress write.
  const settle = async (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    await writing;
  };
  try {
    for (const item of items) {
      await writeState(stateFile, snapshot());
      await stageItem(item, secrets, progress);
      staged.push(item.name);
    }
    await settle();
    await writeState(stateFile, { ...snapshot(), state: 'done' });
  } catch (error) {
    await settle();
    await writeState(stateFile, { ...snapshot(), state: 'failed', reason: (error as Error).message });
  }
}

if (process.argv[1]?.endsWith('stage-files.js') && process.argv[2]) {
  await main(process.argv[2]);
}
