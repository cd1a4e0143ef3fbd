import { BrokerError } from '../domain/errors.js';
import { makeMessage } from '../domain/messages.js';
import { SESSION_PHASES, type SessionPhase } from '../domain/phases.js';
import { readSubscriptions, type Subscription } from '../domain/subscriptions.js';
import { decodeBody } from './codecs/body-codec.js';
import { normaliseExecutionRequest, normaliseUpdate } from './dialect.js';
import type { KindFamily } from './kind-uris.js';
import { requestFormat } from './media-types.js';
import { readExecutionRequest, type ReadRequest } from './read-execution-request.js';
import { checkDocument, SYNTAX_KEYWORDS } from './validator.js';

export interface IncomingRequest extends ReadRequest {
  family: KindFamily;
  /** The request's `srcnet.notify` extension: who is told of its sessions' phase changes. */
  subscriptions?: Subscription[];
}

/** The `srcnet.notify` extension, read; a subscription that cannot be taken is a 400 `notify-refused`. */
function subscriptionsOf(document: unknown): Subscription[] | undefined {
  const value = typeof document === 'object' && document !== null ? (document as Record<string, unknown>)['srcnet.notify'] : undefined;
  if (value === undefined || value === null) return undefined;
  const read = readSubscriptions(value);
  if ('problem' in read) throw new BrokerError('notify-refused', { values: { target: read.problem.target, reason: read.problem.reason } });
  return read.subscriptions.length ? read.subscriptions : undefined;
}

const MAX_REASONS = 25;

/**
 * Body bytes -> a request the broker can negotiate. Unparseable input and documents of the wrong
 * structure (wrong types, missing required fields) throw a 400; values in the wrong syntax (a bad
 * duration, an unknown enum value) and unknown kinds become messages, and the answer is NO.
 */
export function readExecutionRequestBody(bytes: Uint8Array, contentType: string | undefined): IncomingRequest {
  const decoded = decodeBody(bytes, requestFormat(contentType), 'ExecutionRequest');
  const { document, family, messages } = normaliseExecutionRequest(decoded);
  const violations = checkDocument('ExecutionRequest', document);
  const structural = violations.filter((v) => !SYNTAX_KEYWORDS.has(v.keyword));
  if (structural.length) {
    throw new BrokerError('invalid-document', {
      reasons: structural.slice(0, MAX_REASONS).map((v) => `${v.pointer}: ${v.message}`),
      detail: `The document does not match the ExecutionBroker v1.0 schema: ${structural[0]?.pointer} ${structural[0]?.message}`,
    });
  }
  const read = readExecutionRequest(document);
  for (const v of violations) {
    if (v.pointer.endsWith('/kind')) continue;
    read.messages.push(makeMessage('urn:input-syntax-fail', 'ERROR', 'Value at {pointer} {problem}', { pointer: v.pointer, problem: v.message }));
  }
  const subscriptions = subscriptionsOf(decoded) ?? subscriptionsOf(document);
  return { ...read, messages: [...messages, ...read.messages], family, ...(subscriptions ? { subscriptions } : {}) };
}

const CLIENT_PATHS = new Set(['phase', '/phase', 'state', '/state']);
const PHASE_UPDATE_KINDS = new Set(['uri:enum-value-update', 'uri:string-value-update']);
const CLIENT_TARGETS: ReadonlySet<SessionPhase> = new Set(['ACCEPTED', 'REJECTED', 'CANCELLED']);

/** Body bytes -> the phase a client asks for. Anything else is a 400 `invalid-update`. */
export function readPhaseUpdateBody(bytes: Uint8Array, contentType: string | undefined): SessionPhase {
  const decoded = normaliseUpdate(decodeBody(bytes, requestFormat(contentType), 'AbstractUpdate'));
  const violations = checkDocument('AbstractUpdate', decoded);
  if (violations.length) {
    throw new BrokerError('invalid-update', {
      values: { reason: `${violations[0]?.pointer} ${violations[0]?.message}` },
      reasons: violations.slice(0, MAX_REASONS).map((v) => `${v.pointer}: ${v.message}`),
    });
  }
  const update = decoded as { kind: string; path: string; value?: unknown };
  if (!PHASE_UPDATE_KINDS.has(update.kind)) {
    throw new BrokerError('invalid-update', { values: { reason: `updates of kind [${update.kind}] are not supported; send uri:enum-value-update` } });
  }
  if (!CLIENT_PATHS.has(update.path)) {
    throw new BrokerError('invalid-update', { values: { reason: `path [${update.path}] cannot be updated; the only path is /phase` } });
  }
  const value = String(update.value);
  if (!(SESSION_PHASES as readonly string[]).includes(value) || !CLIENT_TARGETS.has(value as SessionPhase)) {
    throw new BrokerError('invalid-update', { values: { reason: `a client may set /phase to ACCEPTED, REJECTED or CANCELLED, not [${value}]` } });
  }
  return value as SessionPhase;
}
