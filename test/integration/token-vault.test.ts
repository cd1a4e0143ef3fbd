import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { ExchangingSiteCredentials } from '../../src/auth/site-credentials.js';
import { TokenCipher } from '../../src/auth/token-cipher.js';
import type { TokenExchangeClient } from '../../src/auth/token-exchange-client.js';
import { SealedTokenVault } from '../../src/auth/token-vault.js';
import { makeMessage } from '../../src/domain/messages.js';
import { SecretToken } from '../../src/domain/secret-token.js';
import { RedisBrokerStore } from '../../src/store/redis-broker-store.js';
import { redisKeys } from '../../src/store/redis-keys.js';
import { RedisSealedTokens } from '../../src/store/redis-sealed-tokens.js';
import { deleteKeys, randomPrefix, redisUrl } from '../support/test-broker.js';

/** The user's token at rest in Redis: sealed, expiring with the token, gone when its session ends. */
describe('the token vault', () => {
  const redis = new Redis(redisUrl());
  const keys = redisKeys(randomPrefix());
  const store = new RedisBrokerStore(redis, keys, { retentionMs: 60_000 });
  const vault = new SealedTokenVault(new TokenCipher(randomBytes(32)), new RedisSealedTokens(redis, keys));
  afterAll(async () => {
    await deleteKeys(redis, keys.prefix);
    await redis.quit();
  });

  async function session(phase: 'ACCEPTED' | 'OFFERED' = 'ACCEPTED'): Promise<string> {
    const uuid = randomUUID();
    await redis.hset(keys.session(uuid), 'phase', phase, 'offerset', randomUUID(), 'owner', 'alice');
    return uuid;
  }

  it('keeps the token sealed until it expires, and opens it for the same session only', async () => {
    const uuid = await session();
    const expiresAt = Date.now() + 60_000;
    expect(await vault.keep(uuid, new SecretToken('header.payload.signature-in-clear', expiresAt))).toBe(true);
    const stored = (await redis.get(keys.sessionToken(uuid))) ?? '';
    expect(stored).not.toContain('signature-in-clear');
    expect(await redis.pttl(keys.sessionToken(uuid))).toBeGreaterThan(50_000);
    expect(await redis.pttl(keys.sessionToken(uuid))).toBeLessThanOrEqual(60_000);
    const opened = await vault.open(uuid);
    expect(opened?.reveal()).toBe('header.payload.signature-in-clear');
    expect(opened?.expiresAt).toBe(expiresAt);
    // Moved to another session's key, it does not open.
    const other = await session();
    await redis.set(keys.sessionToken(other), stored);
    expect(await vault.open(other)).toBeUndefined();
  });

  it('deletes the token in the same step as the session ends, and keeps none for an ended session', async () => {
    const uuid = await session();
    await vault.keep(uuid, new SecretToken('t', Date.now() + 60_000));
    expect(await store.finish(uuid, ['ACCEPTED'], 'FAILED', Date.now(), makeMessage('urn:session-failed', 'ERROR', 'test'))).toBe(true);
    expect(await redis.exists(keys.sessionToken(uuid))).toBe(0);
    expect(await vault.keep(uuid, new SecretToken('t', Date.now() + 60_000))).toBe(false);
    expect(await redis.exists(keys.sessionToken(uuid))).toBe(0);
    expect(await vault.keep(randomUUID(), new SecretToken('t', Date.now() + 60_000))).toBe(false); // no such session
  });

  it('deletes it when the client cancels', async () => {
    const uuid = await session();
    await vault.keep(uuid, new SecretToken('t', Date.now() + 60_000));
    const note = makeMessage('urn:phase-change', 'INFO', 'cancelled');
    expect((await store.transition(uuid, 'CANCELLED', ['ACCEPTED'], Date.now(), note)).outcome).toBe('done');
    expect(await redis.exists(keys.sessionToken(uuid))).toBe(0);
  });

  it('keeps nothing already expired, and a site gets no token once the user\'s has expired', async () => {
    const uuid = await session();
    expect(await vault.keep(uuid, new SecretToken('t', Date.now() - 1))).toBe(false);
    let exchanged = 0;
    const client = { exchange: () => { exchanged += 1; return Promise.resolve({ refused: 'never asked' }); } } as unknown as TokenExchangeClient;
    const credentials = new ExchangingSiteCredentials(vault, client, { audience: 'site', hosts: [] });
    expect(await credentials.forSession(uuid)).toEqual({ refused: expect.stringMatching(/no longer kept: it expired before the site needed it/) });
    expect(exchanged).toBe(0);
  });
});
