import type { KindAbility } from '../domain/executable-abilities.js';
import type { Binding, BindOutcome } from '../broker/bind-executable.js';
import type { DirectOutcome } from '../broker/direct-execution.js';
import type { ProvisionOutcome } from '../broker/provision-session.js';
import type { OfferSetResult, OffersInput } from '../broker/request-offers.js';
import type { SessionPage, SessionQuery } from '../broker/list-sessions.js';
import type { Authenticator, LogChunk, OfferSetRecord, SessionEvent, SessionRecord } from '../broker/ports.js';
import type { SiteTimeline, TimelineWindow } from '../broker/site-timeline.js';
import type { ListedSite, SiteQuery } from '../broker/list-sites.js';
import type { SiteProfile } from '../domain/site-profile.js';
import type { SessionPhase } from '../domain/phases.js';
import type { Principal } from '../domain/principal.js';

/**
 * The use cases the HTTP layer calls, already bound to their dependencies by an entry point. Each
 * acts for a principal: what it creates is the principal's, and it reads and changes only what
 * the principal may (others' records are not found).
 */
export interface BrokerApi {
  requestOffers(input: OffersInput): Promise<OfferSetResult>;
  directExecution(input: Omit<OffersInput, 'owner'>, principal: Principal): Promise<DirectOutcome>;
  getOfferSet(uuid: string, principal: Principal): Promise<{ offerSet: OfferSetRecord; sessions: SessionRecord[] }>;
  getSession(uuid: string, principal: Principal): Promise<SessionRecord>;
  /** The token of the session's notebook server, for its owner alone while it runs (else undefined). */
  notebookToken(session: SessionRecord, principal: Principal): Promise<string | undefined>;
  updateSessionPhase(uuid: string, target: SessionPhase, principal: Principal): Promise<SessionRecord>;
  /** The session's log text so far (the site copies it to Redis while the session runs). */
  getSessionLog(uuid: string, principal: Principal): Promise<string>;
  /** The log after byte `from`, with the session's phase at the time of reading (to follow it). */
  readSessionLog(uuid: string, from: number, principal: Principal): Promise<LogChunk & { phase: SessionPhase }>;
  /** The files a COMPLETED session left in its outputs directory. */
  listSessionOutputs(uuid: string, principal: Principal): Promise<{ files: Array<{ path: string; size: number }>; truncated: boolean }>;
  /** One of them: its absolute path on this host, to send. */
  sessionOutputFile(uuid: string, segments: readonly string[], principal: Principal): Promise<{ path: string; size: number }>;
  /** Whether a provision could be had now: negotiated and released at once (SRCNet's query). */
  queryProvision(input: OffersInput): Promise<{ available: boolean; offerSet: OfferSetRecord }>;
  /** Capacity held for an executable bound later (SRCNet's provision). */
  provision(input: OffersInput): Promise<ProvisionOutcome>;
  /** Binds an executable and its data to a provision, for its owner only; its session then runs (SRCNet's submit). */
  bindExecutable(uuid: string, principal: Principal, binding: Binding): Promise<BindOutcome>;
  /** How the site capabilities catalogue's refreshes went; absent when the broker reads none. */
  siteCatalogueStatus?(): Promise<import('../broker/refresh-site-catalogue.js').CatalogueStatus>;
  /** Whether the broker can serve: its store answers and at least one site has a live worker. */
  availability(): Promise<{ available: boolean; note: string }>;
  /** The principal's sessions (an operator's: everyone's), newest first, a page at a time. */
  listSessions(query: SessionQuery, principal: Principal): Promise<SessionPage>;
  /**
   * Every site, whether a worker of it runs now, and its configured kinds as its live workers can
   * run them; with a query, the catalogue: the sites that match it, each with what its calendar
   * leaves free now and over the coming hours and its next downtime.
   */
  listSites(principal: Principal, query?: SiteQuery): Promise<ListedSite[]>;
  /** What holds capacity on a site over a window (others' reservations without who or what). */
  siteTimeline(site: string, window: TimelineWindow, principal: Principal): Promise<SiteTimeline>;
  /**
   * Phase changes of the sessions the principal may read, as they happen (`resync` after a gap,
   * `unavailable` when they stopped); resolves with the stop once they flow.
   */
  watchSessions(principal: Principal, listener: (event: SessionEvent) => void): Promise<() => void>;
}

export interface AppOptions {
  /** The broker's public base URL; otherwise taken from each request's Host. */
  publicUrl?: string;
  bodyLimitBytes: number;
  /** Who each request acts for (bearer tokens, or everyone anonymous). */
  authenticator: Authenticator;
  /** The issuer's URL, named in 401 challenges (AuthVO `ivoa_bearer`). */
  issuer?: string;
  /** The page's login (the broker as OAuth client); without it the page has no login and only bearer tokens work. */
  login?: import('../auth/browser-login.js').BrowserLogin;
  /** Routes mounted before authentication and the 404 handler (the benchmark's baseline route). */
  extraRoutes?: import('express').Router;
  logError(error: unknown, context: { method: string; path: string }): void;
  /** Structured request logs (none when absent). */
  logger?: import('../observability/logger.js').Logger;
  /** Request counts and the Prometheus exposition at /metrics (no /metrics when absent). */
  metrics?: import('./request-observer.js').RequestMetrics & { render(): Promise<{ contentType: string; body: string }> };
  /** When set, /metrics wants it as a bearer token (the scrapers'; never a user's). */
  metricsToken?: string;
  /** The built web page (dist/web) served at `/`; without it `/` says how to build it. */
  webRoot?: string;
  /** Aborted when the process begins to stop: event streams end at once (clients reconnect elsewhere). */
  shutdown?: AbortSignal;
  /** How often an event stream sends a comment to keep proxies from closing it (15 s). */
  eventHeartbeatMs?: number;
}
