import type { SessionPhase } from './phases.js';
import { withoutQuery } from './subscriptions.js';

/** One phase change as a subscriber hears of it (nothing else of the session: no token, no document). */
export interface NotifyFacts {
  /** The event's id: the same on every attempt to deliver it (`webhook-id`). */
  id: string;
  uuid: string;
  phase: SessionPhase;
  /** When the session changed phase (ms). */
  at: number;
  /** The session's resource URL. */
  url: string;
  site: string;
  /** AVAILABLE: where to reach the session (a notebook's URL), without any query (its token). */
  connectors?: string[];
  /** COMPLETED: where its outputs are listed. */
  outputsUrl?: string;
  /** FAILED: why. */
  reason?: string;
}

/** The id of a session's n-th notified change: colon-free and dot-free (it is signed as "id.timestamp.body"). */
export const eventId = (uuid: string, seq: number): string => `msg_${uuid}_${seq}`;

/** The webhook body, Standard Webhooks' recommended shape: {type, timestamp, data}. */
export function webhookPayload(facts: NotifyFacts): Record<string, unknown> {
  const time = new Date(facts.at).toISOString();
  return {
    type: `session.${facts.phase.toLowerCase()}`,
    timestamp: time,
    data: {
      session: facts.uuid,
      phase: facts.phase,
      time,
      url: withoutQuery(facts.url),
      site: facts.site,
      ...(facts.connectors?.length ? { connectors: facts.connectors.map(withoutQuery) } : {}),
      ...(facts.outputsUrl ? { outputs: withoutQuery(facts.outputsUrl) } : {}),
      ...(facts.reason ? { reason: facts.reason } : {}),
    },
  };
}

export interface MailMessage { subject: string; text: string; html: string }

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The mail for a phase change, or undefined for a phase mail does not tell. */
export function mailFor(facts: NotifyFacts): MailMessage | undefined {
  const short = facts.uuid.slice(0, 8);
  const time = new Date(facts.at).toISOString();
  const link = withoutQuery(facts.url);
  let subject: string;
  const lines: string[] = [];
  switch (facts.phase) {
    case 'AVAILABLE':
      subject = `Session ${short} is available`;
      lines.push(`Your session ${facts.uuid} on site ${facts.site} is available since ${time}.`);
      for (const connector of facts.connectors ?? []) lines.push(`Connect: ${withoutQuery(connector)}`);
      break;
    case 'COMPLETED':
      subject = `Session ${short} completed`;
      lines.push(`Your session ${facts.uuid} on site ${facts.site} completed at ${time}.`);
      if (facts.outputsUrl) lines.push(`Outputs: ${withoutQuery(facts.outputsUrl)}`);
      break;
    case 'FAILED':
      subject = `Session ${short} failed`;
      lines.push(`Your session ${facts.uuid} on site ${facts.site} failed at ${time}.`);
      if (facts.reason) lines.push(`Reason: ${facts.reason}`);
      break;
    case 'CANCELLED':
      subject = `Session ${short} was cancelled`;
      lines.push(`Your session ${facts.uuid} on site ${facts.site} was cancelled at ${time}.`);
      break;
    default:
      return undefined;
  }
  lines.push(`Session: ${link}`);
  const text = `${lines.join('\n')}\n\n-- the SRCNet ExecutionBroker (you asked to be told; a token is never sent by mail)\n`;
  const linked = (line: string): string => escapeHtml(line).replace(/(https?:\/\/[^\s<]+)/g, '<a href="$1">$1</a>');
  const html = `<!doctype html><html><body>${lines.map((line) => `<p>${linked(line)}</p>`).join('')}<p><small>the SRCNet ExecutionBroker</small></p></body></html>`;
  return { subject, text, html };
}
