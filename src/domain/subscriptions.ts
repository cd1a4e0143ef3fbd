import { isSessionPhase, type SessionPhase } from './phases.js';

/**
 * Who is told when a session changes phase: a webhook URL (Standard Webhooks, signed with a secret
 * the broker gives the requester once) or a mail address. Carried by a request's `srcnet.notify`
 * extension (or SRCNet's `contact_email`) to each of its sessions. Pure: whether a webhook's
 * address may be reached is decided by the egress policy (sites/notify-targets.ts).
 */
export interface Subscription {
  kind: 'webhook' | 'mail';
  /** The URL, or the `mailto:` URI. */
  target: string;
  /** The events that are told (phases, and EXPIRING), in the order the protocol lists them. */
  events: NotifyEventName[];
}

/**
 * What a subscriber can hear of: a session's phase change, or `EXPIRING`: the request's offer set
 * expires soon with none of its offers accepted (told once per offer set, NOTIFY_EXPIRING_BEFORE
 * ahead; never by default).
 */
export type NotifyEventName = SessionPhase | 'EXPIRING';
export const isNotifyEventName = (value: string): value is NotifyEventName => value === 'EXPIRING' || isSessionPhase(value);

/** What a webhook hears unless it says otherwise: a session ready to use, running, and its end. */
export const DEFAULT_WEBHOOK_EVENTS: readonly NotifyEventName[] = ['AVAILABLE', 'RUNNING', 'REJECTED', 'EXPIRED', 'COMPLETED', 'FAILED', 'CANCELLED'];
/** What a mail says unless told otherwise: ready to use, and how it ended. */
export const DEFAULT_MAIL_EVENTS: readonly NotifyEventName[] = ['AVAILABLE', 'COMPLETED', 'FAILED', 'CANCELLED'];
/** What a mail can say: those, and that the offers expire soon. */
export const MAIL_EVENTS: readonly NotifyEventName[] = ['EXPIRING', ...DEFAULT_MAIL_EVENTS];
/** What a webhook may ask for: the offers expiring soon, and every change after the offer (an offer is the request's own answer). */
export const WEBHOOK_EVENTS: readonly NotifyEventName[] = ['EXPIRING', 'ACCEPTED', 'REJECTED', 'EXPIRED', 'WAITING', 'PREPARING', 'AVAILABLE', 'RUNNING', 'RELEASING', 'COMPLETED', 'FAILED', 'CANCELLED'];

export const MAX_SUBSCRIPTIONS = 4;
const MAX_TARGET_LENGTH = 2048;
const MAIL_ADDRESS = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** A refused subscription: its target (as given, shortened) and why. */
export interface SubscriptionProblem { target: string; reason: string }

const shown = (text: string): string => (text.length > 120 ? `${text.slice(0, 117)}...` : text);

/** A mail address fit for a subscription, or undefined. */
export const isMailAddress = (address: string): boolean => address.length <= 254 && MAIL_ADDRESS.test(address);

/**
 * The extension's value: a list of targets, each a string (`https://...`, `mailto:...`) or
 * `{target, events}`. Returns the subscriptions, or the first problem.
 */
export function readSubscriptions(value: unknown): { subscriptions: Subscription[] } | { problem: SubscriptionProblem } {
  const items = Array.isArray(value) ? value : [value];
  if (items.length > MAX_SUBSCRIPTIONS) return { problem: { target: 'srcnet.notify', reason: `at most ${MAX_SUBSCRIPTIONS} subscriptions are taken, not ${items.length}` } };
  const subscriptions: Subscription[] = [];
  for (const item of items) {
    const read = readOne(item);
    if ('problem' in read) return read;
    subscriptions.push(read.subscription);
  }
  return { subscriptions };
}

function readOne(item: unknown): { subscription: Subscription } | { problem: SubscriptionProblem } {
  const record = typeof item === 'object' && item !== null && !Array.isArray(item) ? (item as Record<string, unknown>) : undefined;
  const target = typeof item === 'string' ? item.trim() : typeof record?.target === 'string' ? record.target.trim() : undefined;
  if (target === undefined) return { problem: { target: 'srcnet.notify', reason: 'each subscription is a URL, a mailto: address, or {target, events}' } };
  const problem = (reason: string) => ({ problem: { target: shown(target), reason } });
  if (target.length > MAX_TARGET_LENGTH) return problem(`a target may be at most ${MAX_TARGET_LENGTH} characters`);
  const kind = /^mailto:/i.test(target) ? 'mail' : /^https?:\/\//i.test(target) ? 'webhook' : undefined;
  if (!kind) return problem('a target is an http(s) URL or a mailto: address');
  if (kind === 'mail' && !isMailAddress(target.slice(7))) return problem('a mailto: target names one mail address, with no query');
  if (kind === 'webhook') {
    let url: URL;
    try { url = new URL(target); } catch { return problem('the URL cannot be parsed'); }
    if (url.username || url.password) return problem('a webhook URL may not carry a user name or password');
  }
  const allowed = kind === 'mail' ? MAIL_EVENTS : WEBHOOK_EVENTS;
  const asked = record?.events;
  if (asked !== undefined && (!Array.isArray(asked) || asked.length === 0 || !asked.every((e): e is string => typeof e === 'string'))) {
    return problem('events is a non-empty list of phase names');
  }
  const unknown = (asked ?? []).find((event) => !isNotifyEventName(event) || !allowed.includes(event));
  if (unknown !== undefined) return problem(`${shown(unknown)} is not an event a ${kind} subscription can ask for (${allowed.join(', ')})`);
  const wanted = new Set<string>(asked ?? (kind === 'mail' ? DEFAULT_MAIL_EVENTS : DEFAULT_WEBHOOK_EVENTS));
  return { subscription: { kind, target, events: allowed.filter((phase) => wanted.has(phase)) } };
}

/** Whether an offer set's offers still wait for an accept: one is open, and none was accepted (a sibling past OFFERED that was not rejected or expired). */
export const awaitsAccept = (offers: ReadonlyArray<{ phase: SessionPhase; expires: number }>, now: number): boolean =>
  offers.some((o) => o.phase === 'OFFERED' && o.expires > now) && offers.every((o) => o.phase === 'OFFERED' || o.phase === 'REJECTED' || o.phase === 'EXPIRED');

/** When an offer set made at `created`, expiring at `expires`, has its EXPIRING notice: `before` ahead, and never before it was made. */
export const expiringNoticeAt = (created: number, expires: number, before: number): number => Math.max(created, expires - before);

/** A session's URL as the subscriber is told it: no query, no fragment (where a token would be). */
export function withoutQuery(url: string): string {
  const cut = url.search(/[?#]/);
  return cut === -1 ? url : url.slice(0, cut);
}
