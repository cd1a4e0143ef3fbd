import type { BindOutcome } from '../../broker/bind-executable.js';
import type { OfferSetRecord, SessionRecord } from '../../broker/ports.js';
import { isBrokerError } from '../../domain/errors.js';
import { formatInstant } from '../../domain/iso8601.js';
import type { Message } from '../../domain/messages.js';

/**
 * The engine's outcomes as the SRCNet compute API's response codes (its README's tables). The
 * codes travel in the body with HTTP 200; docs/srcnet-api.md lists how each is reached.
 */

export interface Answer { response_code: number; response_text: string }

const OK = 'OK';
/** The resource exists, but not now, or not before the deadline. */
const NOT_BOOKABLE = new Set(['urn:no-capacity', 'urn:schedule-unavailable', 'urn:offer-expired']);
/** A site that could serve it did not answer: the backend failed, not the request. */
const UNREACHABLE = new Set(['urn:site-unavailable', 'urn:site-failure']);

const sentences = (messages: readonly Message[]): string => [...new Set(messages.map((m) => m.message))].join('; ');

export const OK_ANSWER: Answer = { response_code: 0, response_text: OK };

/**
 * Why a query or provision got no offer, from the offer set's messages: 2 not bookable (a site has
 * it, but not now or not before the deadline), 3 a site that might have it did not answer, 1 not
 * available (no site has it at all).
 */
export function unavailableAnswer(offerSet: OfferSetRecord): Answer {
  const said = (kinds: ReadonlySet<string>) => offerSet.messages.filter((m) => kinds.has(m.kind));
  const busy = said(NOT_BOOKABLE);
  if (busy.length) return { response_code: 2, response_text: `Not bookable: ${sentences(busy)}` };
  const silent = said(UNREACHABLE);
  if (silent.length) return { response_code: 3, response_text: `Internal error: ${sentences(silent)}` };
  const missing = offerSet.messages.filter((m) => m.level === 'ERROR' && m.kind !== 'urn:no-offers');
  if (missing.length) return { response_code: 1, response_text: `Not available: ${sentences(missing)}` };
  return { response_code: 255, response_text: `Unexpected: ${sentences(offerSet.messages) || 'no site made an offer'}` };
}

/** When a provision's capacity lapses, as the prototype's clients parse it (an offset, not Z). */
export const validityText = (at: number): string => formatInstant(at).replace(/Z$/, '+00:00');

export function submitAnswer(outcome: BindOutcome, jobId: string): Answer & { job_id: string | null } {
  const answer = (response_code: number, response_text: string, id: string | null = null) => ({ response_code, response_text, job_id: id });
  switch (outcome.outcome) {
    case 'bound': return answer(0, OK, jobId);
    case 'refused': return answer(1, `Job cannot be executed: ${sentences(outcome.messages)}`);
    case 'not-found': return answer(2, 'Invalid provision: provision ID unknown');
    case 'expired': return answer(2, 'Invalid provision: provision expired');
    case 'used': return answer(2, 'Invalid provision: a job was submitted to this provision already');
    case 'ended': return answer(2, 'Invalid provision: the provision was cancelled');
    case 'not-owner': return answer(4, 'Access denied');
  }
}

export interface StatusAnswer extends Answer { logging: string; output_data: string | null }

/**
 * A provision's session as a job status: 1 while it is on its way, 0 when it completed, 5 when the
 * application failed (its exit status, or it outran its runtime), 6 when the site failed it, and 2
 * while no job was submitted (or the provision lapsed first).
 */
export function statusAnswer(session: SessionRecord, logging: string, outputsUrl: string): StatusAnswer {
  const answer = (response_code: number, response_text: string, withOutputs = true): StatusAnswer =>
    ({ response_code, response_text, logging, output_data: withOutputs ? outputsUrl : null });
  if (!session.provision) return answer(2, 'Invalid job: job does not exist', false);
  if (session.provision.boundAt === undefined) {
    return session.phase === 'EXPIRED'
      ? answer(2, 'Invalid job: the provision expired before a job was submitted', false)
      : answer(2, 'Invalid job: no job has been submitted to this provision', false);
  }
  const last = [...session.messages].reverse().find((m) => m.kind === 'urn:session-failed' || m.kind === 'urn:session-completed');
  switch (session.phase) {
    case 'COMPLETED':
      // The engine ends a run stopped at the end of its offered duration COMPLETED; a batch job that
      // did not finish in its runtime failed.
      return last?.template.startsWith('The offered duration ended')
        ? answer(5, `Execution error: the job did not finish within its runtime and was stopped`)
        : answer(0, OK);
    case 'FAILED':
      // Only an exit status is the application's doing; anything else is the site's.
      return last && Object.hasOwn(last.values, 'status')
        ? answer(5, `Execution error: ${last.message}`)
        : answer(6, `System error: ${last?.message ?? 'the site failed the job'}`);
    case 'CANCELLED': return answer(6, 'System error: the job was cancelled before it finished');
    case 'ACCEPTED': case 'WAITING': case 'PREPARING': case 'AVAILABLE': case 'RUNNING': case 'RELEASING':
      return answer(1, 'Running...');
    default: return answer(2, `Invalid job: the job is ${session.phase}`, false);
  }
}

/** A failure of the broker itself: 3 when its backend cannot be reached, 255 for anything unexpected. */
export function failureAnswer(error: unknown): Answer {
  if (isBrokerError(error) && error.code === 'service-unavailable') {
    return { response_code: 3, response_text: 'Internal error: could not connect to the backend' };
  }
  return { response_code: 255, response_text: 'Unexpected error' };
}
