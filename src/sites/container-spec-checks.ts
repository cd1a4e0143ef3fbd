import { posix } from 'node:path';
import type { RunSpec } from '../broker/executor.js';

/** Where a container finds its outputs directory. */
export const CONTAINER_OUTPUTS = '/outputs';
/** Where a container finds the session's work directory, when the spec names a working directory. */
export const CONTAINER_WORK = '/work';

const IMAGE = /^[A-Za-z0-9][A-Za-z0-9._\-/:@+]{0,511}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,255}$/;

/** A mount's path inside the container: absolute, normalised (a relative path is taken from `/`). */
export const containerPath = (path: string): string => posix.resolve('/', path);

/**
 * Why a container runtime cannot run the spec as asked; undefined when it can. Everything the
 * request wrote ends up in a runtime's arguments, so anything that could read as an option or break
 * a `--volume` or `--env` argument is refused here, before submit.
 */
export function containerSpecProblem(spec: RunSpec): string | undefined {
  if (spec.privileged) return 'the site does not run privileged containers';
  if (!spec.image) return 'a container executable needs an image';
  if (!IMAGE.test(spec.image)) return `image ${JSON.stringify(spec.image.slice(0, 100))} is not an image reference`;
  for (const name of Object.keys(spec.environment)) {
    if (!ENV_NAME.test(name)) return `environment variable name ${JSON.stringify(name.slice(0, 100))} is not allowed`;
  }
  const texts = [...Object.values(spec.environment), ...spec.command, spec.entrypoint ?? ''];
  if (texts.some((text) => text.includes('\0'))) return 'the command, entrypoint and environment may not hold NUL characters';
  const paths = new Set<string>();
  for (const mount of spec.mounts ?? []) {
    const path = containerPath(mount.path);
    if (/[:,\0\n]/.test(path) || /[:,\0\n]/.test(mount.source)) return `volume mount ${JSON.stringify(mount.path)} has a character a container mount cannot take (':' or ',')`;
    if (path === '/' || path === CONTAINER_OUTPUTS || path.startsWith(`${CONTAINER_OUTPUTS}/`) || paths.has(path)) return `volume mount path ${path} is taken`;
    paths.add(path);
  }
  if (spec.workingDirectory !== undefined) {
    const dir = posix.normalize(spec.workingDirectory);
    if (posix.isAbsolute(dir) || dir.startsWith('..') || /[:,\0\n]/.test(dir)) return `working directory ${spec.workingDirectory} must be inside the session's work directory`;
  }
  return undefined;
}
