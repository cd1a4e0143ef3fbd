import type { SessionSlot, Span, WireDocument } from '../broker/ports.js';
import { parseDuration, parseInstant, parseInterval } from '../domain/iso8601.js';

type Doc = Record<string, unknown>;

const record = (value: unknown): Doc | undefined =>
  (value && typeof value === 'object' && !Array.isArray(value) ? (value as Doc) : undefined);

/** `{start, duration}` of one phase of a schedule; the start may be an interval (a start window). */
function phaseSpan(value: unknown): (Span & { latestStart: number }) | undefined {
  const phase = record(value);
  if (typeof phase?.start !== 'string' || typeof phase.duration !== 'string') return undefined;
  const duration = parseDuration(phase.duration);
  if (!duration.ok) return undefined;
  let start = parseInstant(phase.start);
  let latestStart = start;
  if (start === undefined) {
    const interval = parseInterval(phase.start);
    if (!interval.ok) return undefined;
    start = interval.interval.start;
    latestStart = interval.interval.end;
  }
  return { start, end: start + duration.ms, latestStart: latestStart ?? start };
}

const amount = (value: unknown): number => {
  const range = record(value);
  return typeof range?.min === 'number' ? range.min : 0;
};

/**
 * A stored session document's schedule and size, for lists and timelines (the broker keeps it
 * beside the document); undefined for a document without a readable schedule.
 */
export function sessionSlot(document: WireDocument): SessionSlot | undefined {
  const schedule = record(document.schedule);
  const preparing = phaseSpan(schedule?.preparing);
  const available = phaseSpan(schedule?.available);
  const releasing = phaseSpan(schedule?.releasing);
  if (!preparing || !available || !releasing) return undefined;
  const compute = record(document.compute);
  const gpu = record(compute?.['srcnet.gpu']);
  const name = record(document.meta)?.name;
  return {
    ...(typeof name === 'string' && name ? { name } : {}),
    preparing: { start: preparing.start, end: preparing.end },
    available,
    releasing: { start: releasing.start, end: releasing.end },
    cores: amount(compute?.cores),
    memoryGiB: amount(compute?.memory),
    ...(gpu && typeof gpu.count === 'number' && typeof gpu.model === 'string' ? { gpu: { model: gpu.model, count: gpu.count } } : {}),
  };
}
