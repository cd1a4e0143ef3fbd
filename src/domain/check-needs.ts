import type { ExecutionNeeds, Range, RangeRequest, ResolvedNeeds } from './execution-needs.js';
import { makeMessage, type Message } from './messages.js';

export interface NeedsDefaults {
  cores: number;
  memoryGiB: number;
  durationMs: number;
}

export const DEFAULT_NEEDS: NeedsDefaults = { cores: 1, memoryGiB: 1, durationMs: 2 * 3600_000 };

const LARGEST = Number.MAX_SAFE_INTEGER;

/**
 * Applies defaults and checks what a request asks for on its own, before any site looks at it:
 * min <= max, no negatives, whole numbers within range, sizes in GiB. A missing max means min; a
 * missing min means the default (or the max, when that is smaller).
 */
export function resolveRange(
  request: RangeRequest,
  fallback: number,
  what: string,
  sized: boolean,
): { range?: Range; messages: Message[] } {
  const messages: Message[] = [];
  if (request.units !== undefined && !(sized && request.units === 'GiB')) {
    messages.push(makeMessage('urn:unsupported-units', 'ERROR',
      '{what}: units [{units}] are not supported; {expected}',
      { what, units: request.units, expected: sized ? 'sizes are given in GiB' : 'counts take no units' }));
  }
  for (const side of ['min', 'max'] as const) {
    const value = request[side];
    if (value === undefined) continue;
    if (value < 0) {
      messages.push(makeMessage('urn:invalid-value', 'ERROR', '{what}: {side} is negative [{value}]', { what, side, value }));
    } else if (!Number.isSafeInteger(value) || value > LARGEST) {
      messages.push(makeMessage('urn:invalid-value', 'ERROR', '{what}: {side} [{value}] is not a usable whole number', { what, side, value }));
    }
  }
  if (messages.length) return { messages };
  const min = request.min ?? Math.min(fallback, request.max ?? fallback);
  const max = request.max ?? Math.max(min, request.min === undefined ? fallback : min);
  if (min > max) {
    return { messages: [makeMessage('urn:invalid-value', 'ERROR', '{what}: min [{min}] is greater than max [{max}]', { what, min, max })] };
  }
  if (max === 0 && !sized) {
    return { messages: [makeMessage('urn:invalid-value', 'ERROR', '{what}: at least one is needed', { what })] };
  }
  return { range: { min, max }, messages };
}

/** Checks the request as a whole and fills in defaults; ERROR messages mean the answer is NO. */
export function checkNeeds(needs: ExecutionNeeds, now: number, defaults: NeedsDefaults = DEFAULT_NEEDS):
  { resolved?: ResolvedNeeds; messages: Message[] } {
  const messages: Message[] = [];
  if (!needs.executable) {
    messages.push(makeMessage('urn:executable-required', 'ERROR', 'Description of the executable is required'));
  } else {
    messages.push(...checkProcessText(needs.executable));
  }
  const cores = resolveRange(needs.cores, defaults.cores, 'compute cores', false);
  const memory = resolveRange(needs.memory, defaults.memoryGiB, 'compute memory', true);
  messages.push(...cores.messages, ...memory.messages);
  const storageGiB: Range[] = [];
  for (const storage of needs.storage) {
    const size = resolveRange(storage.size, 0, `storage [${storage.name}] size`, true);
    messages.push(...size.messages);
    if (size.range) storageGiB.push(size.range);
  }
  if (needs.gpu && (!Number.isSafeInteger(needs.gpu.count) || needs.gpu.count < 0)) {
    messages.push(makeMessage('urn:invalid-value', 'ERROR', 'GPU count [{count}] must be a whole number, zero or more', { count: needs.gpu.count }));
  }
  const durationMs = needs.durationMs ?? defaults.durationMs;
  if (durationMs <= 0) {
    messages.push(makeMessage('urn:invalid-value', 'ERROR', 'The requested duration must be longer than zero'));
  }
  let window: ResolvedNeeds['window'] = { start: now };
  if (needs.window) {
    if (needs.window.end < now) {
      messages.push(makeMessage('urn:schedule-unavailable', 'ERROR',
        'The requested start window ended at {end}, before now', { end: new Date(needs.window.end).toISOString() }));
    }
    // A window that opened in the past starts now.
    window = { start: Math.max(now, needs.window.start), end: needs.window.end };
  }
  if (messages.some((m) => m.level === 'ERROR') || !needs.executable || !cores.range || !memory.range) {
    return { messages };
  }
  return {
    resolved: {
      executable: needs.executable,
      cores: cores.range,
      memory: memory.range,
      ...(needs.gpu && needs.gpu.count > 0 ? { gpu: needs.gpu } : {}),
      storageGiB,
      data: needs.data,
      window,
      durationMs,
      ...(needs.deadline !== undefined ? { deadline: needs.deadline } : {}),
      ...(needs.startSlackMs ? { startSlackMs: needs.startSlackMs } : {}),
      ...(needs.limits ? { limits: needs.limits } : {}),
      ...(needs.rank ? { rank: needs.rank } : {}),
    },
    messages,
  };
}

/** NUL ends a C string, so no argument or environment entry can hold it; a name also holds no `=`. */
const NOT_IN_VALUE = /\0/;
const NOT_IN_NAME = /[\0-\x1f\x7f=]/;
const codePoint = (text: string, pattern: RegExp): string => {
  const found = pattern.exec(text)?.[0] ?? '';
  return found === '=' ? "'='" : `U+${found.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
};

/**
 * What cannot reach a process is refused when the request arrives, naming the item, rather than
 * offered, accepted and failed when the run starts: a NUL in a command item or an environment
 * value, a control character or `=` in an environment variable's name, an empty name.
 */
export function checkProcessText(executable: { command?: readonly string[]; environment?: ReadonlyArray<readonly [string, string]> }): Message[] {
  const messages: Message[] = [];
  const refuse = (template: string, values: Record<string, string | number>) => messages.push(makeMessage('urn:invalid-value', 'ERROR', template, values));
  (executable.command ?? []).forEach((item, index) => {
    if (NOT_IN_VALUE.test(item)) refuse('executable command item [{index}] holds {character}, which cannot reach a process', { index, character: codePoint(item, NOT_IN_VALUE) });
  });
  for (const [name, value] of executable.environment ?? []) {
    const shown = JSON.stringify(name).slice(1, -1).slice(0, 100);
    if (name === '') refuse('executable environment variable names cannot be empty', {});
    else if (NOT_IN_NAME.test(name)) refuse('executable environment variable name [{name}] holds {character}, which no variable name can hold', { name: shown, character: codePoint(name, NOT_IN_NAME) });
    if (NOT_IN_VALUE.test(value)) refuse('executable environment variable [{name}] holds {character} in its value, which cannot reach a process', { name: shown, character: codePoint(value, NOT_IN_VALUE) });
  }
  return messages;
}
