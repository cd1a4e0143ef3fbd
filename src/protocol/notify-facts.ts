import type { SessionRecord } from '../broker/ports.js';
import { eventId, type NotifyEvent, type NotifyFacts } from '../domain/notify-messages.js';
import { sessionConnectors } from './session-connectors.js';

/**
 * What a subscriber is told of one phase change: the session's URL; on AVAILABLE, where to reach
 * it (connector locations: a notebook's URL without its token is cut later, in the messages); on
 * COMPLETED, its outputs' URL; on FAILED, the last error it said. `session` is read at delivery
 * (undefined once it is gone). EXPIRING: the offer set, its open offers and their expiry, as the event recorded them.
 */
export function notifyFacts(event: NotifyEvent & { uuid: string }, session: SessionRecord | undefined, baseUrl: string): NotifyFacts {
  if (event.phase === 'EXPIRING') {
    // The offer set's notice: where to accept one of its open offers, before when.
    return {
      id: eventId(event.uuid, event.seq), uuid: event.uuid, phase: event.phase, at: event.at,
      url: `${baseUrl}/offersets/${event.offerset ?? ''}`, site: session?.site ?? '',
      offerSet: event.offerset ?? '', expires: event.expires ?? event.at,
      offers: (event.offers ?? []).map((uuid) => ({ session: uuid, url: `${baseUrl}/sessions/${uuid}` })),
    };
  }
  const facts: NotifyFacts = { id: eventId(event.uuid, event.seq), uuid: event.uuid, phase: event.phase, at: event.at, url: `${baseUrl}/sessions/${event.uuid}`, site: session?.site ?? '' };
  if (!session) return facts;
  if (event.phase === 'AVAILABLE' || event.phase === 'RUNNING') {
    const locations = sessionConnectors(session, baseUrl).map((c) => c.location).filter((l): l is string => typeof l === 'string');
    if (locations.length) facts.connectors = locations;
  }
  if (event.phase === 'COMPLETED') facts.outputsUrl = `${baseUrl}/sessions/${event.uuid}/outputs`;
  if (event.phase === 'FAILED') {
    const error = [...session.messages].reverse().find((m) => m.level === 'ERROR');
    if (error) facts.reason = error.message;
  }
  return facts;
}
