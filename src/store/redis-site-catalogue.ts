import type { Redis } from 'ioredis';
import type { CatalogueStatus, SiteCatalogueStore } from '../broker/refresh-site-catalogue.js';
import type { SiteCatalogue } from '../domain/site-catalogue.js';
import type { RedisKeys } from './redis-keys.js';

/**
 * The site capabilities catalogue in Redis: the last good one as one JSON value (written whole, so
 * a reader never sees half of one), and how the refreshes went in a hash.
 */
export class RedisSiteCatalogue implements SiteCatalogueStore {
  constructor(private readonly redis: Redis, private readonly keys: RedisKeys) {}

  async load(): Promise<SiteCatalogue | undefined> {
    const text = await this.redis.get(this.keys.siteCatalogue);
    return text ? (JSON.parse(text) as SiteCatalogue) : undefined;
  }

  async save(catalogue: SiteCatalogue, at: number): Promise<void> {
    await this.redis.multi()
      .set(this.keys.siteCatalogue, JSON.stringify(catalogue))
      .hset(this.keys.siteCatalogueStatus, 'lastAttempt', at, 'lastSuccess', at, 'fetchedAt', catalogue.fetchedAt)
      .hdel(this.keys.siteCatalogueStatus, 'lastError')
      .exec();
  }

  async recordFailure(at: number, reason: string): Promise<void> {
    await this.redis.hset(this.keys.siteCatalogueStatus, 'lastAttempt', at, 'lastError', reason);
  }

  async status(): Promise<CatalogueStatus> {
    const fields = await this.redis.hgetall(this.keys.siteCatalogueStatus);
    const number = (name: string): Record<string, number> => (fields[name] !== undefined ? { [name]: Number(fields[name]) } : {});
    return { ...number('fetchedAt'), ...number('lastAttempt'), ...number('lastSuccess'), ...(fields.lastError ? { lastError: fields.lastError } : {}) };
  }
}
