import type { Redis } from 'ioredis';
import type { SealedNotebookTokenStore, SealedTokenStore } from '../broker/ports.js';
import type { RedisKeys } from './redis-keys.js';
import { brokerScripts } from './redis-scripts.js';

/**
 * Sealed user tokens beside their sessions (`<prefix>:session:<uuid>:token`), expiring with the
 * token and deleted by the Lua step that ends the session. Only sealed text ever comes here.
 */
export class RedisSealedTokens implements SealedTokenStore {
  private readonly scripts;

  constructor(private readonly redis: Redis, private readonly keys: RedisKeys) {
    this.scripts = brokerScripts(redis);
  }

  async put(sessionUuid: string, sealed: string, expiresAt: number): Promise<boolean> {
    return Number(await this.scripts.ebKeepToken(this.keys.prefix, sessionUuid, sealed, Math.ceil(expiresAt))) === 1;
  }

  async get(sessionUuid: string): Promise<string | undefined> {
    return (await this.redis.get(this.keys.sessionToken(sessionUuid))) ?? undefined;
  }
}

/** Sealed notebook server tokens beside their sessions (`<prefix>:session:<uuid>:notebook`), deleted by the Lua step that ends the session. */
export class RedisNotebookTokens implements SealedNotebookTokenStore {
  private readonly scripts;

  constructor(private readonly redis: Redis, private readonly keys: RedisKeys) {
    this.scripts = brokerScripts(redis);
  }

  async keep(sessionUuid: string, sealed: string, expiresAt: number): Promise<string | undefined> {
    const kept = await this.scripts.ebKeepNotebookToken(this.keys.prefix, sessionUuid, sealed, Math.ceil(expiresAt));
    return typeof kept === 'string' ? kept : undefined;
  }

  async get(sessionUuid: string): Promise<string | undefined> {
    return (await this.redis.get(this.keys.notebookToken(sessionUuid))) ?? undefined;
  }
}
