import type { SealedTokenStore, TokenVault } from '../broker/ports.js';
import { SecretToken } from '../domain/secret-token.js';
import type { TokenCipher } from './token-cipher.js';

/** Without an `exp`, a token is kept this long at most (sessions that end sooner delete it sooner). */
const DEFAULT_KEEP_MS = 24 * 3600_000;

/** User tokens sealed (AES-256-GCM, bound to the session) before they reach the store. */
export class SealedTokenVault implements TokenVault {
  constructor(private readonly cipher: TokenCipher, private readonly store: SealedTokenStore, private readonly now: () => number = Date.now) {}

  keep(sessionUuid: string, token: SecretToken): Promise<boolean> {
    const expiresAt = token.expiresAt ?? this.now() + DEFAULT_KEEP_MS;
    if (expiresAt <= this.now()) return Promise.resolve(false);
    const sealed = this.cipher.seal(JSON.stringify({ token: token.reveal(), expiresAt }), sessionUuid);
    return this.store.put(sessionUuid, sealed, expiresAt);
  }

  async open(sessionUuid: string): Promise<SecretToken | undefined> {
    const sealed = await this.store.get(sessionUuid);
    const plain = sealed === undefined ? undefined : this.cipher.open(sealed, sessionUuid);
    if (plain === undefined) return undefined;
    const { token, expiresAt } = JSON.parse(plain) as { token: string; expiresAt: number };
    return new SecretToken(token, expiresAt);
  }
}
