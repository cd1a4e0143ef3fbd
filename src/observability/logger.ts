import { pino, type DestinationStream, type Logger } from 'pino';
import { currentRequestId } from './request-context.js';

export type { Logger };

/**
 * The broker's structured logs: one JSON object per line on stdout (pino), with the process's
 * role, and the request id where there is one. Anything that could carry a credential is
 * redacted, whatever logs it: the broker never writes a token to its logs.
 */
export function createLogger(role: string, options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino({
    base: { service: 'srcnet-eb', role },
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: () => {
      const requestId = currentRequestId();
      return requestId ? { requestId } : {};
    },
    redact: {
      paths: ['authorization', 'token', 'accessToken', 'access_token', 'refreshToken', 'password', 'secret',
        '*.authorization', '*.token', '*.accessToken', '*.access_token', 'headers.authorization', 'req.headers.authorization'],
      censor: '[redacted]',
    },
  }, (options.destination ?? process.stdout) as DestinationStream);
}

/** A logger that writes nothing (tests and embedded uses that do not want logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
