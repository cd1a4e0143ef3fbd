const REDACTED = '[redacted token]';

/**
 * A bearer token that says nothing about itself when printed, logged or serialised: the value
 * comes out only through reveal(), at the one place that sends or seals it.
 */
export class SecretToken {
  readonly #value: string;

  /** `expiresAt`: ms since the epoch (the token's `exp`), or undefined when unknown. */
  constructor(value: string, readonly expiresAt?: number) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string { return REDACTED; }
  toJSON(): string { return REDACTED; }
}
