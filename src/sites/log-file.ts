import { mkdir, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A run's log on disk, bounded: the run writes into a FIFO (`<dir>/log/pipe`, `$EB_LOG`) read by
 * a writer process of the wrapper's own (GNU `split`, with no environment of the run's) that cuts
 * the stream into chunk files of half the site's cap, `<dir>/log/1000000000`, `...001`, and
 * removes a chunk once two newer ones have begun: at most the cap is kept, and always the end of
 * the log. A chunk's number says where it starts in the whole log (number - 1e9) x chunk size,
 * so a reader asks for "what came after byte N" whatever was dropped, and a worker that restarts
 * reads on from the offset it stored. The writer outlives the worker as the run does.
 */
export const LOG_DIR = 'log';
const FIRST_CHUNK = 1_000_000_000;
const CHUNK_FILE = /^1\d{9}$/;

/** Where a run writes its log (the FIFO the writer reads). */
export const logPipe = (dir: string): string => join(dir, LOG_DIR, 'pipe');

/** Removes the FIFO of a run that was stopped (its wrapper, killed, could not): it would block a reader of the session's files. */
export const removeLogPipe = (dir: string): Promise<void> => rm(logPipe(dir), { force: true });

/** The default cap of a run's log on disk. */
export const DEFAULT_LOG_BYTES = 16 * 1024 * 1024;

/** Makes `<dir>/log` with the chunk size for a log of at most `capBytes` (the writer and readers read it there). */
export async function prepareRunLog(dir: string, capBytes = DEFAULT_LOG_BYTES): Promise<void> {
  await mkdir(join(dir, LOG_DIR), { recursive: true });
  await writeFile(join(dir, LOG_DIR, 'chunk-bytes'), String(Math.max(4096, Math.floor(capBytes / 2))));
}

/**
 * Shell: starts the log writer on the FIFO `$EB_LOG` in the background (`$eb_writer`). It runs
 * with a clean environment, so that nothing the request set (SHELL, PATH) chooses what runs, and
 * in a session of its own: signals to the run's or the wrapper's process groups (a cancel) leave
 * it to write the last of the log, and it ends when the last writer has closed the FIFO.
 */
export const START_LOG_WRITER = 'eb_log=${EB_LOG%/*}; rm -f "$EB_LOG"; mkfifo -m 600 "$EB_LOG"; '
  + '(exec setsid env -i PATH=/usr/bin:/bin SHELL=/bin/sh split --bytes="$(cat "$eb_log/chunk-bytes")" --numeric-suffixes=1000000000 --suffix-length=10 '
  + '--filter=\'p=${FILE%/*}; rm -f "$p/$((${FILE##*/} - 2))"; cat > "$FILE"\' - "$eb_log/" < "$EB_LOG") & eb_writer=$!';

/**
 * Shell, once the program has ended: waits for the writer to write the last of the log, for 2 s
 * at most (a process the run left behind may hold the FIFO open; the writer goes on for it), then
 * removes the FIFO, which would block whoever reads the session's files (a backup, a `grep -r`).
 * The trap stays: a late signal from the timer must not end the wrapper before it records the status.
 */
export const AWAIT_LOG_WRITER = 'trap : USR1; (sleep 2; kill -USR1 $$ 2>/dev/null) & eb_dog=$!; wait "$eb_writer"; kill "$eb_dog" 2>/dev/null; rm -f "$EB_LOG"';

export interface LogRead {
  text: string;
  /** The offset (in the whole log) to read on from. */
  next: number;
  /** Bytes after `offset` left out: dropped on disk already, or passed over to give the end. */
  skipped: number;
}

interface Chunk { start: number; size: number; path: string }

/** The chunks on disk, oldest first; a run of before the bounded log has its one `output.log`. */
async function chunksOf(dir: string): Promise<Chunk[]> {
  const logDir = join(dir, LOG_DIR);
  const names = await readdir(logDir).catch(() => undefined);
  if (!names) {
    const legacy = join(dir, 'output.log');
    const size = (await stat(legacy).catch(() => undefined))?.size;
    return size === undefined ? [] : [{ start: 0, size, path: legacy }];
  }
  const chunkBytes = Number((await readFileText(join(logDir, 'chunk-bytes'))) ?? 0);
  const numbers = names.filter((name) => CHUNK_FILE.test(name)).map(Number).sort((a, b) => a - b);
  const chunks: Chunk[] = [];
  for (const number of numbers) {
    const path = join(logDir, String(number));
    const size = (await stat(path).catch(() => undefined))?.size;
    if (size !== undefined && chunkBytes > 0) chunks.push({ start: (number - FIRST_CHUNK) * chunkBytes, size, path });
  }
  return chunks;
}

async function readFileText(path: string): Promise<string | undefined> {
  const file = await open(path, 'r').catch(() => undefined);
  if (!file) return undefined;
  try {
    return (await file.readFile('utf8')).trim();
  } finally {
    await file.close();
  }
}

/**
 * The log from byte `offset` on, at most `limit` bytes: the last `limit` when more are there (the
 * end of a log is what tells how a run went), and what was left out in `skipped`.
 */
export async function readRunLog(dir: string, offset = 0, limit = 1024 * 1024): Promise<LogRead> {
  // A chunk removed between the listing and the read: list again (the writer has moved on).
  for (let attempt = 0; ; attempt++) {
    const chunks = await chunksOf(dir);
    const last = chunks.at(-1);
    if (!last) return { text: '', next: offset, skipped: 0 };
    const end = last.start + last.size;
    const from = Math.min(Math.max(offset, chunks[0]!.start, end - limit), Math.max(offset, end));
    const bytes = await readRange(chunks, from, Math.min(end, from + limit)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' && attempt < 3) return undefined;
      throw error;
    });
    if (!bytes) continue;
    // A start cut into a character drops its tail; an end cut into one is read next time.
    const head = from > offset ? continuationBytes(bytes) : 0;
    const tail = incompleteTail(bytes.subarray(head));
    const text = bytes.subarray(head, bytes.length - tail).toString('utf8');
    return { text, next: from + bytes.length - tail, skipped: from + head - offset };
  }
}

/** The bytes [from, to) of the log, across chunks. */
async function readRange(chunks: readonly Chunk[], from: number, to: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const chunk of chunks) {
    const start = Math.max(from, chunk.start);
    const stop = Math.min(to, chunk.start + chunk.size);
    if (stop <= start) continue;
    const file = await open(chunk.path, 'r');
    try {
      const buffer = Buffer.alloc(stop - start);
      const { bytesRead } = await file.read(buffer, 0, buffer.length, start - chunk.start);
      parts.push(buffer.subarray(0, bytesRead));
      if (bytesRead < buffer.length) break;
    } finally {
      await file.close();
    }
  }
  return Buffer.concat(parts);
}

/** How many bytes at the start of `bytes` continue a character begun before it. */
function continuationBytes(bytes: Buffer): number {
  let n = 0;
  while (n < Math.min(3, bytes.length) && ((bytes[n] as number) & 0xc0) === 0x80) n++;
  return n;
}

/** How many bytes at the end of `bytes` begin a UTF-8 character that is not complete yet. */
function incompleteTail(bytes: Buffer): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back] as number;
    if ((byte & 0xc0) !== 0x80) {
      const needs = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
      return needs > back ? back : 0;
    }
  }
  return 0;
}

/** Bytes the run's log takes on disk (its chunks), for tests and checks. */
export async function runLogBytesOnDisk(dir: string): Promise<number> {
  return (await chunksOf(dir)).reduce((sum, chunk) => sum + chunk.size, 0);
}
