/**
 * ISO 8601 instants, durations and intervals as the ExecutionBroker uses them, in milliseconds.
 * Parsers return `undefined` for text they cannot read; callers turn that into a message.
 */
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const DURATION = /^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$/;

export type DurationResult =
  | { ok: true; ms: number }
  | { ok: false; reason: 'syntax' | 'calendar' | 'negative' };

/**
 * Reads a duration. Years and months have no fixed length, so they are refused with reason
 * `calendar` rather than guessed; weeks are seven days.
 */
export function parseDuration(text: string): DurationResult {
  if (text.startsWith('-')) return DURATION.test(text.slice(1)) ? { ok: false, reason: 'negative' } : { ok: false, reason: 'syntax' };
  const match = DURATION.exec(text);
  if (!match) return { ok: false, reason: 'syntax' };
  const [, years, months, weeks, days, hours, minutes, seconds] = match;
  if (years || months) return { ok: false, reason: 'calendar' };
  const ms = Number(weeks ?? 0) * 7 * DAY + Number(days ?? 0) * DAY + Number(hours ?? 0) * HOUR
    + Number(minutes ?? 0) * MINUTE + Math.round(Number((seconds ?? '0').replace(',', '.')) * SECOND);
  return Number.isSafeInteger(ms) ? { ok: true, ms } : { ok: false, reason: 'syntax' };
}

/** Writes a duration as PTnHnMnS (hours may exceed 24), e.g. PT1H30M, PT0S, PT0.25S. */
export function formatDuration(ms: number): string {
  if (ms <= 0) return 'PT0S';
  const hours = Math.floor(ms / HOUR);
  const minutes = Math.floor((ms % HOUR) / MINUTE);
  const millis = ms % MINUTE;
  let out = 'PT';
  if (hours) out += `${hours}H`;
  if (minutes) out += `${minutes}M`;
  if (millis) out += `${millis % SECOND === 0 ? millis / SECOND : (millis / SECOND).toString()}S`;
  return out;
}

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?(Z|[+-]\d{2}:?\d{2})?$/i;
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * Reads an instant: a date-time (seconds, fraction and zone optional, a missing zone meaning UTC,
 * fractions past milliseconds truncated) or a bare date (midnight UTC).
 */
export function parseInstant(text: string): number | undefined {
  const date = DATE_ONLY.exec(text);
  if (date) return utc(Number(date[1]), Number(date[2]), Number(date[3]), 0, 0, 0, 0, 0);
  const m = INSTANT.exec(text);
  if (!m) return undefined;
  const millis = Number(((m[7] ?? '') + '000').slice(0, 3));
  const zone = m[8] ?? 'Z';
  let offset = 0;
  if (zone.toUpperCase() !== 'Z') {
    const digits = zone.replace(':', '');
    const sign = digits.startsWith('-') ? -1 : 1;
    const zh = Number(digits.slice(1, 3));
    const zm = Number(digits.slice(3, 5));
    if (zh > 23 || zm > 59) return undefined;
    offset = sign * (zh * HOUR + zm * MINUTE);
  }
  return utc(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0), millis, offset);
}

function utc(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number, offset: number): number | undefined {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  const at = Date.UTC(y, mo - 1, d, h, mi, Math.min(s, 59), ms);
  // Date.UTC rolls 31 February over into March: refuse dates that do not exist.
  const check = new Date(at);
  if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d) return undefined;
  return at - offset;
}

/**
 * The instants written lately: an offer set writes the same few many times (its created and
 * expires in every offer, each plan's starts in the session and each component), and
 * Date#toISOString was a seventh of composing and rendering an offer.
 */
const RECENT_INSTANTS = 256;
const recentInstants = new Map<number, string>();

/** Writes an instant in UTC, without a fraction when it is zero. */
export function formatInstant(ms: number): string {
  const known = recentInstants.get(ms);
  if (known !== undefined) return known;
  const iso = new Date(ms).toISOString();
  const text = iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
  if (recentInstants.size >= RECENT_INSTANTS) recentInstants.clear();
  recentInstants.set(ms, text);
  return text;
}

export interface Interval { start: number; end: number }

export type IntervalResult =
  | { ok: true; interval: Interval }
  | { ok: false; reason: 'syntax' | 'repeating' | 'reversed' | 'calendar' };

/**
 * Reads an interval in any of its three forms (start/end, start/duration, duration/end). A bare
 * instant is a zero-length interval. Repeating intervals (`R...`) are refused.
 */
export function parseInterval(text: string): IntervalResult {
  if (/^R\d*\//i.test(text)) return { ok: false, reason: 'repeating' };
  const parts = text.split('/');
  if (parts.length === 1) {
    const at = parseInstant(text);
    return at === undefined ? { ok: false, reason: 'syntax' } : { ok: true, interval: { start: at, end: at } };
  }
  if (parts.length !== 2) return { ok: false, reason: 'syntax' };
  const [left = '', right = ''] = parts;
  let start: number | undefined;
  let end: number | undefined;
  if (left.startsWith('P')) {
    const duration = parseDuration(left);
    end = parseInstant(right);
    if (!duration.ok) return { ok: false, reason: duration.reason === 'calendar' ? 'calendar' : 'syntax' };
    if (end !== undefined) start = end - duration.ms;
  } else if (right.startsWith('P')) {
    const duration = parseDuration(right);
    start = parseInstant(left);
    if (!duration.ok) return { ok: false, reason: duration.reason === 'calendar' ? 'calendar' : 'syntax' };
    if (start !== undefined) end = start + duration.ms;
  } else {
    start = parseInstant(left);
    end = parseInstant(right);
  }
  if (start === undefined || end === undefined) return { ok: false, reason: 'syntax' };
  if (end < start) return { ok: false, reason: 'reversed' };
  return { ok: true, interval: { start, end } };
}

/** Writes an interval as `<start>/<duration>`, the form the ExecutionBroker's offers use. */
export function formatStartInterval(start: number, lengthMs: number): string {
  return `${formatInstant(start)}/${formatDuration(lengthMs)}`;
}
