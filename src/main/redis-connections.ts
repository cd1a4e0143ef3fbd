import { Redis, type RedisOptions } from 'ioredis';

/**
 * What a connection is for decides how it waits for Redis:
 * - `store` (reads and Lua steps) and `producer` (adding BullMQ jobs) are on a request's path:
 *   every command is bounded by the command time-out, nothing waits in an offline queue, and
 *   nothing is sent again after a reconnect (a write the client was told failed must not happen
 *   later behind its back). Redis unreachable or stalled is a fast 503.
 * - `queue` is BullMQ's for its workers: their blocking reads must not time out and must retry for
 *   ever (BullMQ wants `maxRetriesPerRequest: null`), and the connections BullMQ duplicates from it
 *   inherit that.
 * Every role reconnects at most half a second apart, so that all is well again soon after Redis is.
 */
export type ConnectionRole = 'store' | 'producer' | 'queue';

export interface ConnectionSettings { commandTimeoutMs: number }

const RECONNECT_CAP_MS = 500;

export function redisOptions(role: ConnectionRole, settings: ConnectionSettings): RedisOptions {
  const common: RedisOptions = {
    connectionName: `eb-${role}`,
    retryStrategy: (times: number) => Math.min(50 * times, RECONNECT_CAP_MS),
  };
  if (role === 'queue') return { ...common, maxRetriesPerRequest: null };
  return {
    ...common,
    commandTimeout: settings.commandTimeoutMs,
    // A connection on which Redis says nothing for that long while a command waits (a stalled
    // path, a peer gone without a word) is dropped and made again: what waited on it fails at
    // once, and so does what is asked until it is ready again, rather than each waiting in turn.
    socketTimeout: settings.commandTimeoutMs,
    connectTimeout: settings.commandTimeoutMs * 3,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
  };
}

export interface BrokerConnections { queue: Redis; producer: Redis; store: Redis }

/**
 * The three connections of a broker process. The store's and the producer's share one path to
 * Redis: when either finds it silent, both are made again, so that a request that uses both
 * waits for one time-out, not two.
 */
export function openRedisConnections(url: string, settings: ConnectionSettings): BrokerConnections {
  const queue = new Redis(url, redisOptions('queue', settings));
  const producer = new Redis(url, redisOptions('producer', settings));
  const store = new Redis(url, redisOptions('store', settings));
  const failFast = [store, producer];
  for (const connection of failFast) {
    connection.on('error', (error: Error) => {
      if (!/^Socket timeout/.test(error.message)) return;
      for (const other of failFast) if (other !== connection && other.status === 'ready') other.disconnect(true);
    });
  }
  return { queue, producer, store };
}

/**
 * Resolves once the connection is ready; rejects with the connection's error if the first attempt
 * fails, or after `timeoutMs` (a connection without an offline queue refuses commands until then).
 */
export function whenReady(connection: Redis, timeoutMs: number): Promise<void> {
  if (connection.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (error?: Error): void => {
      clearTimeout(timer);
      connection.off('ready', onReady);
      connection.off('error', onError);
      if (error) reject(error); else resolve();
    };
    const onReady = (): void => done();
    const onError = (error: Error): void => done(error);
    const timer = setTimeout(() => done(new Error(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
    connection.once('ready', onReady);
    connection.once('error', onError);
  });
}
