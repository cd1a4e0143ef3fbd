import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 'v1';

/**
 * AES-256-GCM with a fresh 96-bit IV per seal. The context (a session's uuid) is authenticated
 * data: a sealed token moved to another session's key does not open. Sealed text is
 * `v1:<iv>:<ciphertext>:<tag>`, base64url.
 */
export class TokenCipher {
  constructor(private readonly key: Uint8Array) {
    if (key.length !== 32) throw new Error('the token key must be 32 bytes');
  }

  seal(plain: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(`${VERSION}:${context}`));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [VERSION, iv, body, cipher.getAuthTag()].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join(':');
  }

  /** The plain text, or undefined when it was sealed with another key or context, or altered. */
  open(sealed: string, context: string): string | undefined {
    const [version, iv, body, tag] = sealed.split(':');
    if (version !== VERSION || !iv || body === undefined || !tag) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(`${VERSION}:${context}`));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}
