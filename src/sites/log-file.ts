import { open } from 'node:fs/promises';

/**
 * Text of a run's log file from a byte offset, at most `limit` bytes, and the offset to read on
 * from. The file is the run's own (appended to by a detached process), so a restarted worker reads
 * on from the offset it stored.
 */
export async function readLogFile(path: string, offset = 0, limit = 1024 * 1024): Promise<{ text: string; next: number }> {
  const file = await open(path, 'r').catch(() => undefined);
  if (!file) return { text: '', next: offset };
  try {
    const buffer = Buffer.alloc(limit);
    const { bytesRead } = await file.read(buffer, 0, limit, offset);
    // Stop before a UTF-8 sequence cut at the end, so that no character is split across reads.
    const end = bytesRead - incompleteTail(buffer.subarray(0, bytesRead));
    return { text: buffer.subarray(0, end).toString('utf8'), next: offset + end };
  } finally {
    await file.close();
  }
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
