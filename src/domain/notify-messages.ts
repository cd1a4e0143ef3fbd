import { withoutQuery, type NotifyEventName } from './subscriptions.js';

/**
 * One recorded event of a session with subscribers: a phase change (store/lua-scripts.ts notified()),
 * or EXPIRING, recorded on one open offer of its offer set (store/redis-notify-outbox.ts CLAIM_EXPIRING), with the offer set,
 * when its offers expire and which are open.
 */
export interface NotifyEvent { seq: number; phase: NotifyEventName; at: number; offerset?: string; expires?: number; offers?: string[] }

/**
 * One event as a subscriber hears of it: a phase change (nothing else of the session: no token,
 * no document), or EXPIRING, an offer set whose offers expire soon (`uuid` is the open offer the
 * event was recorded on, `url` the offer set's).
 */
export interface NotifyFacts {
  /** The event's id: the same on every attempt to deliver it (`webhook-id`). */
  id: string;
  uuid: string;
  phase: NotifyEventName;
  /** When the session changed phase, or the EXPIRING notice was due (ms). */
  at: number;
  /** The session's resource URL (EXPIRING: the offer set's). */
  url: string;
  /** EXPIRING: the offer set, when its offers expire (ms), and its open offers (uuid and URL). */
  offerSet?: string;
  expires?: number;
  offers?: Array<{ session: string; url: string }>;
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
  if (facts.phase === 'EXPIRING') {
    return {
      type: 'offerset.expiring',
      timestamp: time,
      data: {
        offerset: facts.offerSet,
        url: withoutQuery(facts.url),
        expires: new Date(facts.expires ?? facts.at).toISOString(),
        offers: (facts.offers ?? []).map((offer) => ({ session: offer.session, url: withoutQuery(offer.url) })),
      },
    };
  }
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
    case 'EXPIRING': {
      const expires = new Date(facts.expires ?? facts.at).toISOString();
      const offers = facts.offers ?? [];
      subject = `Offers ${(facts.offerSet ?? facts.uuid).slice(0, 8)} expire at ${expires.slice(11, 16)} UTC`;
      lines.push(`The offers you asked for (offer set ${facts.offerSet ?? ''}) expire at ${expires}; none is accepted yet.`);
      lines.push(`Accept one before then to keep it (${offers.length} open):`);
      for (const offer of offers) lines.push(`Offer: ${withoutQuery(offer.url)}`);
      lines.push(`Offer set: ${link}`);
      return finished(subject, lines);
    }
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
  return finished(subject, lines);
}

function finished(subject: string, lines: string[]): MailMessage {
  const text = `${lines.join('\n')}\n\n-- the SRCNet ExecutionBroker (you asked to be told; a token is never sent by mail)\n`;
  const linked = (line: string): string => escapeHtml(line).replace(/(https?:\/\/[^\s<]+)/g, '<a href="$1">$1</a>');
  const html = `<!doctype html><html><body>${lines.map((line) => `<p>${linked(line)}</p>`).join('')}<p><small>the SRCNet ExecutionBroker</small></p></body></html>`;
  return { subject, text, html };
}
