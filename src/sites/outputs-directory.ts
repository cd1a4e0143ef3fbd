import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { OutputFile, OutputsReader } from '../broker/session-outputs.js';

/** The most files a listing names (a run may write millions; the listing says when it stopped). */
const MAX_FILES = 10_000;

/**
 * The regular files under a run's outputs directory, sorted by path. Symbolic links are not
 * followed: a run could point one anywhere on the host.
 */
export async function listOutputs(dir: string, max = MAX_FILES): Promise<{ files: OutputFile[]; truncated: boolean }> {
  const files: OutputFile[] = [];
  const walk = async (relative: string[]): Promise<boolean> => {
    const entries = await readdir(join(dir, ...relative), { withFileTypes: true });
    for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const path = [...relative, entry.name];
      if (entry.isDirectory()) {
        if (!(await walk(path))) return false;
      } else if (entry.isFile()) {
        if (files.length >= max) return false;
        files.push({ path: path.join('/'), size: (await lstat(join(dir, ...path))).size });
      }
    }
    return true;
  };
  const complete = await walk([]);
  return { files, truncated: !complete };
}

/**
 * The file at `segments` under the outputs directory, or undefined when there is none. A segment
 * that is empty, `.`, `..` or holds a separator is refused, and the file's real path (links
 * resolved) must still be inside the directory: no request reaches anything else on the host.
 */
export async function resolveOutput(dir: string, segments: readonly string[]): Promise<{ path: string; size: number } | undefined> {
  if (segments.length === 0 || segments.some((s) => s === '' || s === '.' || s === '..' || /[/\\\0]/.test(s))) return undefined;
  try {
    const root = await realpath(dir);
    const path = await realpath(join(root, ...segments));
    if (!path.startsWith(`${root}${sep}`)) return undefined;
    const info = await stat(path);
    return info.isFile() ? { path, size: info.size } : undefined;
  } catch {
    return undefined;
  }
}

/** The outputs reader of an API process on the sites' machine. */
export const outputsDirectoryReader: OutputsReader = {
  readable: async (dir) => (await stat(dir).catch(() => undefined))?.isDirectory() ?? false,
  list: (dir) => listOutputs(dir),
  resolve: resolveOutput,
};
