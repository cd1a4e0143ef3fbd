import type { ErrorCode } from '../domain/errors.js';

export interface CatalogueEntry {
  status: number;
  title: string;
  /** A Message Templates sentence, rendered with the error's values into the problem's detail. */
  template: string;
  /**
   * The RFC 6750 challenge sent in `WWW-Authenticate: Bearer`: `bare` names no error (a request
   * without a token), otherwise the error code it names.
   */
  challenge?: 'bare' | 'invalid_token' | 'insufficient_scope';
  /** For a failure that passes by itself: the `Retry-After` (seconds) sent with it. */
  retryAfterSeconds?: number;
}

/** A client may try again this soon after a 503: the broker reconnects within a second of Redis's return. */
export const RETRY_AFTER_SECONDS = 2;

/**
 * The one table from error code to HTTP status and message. docs/errors.md explains each code
 * and how to solve it; a test keeps the two in step.
 */
export const ERROR_CATALOGUE: Record<ErrorCode, CatalogueEntry> = {
  'malformed-body': { status: 400, title: 'Malformed body', template: 'The request body cannot be parsed' },
  'invalid-encoding': { status: 400, title: 'Invalid encoding', template: 'The request body is not valid UTF-8' },
  'forbidden-xml-construct': { status: 400, title: 'Forbidden XML construct', template: 'XML with a DOCTYPE or entity declarations is refused' },
  'document-too-complex': { status: 400, title: 'Document too complex', template: 'The document is nested too deeply or has too many values' },
  'invalid-document': { status: 400, title: 'Invalid document', template: 'The document does not match the ExecutionBroker v1.0 schema' },
  'invalid-update': { status: 400, title: 'Invalid update', template: 'The update cannot be applied: {reason}' },
  'invalid-uuid': { status: 400, title: 'Invalid identifier', template: '[{uuid}] is not a UUID' },
  'malformed-path': { status: 400, title: 'Malformed path', template: 'The path holds a percent-encoding that decodes to no text' },
  'invalid-query': { status: 400, title: 'Invalid query parameter', template: 'The query parameter {name} has a value the broker cannot use' },
  'notify-refused': { status: 400, title: 'Subscription refused', template: 'The subscription to [{target}] is refused: {reason}' },
  'not-found': { status: 404, title: 'Not found', template: 'No {what} with the identifier [{uuid}]' },
  'route-not-found': { status: 404, title: 'No such resource', template: 'Nothing is served at {method} {path}' },
  'outputs-removed': { status: 410, title: 'Outputs removed', template: 'The outputs of session [{uuid}] were removed from site {site} at {removed}, {retention} after the session ended' },
  'method-not-allowed': { status: 405, title: 'Method not allowed', template: '{method} is not allowed on {path}; allowed: {allowed}' },
  'not-acceptable': { status: 406, title: 'Not acceptable', template: 'None of [{accept}] can be produced; the broker writes application/json, application/xml and application/yaml' },
  'request-timeout': { status: 408, title: 'Request timeout', template: 'The request did not arrive within {seconds} s ({part} had not all arrived)' },
  'headers-too-large': { status: 431, title: 'Request headers too large', template: 'The request\'s headers are larger than the server accepts' },
  'malformed-request': { status: 400, title: 'Malformed request', template: 'The bytes received are not an HTTP/1.1 request' },
  'body-too-large': { status: 413, title: 'Body too large', template: 'The request body is larger than {limit} bytes' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type', template: 'Content-Type [{type}] is not supported; send application/json, application/xml or application/yaml' },
  'transition-not-allowed': { status: 409, title: 'Transition not allowed', template: 'Session [{uuid}] is {phase}; it cannot become {target} (allowed now: {allowed})' },
  'offer-expired': { status: 409, title: 'Offer expired', template: 'The offer [{uuid}] expired at {expires}' },
  'authentication-required': { status: 401, title: 'Authentication required', template: 'This resource needs a bearer token from {issuer}', challenge: 'bare' },
  'invalid-token': { status: 401, title: 'Invalid token', template: 'The bearer token is refused: {reason}', challenge: 'invalid_token' },
  'insufficient-scope': { status: 403, title: 'Insufficient scope', template: 'The token lacks the scope [{scope}]', challenge: 'insufficient_scope' },
  'insufficient-group': { status: 403, title: 'Insufficient group', template: 'The token\'s subject is in none of the groups [{groups}]', challenge: 'insufficient_scope' },
  'forbidden': { status: 403, title: 'Forbidden', template: '{reason}' },
  'cross-origin-request': { status: 403, title: 'Cross-origin request', template: 'A request that changes something, made with the login cookie, must come from this broker\'s own page ({origin}), not from {from}' },
  'login-failed': { status: 400, title: 'Login failed', template: 'The login did not complete: {reason}' },
  'connector-unavailable': { status: 502, title: 'Connector unavailable', template: 'The session\'s interactive connector cannot be reached: {reason}' },
  'service-unavailable': { status: 503, title: 'Service unavailable', template: 'The broker cannot reach its store; try again shortly', retryAfterSeconds: RETRY_AFTER_SECONDS },
  'identity-provider-unavailable': { status: 503, title: 'Identity provider unavailable', template: 'The broker cannot reach the identity provider to check the token; try again shortly', retryAfterSeconds: RETRY_AFTER_SECONDS },
  'internal-error': { status: 500, title: 'Internal error', template: 'The broker failed to handle the request' },
};

export const problemTypeUri = (code: ErrorCode): string => `urn:srcnet:execution-broker:error:${code}`;
