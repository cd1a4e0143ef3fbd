/**
 * Every Redis key the broker writes, in one place. All keys share the configured prefix, so
 * several brokers (or test files) can share one Redis without meeting.
 */
export interface RedisKeys {
  prefix: string;
  offerSet(uuid: string): string;
  session(uuid: string): string;
  sessionMessages(uuid: string): string;
  sessionLog(uuid: string): string;
  /** The user's token, sealed, while a session whose site acts for the user has not ended. */
  sessionToken(uuid: string): string;
  hold(id: string): string;
  ledger(site: string): string;
  siteWorkers(site: string): string;
  /** Counts for /metrics, kept by the Lua scripts (lua-scripts.ts STATS_HELPERS). */
  stats: string;
  /** The pub/sub channel (not a key) on which one API process receives negotiation answers. */
  negotiationReplies(processId: string): string;
  /** The prefix BullMQ puts before its own keys. */
  bullPrefix: string;
}

export function redisKeys(prefix: string): RedisKeys {
  return {
    prefix,
    offerSet: (uuid) => `${prefix}:offerset:${uuid}`,
    session: (uuid) => `${prefix}:session:${uuid}`,
    sessionMessages: (uuid) => `${prefix}:session:${uuid}:messages`,
    sessionLog: (uuid) => `${prefix}:session:${uuid}:log`,
    sessionToken: (uuid) => `${prefix}:session:${uuid}:token`,
    hold: (id) => `${prefix}:hold:${id}`,
    ledger: (site) => `${prefix}:ledger:${site}`,
    siteWorkers: (site) => `${prefix}:workers:${site}`,
    stats: `${prefix}:stats`,
    negotiationReplies: (processId) => `${prefix}:negotiation-replies:${processId}`,
    bullPrefix: `${prefix}:bull`,
  };
}
