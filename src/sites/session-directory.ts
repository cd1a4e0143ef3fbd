import { mkdir, symlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import type { RunSpec } from '../broker/executor.js';

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
