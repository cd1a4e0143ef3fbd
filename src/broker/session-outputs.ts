import { posix } from 'node:path';
import type { Clock } from '../domain/clock.js';
import { BrokerError } from '../domain/errors.js';
import { formatDuration, formatInstant } from '../domain/iso8601.js';
import type { Principal } from '../domain/principal.js';
import type { BrokerStore, SiteDirectory } from './ports.js';
import { getSession } from './read-records.js';

export interface OutputFile { path: string; size: number }

/** Reads a site's outputs directory from the API's host (sites/outputs-directory.ts). */
export interface OutputsReader {
  readable(dir: string): Promise<boolean>;
  list(dir: string): Promise<{ files: OutputFile[]; truncated: boolean }>;
  /** The file's absolute path and size; undefined when there is no such file inside `dir`. */
  resolve(dir: string, segments: readonly string[]): Promise<{ path: string; size: number } | undefined>;
}

export interface SessionOutputsDeps { clock: Clock; store: BrokerStore; sites: SiteDirectory; reader: OutputsReader }

const inside = (dir: string, root: string): boolean => {
  const relative = posix.relative(posix.resolve(root), posix.resolve(dir));
  return relative !== '' && !relative.startsWith('..') && !posix.isAbsolute(relative);
};

/**
 * Where a COMPLETED session's outputs are, when this process can read them: on the same machine
 * as the site (or sharing its scratch directory), inside that site's scratch directory. Otherwise
 * a 404 that says where they are.
 */
async function outputsDirectory(deps: SessionOutputsDeps, uuid: string, principal: Principal): Promise<string> {
  const session = await getSession(deps, uuid, principal); // someone else's session: not found
  const dir = session.run?.outputs;
  if (session.phase !== 'COMPLETED' || !dir) {
    throw new BrokerError('not-found', { values: { what: 'outputs of session', uuid }, detail: `Session [${uuid}] is ${session.phase}; its outputs are served once it is COMPLETED` });
  }
  const site = deps.sites.get(session.site);
  if (session.run?.removed !== undefined) {
    throw new BrokerError('outputs-removed', { values: {
      uuid, site: session.site, removed: formatInstant(session.run.removed),
      retention: site ? formatDuration(site.limits.retentionMs) : 'its retention',
    } });
  }
  if (!site || !inside(dir, site.scratchDir) || !(await deps.reader.readable(dir))) {
    throw new BrokerError('not-found', {
      values: { what: 'outputs of session', uuid },
      detail: `The outputs of session [${uuid}] are in ${dir} on site ${session.site}, which this API process cannot read`,
    });
  }
  return dir;
}

export async function listSessionOutputs(deps: SessionOutputsDeps, uuid: string, principal: Principal): Promise<{ files: OutputFile[]; truncated: boolean }> {
  return deps.reader.list(await outputsDirectory(deps, uuid, principal));
}

/** The absolute path of one output file, for the HTTP layer to send. */
export async function sessionOutputFile(deps: SessionOutputsDeps, uuid: string, segments: readonly string[], principal: Principal): Promise<{ path: string; size: number }> {
  const file = await deps.reader.resolve(await outputsDirectory(deps, uuid, principal), segments);
  if (!file) throw new BrokerError('not-found', { values: { what: 'output', uuid }, detail: `Session [${uuid}] has no output ${segments.join('/').slice(0, 200)}` });
  return file;
}
