import { randomBytes } from 'node:crypto';
import type { NotebookTokens, SealedNotebookTokenStore } from '../broker/ports.js';
import { SecretToken } from '../domain/secret-token.js';
import type { TokenCipher } from './token-cipher.js';

/** What the seal is bound to besides the session: a sealed user token moved here does not open. */
const context = (sessionUuid: string): string => `notebook:${sessionUuid}`;

/**
 * Notebook servers' tokens: 256 random bits each (base64url), sealed (AES-256-GCM, bound to the
 * session) before they reach the store. Every process that seals or opens them must share the
 * token key (`TOKEN_KEY`), as for user tokens.
 */
export class SealedNotebookTokens implements NotebookTokens {
  constructor(private readonly cipher: TokenCipher, private readonly store: SealedNotebookTokenStore) {}

  async issue(sessionUuid: string, keepUntil: number): Promise<SecretToken | undefined> {
    const made = randomBytes(32).toString('base64url');
    const kept = await this.store.keep(sessionUuid, this.cipher.seal(made, context(sessionUuid)), keepUntil);
    const plain = kept === undefined ? undefined : this.cipher.open(kept, context(sessionUuid));
    return plain === undefined ? undefined : new SecretToken(plain);
  }

  async read(sessionUuid: string): Promise<SecretToken | undefined> {
    const sealed = await this.store.get(sessionUuid);
    const plain = sealed === undefined ? undefined : this.cipher.open(sealed, context(sessionUuid));
    return plain === undefined ? undefined : new SecretToken(plain);
  }
}
