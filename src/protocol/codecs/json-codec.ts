import { BrokerError } from '../../domain/errors.js';

export function decodeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new BrokerError('malformed-body', { detail: `The body is not valid JSON: ${(cause as Error).message}`, cause });
  }
}

export function encodeJson(value: unknown): string {
  return JSON.stringify(value);
}
