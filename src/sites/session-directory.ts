import { lstat, mkdir, readdir, rm, symlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import type { RunSpec } from '../broker/executor.js';
import type { SessionDirectories } from '../broker/session-retention.js';

/**
 * Makes a session's directory on the site, `<scratch>/<session>/` with `work/` (the working
 * directory, or the one asked for inside it) and `outputs/`, and links each volume mount into the
 * working directory (without a container, a mount at /input appears as ./input). The local
 * process and Slurm executors share this layout.
 */
export async function prepareSessionDirectory(scratchRoot: string, spec: RunSpec): Promise<{ dir: string; cwd: string }> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(spec.sessionUuid)) throw new Error(`session id ${spec.sessionUuid} cannot name a directory`);
  const dir = join(scratchRoot, spec.sessionUuid);
  const cwd = workingDirectory(dir, spec.workingDirectory);
  await mkdir(join(dir, 'outputs'), { recursive: true });
  await mkdir(cwd, { recursive: true });
  for (const mount of spec.mounts ?? []) {
    const at = join(cwd, normalize(mount.path).replace(/^\/+/, ''));
    if (!at.startsWith(`${cwd}/`)) throw new Error(`mount path ${mount.path} leaves the working directory`);
    await mkdir(dirname(at), { recursive: true });
    await symlink(mount.source, at).catch((error: NodeJS.ErrnoException) => { if (error.code !== 'EEXIST') throw error; });
  }
  return { dir, cwd };
}

function workingDirectory(dir: string, requested: string | undefined): string {
  if (!requested) return join(dir, 'work');
  const path = normalize(requested);
  if (isAbsolute(path) || path.startsWith('..')) throw new Error(`working directory ${requested} must be inside the session's directory`);
  return join(dir, 'work', path);
}

const SESSION_DIR = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The session directories under a site's scratch root (named by their session's UUID; nothing
 * else there, such as `.gpu-claims`, is touched). A directory's last change is the newest of its
 * own and its entries' (the log's chunks and the exit code land there as the run goes).
 */
export class ScratchDirectories implements SessionDirectories {
  constructor(private readonly scratchRoot: string) {}

  async list(): Promise<Array<{ uuid: string; modified: number }>> {
    const entries = await readdir(this.scratchRoot, { withFileTypes: true }).catch(() => []);
    const found: Array<{ uuid: string; modified: number }> = [];
    for (const entry of entries) {
      if (!entry.isDirectory() || !SESSION_DIR.test(entry.name)) continue;
      const dir = join(this.scratchRoot, entry.name);
      const names = await readdir(dir).catch(() => []);
      const times = await Promise.all([dir, ...names.map((name) => join(dir, name))].map((path) => lstat(path).then((s) => s.mtimeMs, () => 0)));
      found.push({ uuid: entry.name, modified: Math.max(...times) });
    }
    return found;
  }

  async remove(uuid: string): Promise<void> {
    if (!SESSION_DIR.test(uuid)) throw new Error(`${uuid} does not name a session directory`);
    await rm(join(this.scratchRoot, uuid), { recursive: true, force: true, maxRetries: 3 });
  }
}
