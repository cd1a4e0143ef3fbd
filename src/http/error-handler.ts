import type { ErrorRequestHandler } from 'express';
import { BrokerError, isBrokerError } from '../domain/errors.js';
import { encodeBody } from '../protocol/codecs/body-codec.js';
import { ERROR_CATALOGUE } from '../protocol/error-catalogue.js';
import { problemFormat } from '../protocol/media-types.js';
import { problemDocument } from '../protocol/problem-document.js';

/** What ioredis says when Redis cannot be reached, or does not answer within the command time-out. */
const REDIS_UNREACHABLE = /Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Stream isn't writeable|Command timed out|Socket timeout|connect ETIMEDOUT/;

/** The one normaliser: whatever was thrown becomes a BrokerError with a stable code. */
export function normaliseError(error: unknown, bodyLimitBytes: number): BrokerError {
  if (isBrokerError(error)) return error;
  const failure = error as { type?: string; status?: number; name?: string; message?: string; code?: string };
  switch (failure.type) {
    case 'entity.too.large': return new BrokerError('body-too-large', { values: { limit: String(bodyLimitBytes) }, cause: error });
    case 'encoding.unsupported': return new BrokerError('unsupported-media-type', { values: { type: 'content-encoding' }, detail: failure.message, cause: error });
    case 'request.aborted': case 'request.size.invalid': case 'stream.encoding.set':
      return new BrokerError('malformed-body', { detail: failure.message, cause: error });
    default: break;
  }
  if (failure.name === 'MaxRetriesPerRequestError' || REDIS_UNREACHABLE.test(failure.message ?? '')) {
    return new BrokerError('service-unavailable', { cause: error });
  }
  // The router could not decode a path parameter (%E0%A4%A, say): the path, not the body, is at fault.
  if (failure.status === 400 && /^Failed to decode param/.test(failure.message ?? '')) return new BrokerError('malformed-path', { cause: error });
  if (typeof failure.status === 'number' && failure.status >= 400 && failure.status < 500) {
    return new BrokerError('malformed-body', { detail: failure.message, cause: error });
  }
  return new BrokerError('internal-error', { cause: error });
}

/** RFC 6750 challenge for an authentication failure, naming the error (quoted-string safe). */
function bearerChallenge(error: BrokerError): string | undefined {
  const challenge = ERROR_CATALOGUE[error.code].challenge;
  if (!challenge) return undefined;
  const quoted = (text: string): string => `"${text.replace(/[^\x20-\x7e]|["\\]/g, '')}"`;
  const params = ['realm="ExecutionBroker"'];
  if (challenge !== 'bare') {
    params.push(`error=${quoted(challenge)}`);
    params.push(`error_description=${quoted(error.values.reason ?? problemDocument(error).detail)}`);
    if (error.values.scope) params.push(`scope=${quoted(error.values.scope)}`);
  }
  return `Bearer ${params.join(', ')}`;
}

/**
 * AuthVO's challenge beside RFC 6750's on a 401, so that a VO client finds where to get a token:
 * `ivoa_bearer` with the OAuth standard's identifier and the issuer's discovery document.
 */
function ivoaChallenge(error: BrokerError, issuer: string | undefined): string | undefined {
  if (!issuer || ERROR_CATALOGUE[error.code].status !== 401) return undefined;
  const discovery = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  return `ivoa_bearer standard_id="ivo://ivoa.net/sso#OAuth", access_url="${discovery.replace(/["\\]/g, '')}"`;
}

export function errorHandler(options: { bodyLimitBytes: number; issuer?: string; logError: (error: unknown, context: { method: string; path: string }) => void }): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) { next(error); return; }
    const brokerError = normaliseError(error, options.bodyLimitBytes);
    const status = ERROR_CATALOGUE[brokerError.code].status;
    if (status >= 500) options.logError(brokerError.cause ?? error, { method: req.method, path: req.path });
    const negotiated = problemFormat(req.get('accept'));
    const body = encodeBody(problemDocument(brokerError, req.originalUrl), negotiated.format, 'Problem');
    if (brokerError.code === 'method-not-allowed' && brokerError.values.allowed) res.set('Allow', brokerError.values.allowed);
    const retryAfter = ERROR_CATALOGUE[brokerError.code].retryAfterSeconds;
    if (retryAfter !== undefined) res.set('Retry-After', String(retryAfter));
    // /metrics wants the scrapers' token, which no issuer gives: no ivoa_bearer there.
    const challenges = [bearerChallenge(brokerError), req.path === '/metrics' ? undefined : ivoaChallenge(brokerError, options.issuer)].filter((c): c is string => c !== undefined);
    if (challenges.length) res.set('WWW-Authenticate', challenges);
    res.status(status).type(`${negotiated.mediaType}; charset=utf-8`).vary('Accept').send(body);
  };
}
