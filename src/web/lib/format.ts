/** How the page writes times and durations: the viewer's own zone and language. */
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });

export const clockTime = (at: number): string => timeFormat.format(at);
export const dateTime = (at: number | string): string => dateTimeFormat.format(typeof at === 'string' ? Date.parse(at) : at);

/** 90 s -> "1 min 30 s", 2 h -> "2 h". */
export function duration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  const parts: string[] = [];
  const days = Math.floor(seconds / 86_400);
  const hours = Math.floor((seconds % 86_400) / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  if (days) parts.push(`${days} d`);
  if (hours) parts.push(`${hours} h`);
  if (minutes) parts.push(`${minutes} min`);
  if (rest && !days && !hours) parts.push(`${rest} s`);
  return parts.length ? parts.join(' ') : '0 s';
}

/** An ISO 8601 duration as the API writes them (PT1H30M, PT0.5S) -> ms. */
export function isoDuration(text: string): number {
  const match = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(text);
  if (!match) return 0;
  return (Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0)) * 1000;
}

/** "4:05" until an instant; "0:00" once it has passed. */
export function countdown(until: number, now: number): string {
  const left = Math.max(0, Math.round((until - now) / 1000));
  return `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
}

/** The start of an `available.start` (an instant, or an interval "start/length"). */
export const startOf = (text: string): number => Date.parse(text.split('/')[0] ?? text);
