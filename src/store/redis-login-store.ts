import type { Redis } from 'ioredis';
import type { RedisKeys } from './redis-keys.js';

/** Where sealed login state lives: a login under way, or a browser's login session. */
export type LoginRecordKind = 'pending' | 'session';

/**
 * Browsers' login state in Redis, so that every API process serves every browser. Only sealed
 * text comes here, under the hash of the cookie that names it (a read of Redis gives no cookie).
 */
export class RedisLoginStore {
  constructor(private readonly redis: Redis, private readonly keys: RedisKeys) {}

  private key(kind: LoginRecordKind, id: string): string {
    return kind === 'pending' ? this.keys.pendingLogin(id) : this.keys.loginSession(id);
  }

  async put(kind: LoginRecordKind, id: string, sealed: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.key(kind, id), sealed, 'PX', Math.max(1, Math.ceil(ttlMs)));
  }

  async get(kind: LoginRecordKind, id: string): Promise<string | undefined> {
    return (await this.redis.get(this.key(kind, id))) ?? undefined;
  }

  /** Reads and deletes at once: a login under way completes once only. */
  async take(kind: LoginRecordKind, id: string): Promise<string | undefined> {
    return (await this.redis.getdel(this.key(kind, id))) ?? undefined;
  }

  async delete(kind: LoginRecordKind, id: string): Promise<void> {
    await this.redis.del(this.key(kind, id));
  }
}
