import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRunLog, runLogBytesOnDisk } from '../../src/sites/log-file.js';

/** A run's directory whose bounded log holds these chunks (chunk number -> bytes), `chunkBytes` each. */
function runDir(chunkBytes: number, chunks: Record<number, Buffer | string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'eb-run-log-'));
  mkdirSync(join(dir, 'log'));
  writeFileSync(join(dir, 'log', 'chunk-bytes'), String(chunkBytes));
  for (const [number, bytes] of Object.entries(chunks)) writeFileSync(join(dir, 'log', String(1_000_000_000 + Number(number))), bytes);
  writeFileSync(join(dir, 'log', 'pipe'), ''); // stands for the FIFO, which is no chunk
  return dir;
}

describe('reading a bounded run log', () => {
  it('reads by offset in the whole log, saying how much was dropped before the chunks kept', async () => {
    // "abcdefghij" in chunks of 4: the first chunk (abcd) is gone.
    const dir = runDir(4, { 1: 'efgh', 2: 'ij' });
    expect(await readRunLog(dir, 0, 100)).toEqual({ text: 'efghij', next: 10, skipped: 4 });
    expect(await readRunLog(dir, 6, 100)).toEqual({ text: 'ghij', next: 10, skipped: 0 });
    expect(await readRunLog(dir, 10, 100)).toEqual({ text: '', next: 10, skipped: 0 });
    expect(await runLogBytesOnDisk(dir)).toBe(6);
  });

  it('gives the end when more is there than the limit, leaving out the middle', async () => {
    const dir = runDir(4, { 1: 'efgh', 2: 'ij' });
    expect(await readRunLog(dir, 5, 3)).toEqual({ text: 'hij', next: 10, skipped: 2 });
  });

  it('never cuts a UTF-8 character: a start inside one drops it, an end inside one waits for the rest', async () => {
    const whole = Buffer.from('aéb€'); // 1 + 2 + 1 + 3 bytes
    const dir = runDir(4, { 0: whole.subarray(0, 4), 1: whole.subarray(4) });
    expect(await readRunLog(dir, 0, 5)).toEqual({ text: 'b€', next: 7, skipped: 3 });
    expect(await readRunLog(dir, 0, 2)).toEqual({ text: '', next: 7, skipped: 7 });
    const writing = runDir(4, { 0: whole.subarray(0, 4), 1: whole.subarray(4, 6) });
    expect(await readRunLog(writing, 0, 100)).toEqual({ text: 'aéb', next: 4, skipped: 0 });
  });

  it('reads the one output.log of a run started before the log was bounded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eb-run-log-'));
    writeFileSync(join(dir, 'output.log'), 'hello\n');
    expect(await readRunLog(dir, 2)).toEqual({ text: 'llo\n', next: 6, skipped: 0 });
    expect(await readRunLog(mkdtempSync(join(tmpdir(), 'eb-run-log-')), 3)).toEqual({ text: '', next: 3, skipped: 0 });
  });
});
