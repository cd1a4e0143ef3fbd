/** ExecutionBroker MessageItem: a Message Templates message with its values and rendered text. */
export type MessageLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'OTHER';

export interface Message {
  kind: string;
  level: MessageLevel;
  template: string;
  values: Record<string, string>;
  message: string;
  time?: string;
}

/** Renders `{name}` placeholders (Message Templates syntax) from the values. */
export function renderTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{@?([A-Za-z0-9_]+)\}/g, (whole, name: string) =>
    Object.hasOwn(values, name) ? String(values[name]) : whole);
}

export function makeMessage(
  kind: string,
  level: MessageLevel,
  template: string,
  values: Record<string, string | number> = {},
): Message {
  const stringValues = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)]));
  return { kind, level, template, values: stringValues, message: renderTemplate(template, stringValues) };
}

export const isError = (message: Message): boolean => message.level === 'ERROR';

/** The message with the time it was said (an instant from the caller's clock). */
export function stamp(message: Message, now: number): Message {
  return { ...message, time: new Date(now).toISOString() };
}

/** Said when a session held for an executable got none in time (by its timer, or a late binding). */
export const unboundExpiredNote = (now: number): Message =>
  stamp(makeMessage('urn:offer-expired', 'INFO', 'No executable was bound to the held session in time; its capacity is released'), now);

/** Said by the expiry sweep and by a late accept alike. */
export const offerExpiredNote = (now: number): Message =>
  stamp(makeMessage('urn:offer-expired', 'INFO', 'The offer expired before it was accepted'), now);

/** The first line of a served log whose head was dropped (the site and the broker keep its end). */
export const droppedLogLine = (bytes: number): string => `[... ${bytes} bytes of log dropped: the end of the log is kept ...]\n`;
