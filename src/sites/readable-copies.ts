import { chmod, copyFile, mkdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Whether `uid` may do `want` (4: read, 1: search) on the path by its mode bits, as a run started
 * by setpriv is: that uid, its only group the gid of the same number, no capabilities.
 */
async function allows(path: string, uid: number, want: number): Promise<boolean> {
  const found = await stat(path);
  const bits = found.uid === uid ? (found.mode >> 6) & 7 : found.gid === uid ? (found.mode >> 3) & 7 : found.mode & 7;
  return (bits & want) === want;
}

/** Whether `uid` can read the file: every directory above it searchable, the file readable. */
export async function readableBy(path: string, uid: number): Promise<boolean> {
  try {
    for (let dir = dirname(path); ; dir = dirname(dir)) {
      if (!(await allows(dir, uid, 1))) return false;
      if (dir === dirname(dir)) break;
    }
    return await allows(path, uid, 4);
  } catch {
    return false;
  }
}

/**
 * Copies, in `into`, of the regular files among `files` that `uid` cannot read where they are (a
 * checkout under /root, or any directory only root may enter: bubblewrap, started as the run's
 * uid, could not show them to the run). Each copy is readable by all, and executable when the
 * original is. Returns original -> copy for the files copied; the others are left as they are.
 */
export async function readableCopies(files: readonly string[], into: string, uid: number): Promise<Map<string, string>> {
  const copies = new Map<string, string>();
  let made = false;
  for (const [index, file] of files.entries()) {
    if (copies.has(file) || await readableBy(file, uid)) continue;
    const original = await stat(file).catch(() => undefined);
    if (!original?.isFile()) continue;
    if (!made) {
      await mkdir(into, { recursive: true });
      await chmod(into, 0o755);
      made = true;
    }
    const copy = join(into, `${index}-${basename(file)}`);
    await copyFile(file, copy);
    await chmod(copy, original.mode & 0o111 ? 0o755 : 0o644);
    copies.set(file, copy);
  }
  return copies;
}
