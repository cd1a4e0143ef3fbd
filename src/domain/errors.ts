/**
 * The one error model of the broker. Every failure that reaches a client is a BrokerError with a
 * stable code from this closed list; protocol/error-catalogue.ts maps each code once to an HTTP
 * status, a title and an ExecutionBroker message template. docs/errors.md lists them all.
 */
export const ERROR_CODES = [
  'malformed-body',
  'invalid-encoding',
  'forbidden-xml-construct',
  'document-too-complex',
  'invalid-document',
  'invalid-update',
  'invalid-uuid',
  'malformed-path',
  'invalid-query',
  'notify-refused',
  'not-found',
  'route-not-found',
  'outputs-removed',
  'method-not-allowed',
  'not-acceptable',
  'body-too-large',
  'request-timeout',
  'headers-too-large',
  'malformed-request',
  'unsupported-media-type',
  'transition-not-allowed',
  'offer-expired',
  'authentication-required',
  'invalid-token',
  'insufficient-scope',
  'insufficient-group',
  'forbidden',
  'cross-origin-request',
  'login-failed',
  'connector-unavailable',
  'service-unavailable',
  'identity-provider-unavailable',
  'internal-error',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface BrokerErrorOptions {
  /** Values for the message template; rendered into `detail` and kept as structured values. */
  values?: Record<string, string>;
  /** A human sentence that overrides the rendered template. */
  detail?: string;
  /** Itemised reasons (schema violations, for example). */
  reasons?: readonly string[];
  cause?: unknown;
}

export class BrokerError extends Error {
  readonly code: ErrorCode;
  readonly values: Record<string, string>;
  readonly detail: string | undefined;
  readonly reasons: readonly string[];

  constructor(code: ErrorCode, options: BrokerErrorOptions = {}) {
    super(options.detail ?? code, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BrokerError';
    this.code = code;
    this.values = options.values ?? {};
    this.detail = options.detail;
    this.reasons = options.reasons ?? [];
  }
}

export function isBrokerError(error: unknown): error is BrokerError {
  return error instanceof BrokerError;
}
