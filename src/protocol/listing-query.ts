import type { SessionQuery } from '../broker/list-sessions.js';
import type { TimelineWindow } from '../broker/site-timeline.js';
import { DEFAULT_OUTLOOK_HOURS, MAX_OUTLOOK_HOURS, type SiteQuery } from '../broker/list-sites.js';
import { BrokerError } from '../domain/errors.js';
import { parseInstant } from '../domain/iso8601.js';
import { SESSION_PHASES, isSessionPhase, type SessionPhase } from '../domain/phases.js';

type Query = Record<string, unknown>;

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

const invalid = (name: string, detail: string): BrokerError => new BrokerError('invalid-query', { values: { name }, detail });

/** A parameter given once, as text; undefined when absent. */
function single(query: Query, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(name, `${name} may be given once`);
  return value;
}

/** Every value of a parameter that may repeat, each possibly a comma list. */
function list(query: Query, name: string): string[] | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  const values = Array.isArray(value) ? value : [value];
  if (!values.every((item): item is string => typeof item === 'string')) throw invalid(name, `${name} must be text`);
  return values.flatMap((item) => item.split(',')).map((item) => item.trim()).filter(Boolean);
}

const POSITION = /^\d{15}:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The `next` of a page, as clients pass it back (`cursor`): opaque, URL-safe. */
export const encodeCursor = (position: string): string => Buffer.from(position, 'utf8').toString('base64url');

function decodeCursor(cursor: string): string {
  const position = /^[A-Za-z0-9_-]{1,200}$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  if (!POSITION.test(position)) throw invalid('cursor', 'cursor must be the `next` of an earlier page, unchanged');
  return position;
}

function limitOf(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LIMIT;
  const limit = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(limit >= 1 && limit <= MAX_LIMIT)) throw invalid('limit', `limit must be a whole number from 1 to ${MAX_LIMIT}, not "${text.slice(0, 20)}"`);
  return limit;
}

function name(query: Query, key: string): string | undefined {
  const value = single(query, key);
  if (value === undefined) return undefined;
  if (value === '' || value.length > 256) throw invalid(key, `${key} must be 1 to 256 characters`);
  return value;
}

/** `GET /sessions`' parameters: phase (repeatable, or a comma list), site, owner, limit, cursor. */
export function readSessionQuery(query: Query): SessionQuery {
  const phases = list(query, 'phase');
  let phaseSet: Set<SessionPhase> | undefined;
  if (phases !== undefined) {
    const unknown = phases.filter((phase) => !isSessionPhase(phase.toUpperCase()));
    if (unknown.length || phases.length === 0) {
      throw invalid('phase', `phase must name phases among ${SESSION_PHASES.join(', ')}${unknown.length ? `, not ${unknown.join(', ').slice(0, 100)}` : ''}`);
    }
    phaseSet = new Set(phases.map((phase) => phase.toUpperCase() as SessionPhase));
  }
  const site = name(query, 'site');
  const owner = name(query, 'owner');
  const cursor = single(query, 'cursor');
  return {
    ...(phaseSet ? { phases: phaseSet } : {}),
    ...(site !== undefined ? { site } : {}),
    ...(owner !== undefined ? { owner } : {}),
    ...(cursor !== undefined ? { after: decodeCursor(cursor) } : {}),
    limit: limitOf(single(query, 'limit')),
  };
}

function instant(query: Query, key: string): number | undefined {
  const text = single(query, key);
  if (text === undefined) return undefined;
  const at = parseInstant(text);
  if (at === undefined) throw invalid(key, `${key} must be an ISO 8601 instant (2026-11-25T10:00:00Z), not "${text.slice(0, 40)}"`);
  return at;
}

/** `GET /sites/{name}/timeline`'s window: `from` and `to`, ISO 8601 instants, each optional. */
export function readTimelineWindow(query: Query): TimelineWindow {
  const from = instant(query, 'from');
  const to = instant(query, 'to');
  return { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
}

const SITE_PARAMETERS = new Set(['kind', 'gpu', 'cores', 'memoryGiB', 'hours']);

function positive(query: Query, key: string, pattern: RegExp, what: string): number | undefined {
  const text = single(query, key);
  if (text === undefined) return undefined;
  const value = pattern.test(text) ? Number(text) : NaN;
  if (!(value > 0 && value <= 1_000_000)) throw invalid(key, `${key} must be ${what} above 0, not "${text.slice(0, 20)}"`);
  return value;
}

/**
 * `GET /sites`' filters: kind, gpu (a model), cores and memoryGiB (free now), hours (how far the
 * outlook of free capacity reaches: 0 to 72, 24 by default). A parameter it does not know is
 * refused, so that a misspelt filter never answers every site.
 */
export function readSiteQuery(query: Query): SiteQuery {
  const unknown = Object.keys(query).find((key) => !SITE_PARAMETERS.has(key));
  if (unknown !== undefined) throw invalid(unknown.slice(0, 64), `GET /sites takes the parameters ${[...SITE_PARAMETERS].join(', ')}, not ${unknown.slice(0, 64)}`);
  const kind = name(query, 'kind');
  const gpu = name(query, 'gpu');
  const cores = positive(query, 'cores', /^\d{1,7}$/, 'a whole number');
  const memoryGiB = positive(query, 'memoryGiB', /^\d{1,7}(\.\d{1,6})?$/, 'a number (GiB)');
  const hoursText = single(query, 'hours');
  let hours = DEFAULT_OUTLOOK_HOURS;
  if (hoursText !== undefined) {
    hours = /^\d{1,3}$/.test(hoursText) ? Number(hoursText) : NaN;
    if (!(hours >= 0 && hours <= MAX_OUTLOOK_HOURS)) throw invalid('hours', `hours must be a whole number from 0 to ${MAX_OUTLOOK_HOURS}, not "${hoursText.slice(0, 20)}"`);
  }
  return {
    ...(kind !== undefined ? { kind } : {}),
    ...(gpu !== undefined ? { gpu } : {}),
    ...(cores !== undefined ? { cores } : {}),
    ...(memoryGiB !== undefined ? { memoryGiB } : {}),
    hours,
  };
}
