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
  notebookToken(uuid: string): string;
  hold(id: string): string;
  ledger(site: string): string;
  siteWorkers(site: string): string;
  /** What each worker of a site can run (worker id -> JSON of its kinds), beaten with its heartbeat. */
  siteAbilities(site: string): string;
  /** What each live worker of a site makes its runs with, by name (JSON list per worker id), for the catalogue. */
  siteExecutors(site: string): string;
  /** Counts for /metrics, kept by the Lua scripts (lua-scripts.ts PHASE_HELPERS). */
  stats: string;
  /** What ended sessions used, per site and per owner (lua-scripts.ts CHARGE_HELPER). */
  usage: string;
  /** The pub/sub channel (not a key) on which one API process receives negotiation answers. */
  negotiationReplies(processId: string): string;
  /** A negotiation job's reply, kept a minute for an API process whose subscription was cut (queue/negotiation-worker.ts). */
  negotiationAnswer(jobId: string): string;
  /** The group of each worker of a site (worker id -> the sites its process serves), beaten with its heartbeat. */
  siteGroups(site: string): string;
  /** Every session, and each owner's, newest first (lua-scripts.ts PHASE_HELPERS, indexed()). */
  sessionsByTime: string;
  sessionsOf(owner: string): string;
  /** The sessions holding capacity on a site, by the start of their hold, and each site's longest hold. */
  reservations(site: string): string;
  reservationSpans: string;
  /** Each site's sessions by when their next step is due (the outbox, lua-scripts.ts due()). */
  due(site: string): string;
  /** The pub/sub channel (not a key) of phase-change notices, fanned out to event streams. */
  sessionEvents: string;
  /** The notification outbox (lua-scripts.ts notified()): sessions with undelivered events, their events, each subscriber's cursor. */
  notifyDue: string;
  /** Offer sets whose EXPIRING subscribers are to be told, scored by when (SAVE_OFFER_SET, redis-notify-outbox.ts claimExpiring()). */
  notifyExpiring: string;
  /** Holds awaiting their offer's expiry: a sorted set of hold ids by expiry (lua-scripts.ts EXPIRE_DUE). */
  offerExpiry: string;
  notifyEvents(uuid: string): string;
  notifyCursor(uuid: string): string;
  /** What each event tells, fixed at its first attempt (redis-notify-outbox.ts facts()). */
  notifyFacts(uuid: string): string;
  /** The key webhook secrets are sealed with when no TOKEN_KEY is given (redis-notify-outbox.ts sharedNotifyKey()). */
  notifyKey: string;
  /** The pub/sub channel (not a key) on which the Lua steps name sessions with a new event to tell (a hint). */
  notifyWake: string;
  /** A browser's login session (its tokens, sealed), by the hash of the cookie that names it. */
  loginSession(id: string): string;
  /** A login under way (PKCE verifier, state, nonce, sealed), by the hash of its cookie. */
  pendingLogin(id: string): string;
  /** The prefix BullMQ puts before its own keys. */
  bullPrefix: string;
  /** The last good site capabilities catalogue (JSON), and how its refreshes went (a hash). */
  siteCatalogue: string;
  siteCatalogueStatus: string;
  /** The holds that keep a site's declared downtimes out of its calendar (their ids). */
  downtimes(site: string): string;
}

export function redisKeys(prefix: string): RedisKeys {
  return {
    prefix,
    offerSet: (uuid) => `${prefix}:offerset:${uuid}`,
    session: (uuid) => `${prefix}:session:${uuid}`,
    sessionMessages: (uuid) => `${prefix}:session:${uuid}:messages`,
    sessionLog: (uuid) => `${prefix}:session:${uuid}:log`,
    sessionToken: (uuid) => `${prefix}:session:${uuid}:token`,
    notebookToken: (uuid) => `${prefix}:session:${uuid}:notebook`,
    hold: (id) => `${prefix}:hold:${id}`,
    ledger: (site) => `${prefix}:ledger:${site}`,
    siteWorkers: (site) => `${prefix}:workers:${site}`,
    siteAbilities: (site) => `${prefix}:abilities:${site}`,
    siteExecutors: (site) => `${prefix}:executors:${site}`,
    stats: `${prefix}:stats`,
    usage: `${prefix}:usage`,
    negotiationReplies: (processId) => `${prefix}:negotiation-replies:${processId}`,
    negotiationAnswer: (jobId) => `${prefix}:negotiation-answer:${jobId}`,
    siteGroups: (site) => `${prefix}:groups:${site}`,
    sessionsByTime: `${prefix}:sessions-by-time`,
    sessionsOf: (owner) => `${prefix}:sessions-of:${owner}`,
    reservations: (site) => `${prefix}:reservations:${site}`,
    reservationSpans: `${prefix}:reservation-spans`,
    due: (site) => `${prefix}:due:${site}`,
    sessionEvents: `${prefix}:session-events`,
    notifyDue: `${prefix}:notify-due`,
    notifyExpiring: `${prefix}:notify-expiring`,
    offerExpiry: `${prefix}:offer-expiry`,
    notifyEvents: (uuid) => `${prefix}:notify-events:${uuid}`,
    notifyCursor: (uuid) => `${prefix}:notify-cursor:${uuid}`,
    notifyFacts: (uuid) => `${prefix}:notify-facts:${uuid}`,
    notifyKey: `${prefix}:notify-key`,
    notifyWake: `${prefix}:notify-wake`,
    loginSession: (id) => `${prefix}:login:${id}`,
    pendingLogin: (id) => `${prefix}:login-pending:${id}`,
    bullPrefix: `${prefix}:bull`,
    siteCatalogue: `${prefix}:site-catalogue`,
    siteCatalogueStatus: `${prefix}:site-catalogue:status`,
    downtimes: (site) => `${prefix}:downtimes:${site}`,
  };
}
