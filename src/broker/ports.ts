import type { Quote, Tariff } from '../domain/quote-offer.js';
import type { Subscription } from '../domain/subscriptions.js';
import type { ShareCaps, ShareExceeded } from '../domain/fair-share.js';
import type { ResolvedNeeds } from '../domain/execution-needs.js';
import type { PublishedPort } from './executor.js';
import type { Message } from '../domain/messages.js';
import type { SessionPhase } from '../domain/phases.js';
import type { OfferPlan } from '../domain/plan-offers.js';
import type { SiteProfile } from '../domain/site-profile.js';
import type { ResourceAmounts } from '../domain/capacity-calendar.js';
import type { Principal } from '../domain/principal.js';
import type { SecretToken } from '../domain/secret-token.js';

/** A wire document the broker stores and echoes without looking inside (protocol/ builds it). */
export type WireDocument = Record<string, unknown>;

export interface SessionRecord {
  uuid: string;
  offerSetUuid: string;
  site: string;
  phase: SessionPhase;
  created: number;
  modified: number;
  /** When the offer lapses while OFFERED. */
  expires: number;
  /** The `kind` family the client used, so answers come back in it. */
  family: string;
  /** The offered session (components, schedule) without its changing parts (phase, messages). */
  document: WireDocument;
  messages: Message[];
  /** The executor's handle of the run, once the site has started one (its ports, its outputs). */
  run?: StoredRun;
  /** How far the data's staging has come, while PREPARING (bytes written and announced). */
  staging?: { bytesDone: number; bytesExpected?: number };
  /** Who asked for it (a token's subject, or `anonymous`): only they, and operators, see it. */
  owner: string;
  /** Set when the session was accepted to wait for its executable (an SRCNet provision). */
  provision?: ProvisionState;
  /** Every phase it has been in, oldest first, with when it moved there (recorded by the store). */
  history?: PhaseChange[];
  /** Its schedule and size for lists and timelines (from the plan; written with a new session). */
  slot?: SessionSlot;
  /** Who is told of its phase changes (written with the session, or with its binding). */
  notify?: SessionNotify;
  /** How the store charges it when it ends (written with the session; domain/quote-offer.ts). */
  tariff?: Tariff;
  /** What it used, written by the step that ended it (absent: it never held anything, or ended before costs were kept). */
  actuals?: SessionActuals;
}

/** What an ended session used (min = max), in the quote's units: money, kWh, gCO2; and when it stopped holding. */
export interface SessionActuals { monetary: number; energy: number; carbon: number; until: number }

/** A session's subscribers, and the webhooks' signing secret sealed (never the secret itself). */
export interface SessionNotify {
  subscriptions: Subscription[];
  sealedSecret?: string;
}

export interface PhaseChange { phase: SessionPhase; at: number }

/**
 * The step that must follow a phase change, recorded in the same atomic step as the change (an
 * outbox): a lifecycle step (with its job's seq for repeated ones), or a timer (`expire`, `unbound`).
 * A process killed before it adds the step's job leaves the step for the reconciler to find.
 */
export interface NextStep { step: string; seq?: number; at: number }

/** A session whose next step is due: its phase (none when it is gone) and that step. */
export interface DueSession { uuid: string; phase?: SessionPhase; next?: { step: string; seq?: number } }

/** From `start` to `end`, ms since the epoch. */
export interface Span { start: number; end: number }

/**
 * A session's schedule and size, as lists and timelines show them: read from its document when it
 * is stored (protocol/ knows the wire shape), so that listing sessions never parses documents.
 */
export interface SessionSlot {
  name?: string;
  preparing: Span;
  /** When the executable runs; it may begin as late as `latestStart` (a provision's slack). */
  available: Span & { latestStart: number };
  /** Its end is the end of the capacity held. */
  releasing: Span;
  cores: number;
  memoryGiB: number;
  gpu?: { model: string; count: number };
}

/** A session as listed: what it is, whose, where, in which phase, and its slot. */
export interface SessionListing {
  uuid: string;
  offerSetUuid: string;
  site: string;
  phase: SessionPhase;
  owner: string;
  created: number;
  modified: number;
  expires: number;
  slot?: SessionSlot;
  /** For a session held for an executable: the binding deadline, and when one was bound. */
  provision?: { bindBy: number; boundAt?: number };
}

/**
 * A page of the session index, newest first, each session with its position in the index (a page
 * may start after any of them); `last` is the position of the page's last entry.
 */
export interface SessionIndexPage {
  sessions: Array<{ session: SessionListing; position: string }>;
  last?: string;
  /** False when the index has nothing after this page. */
  more: boolean;
}

/** A phase change as the store announces it (never a token, nor anything of the document). */
export interface SessionNotice { uuid: string; owner: string; site: string; phase: SessionPhase; at: number }

/**
 * Notices of sessions' phase changes, as the store publishes them. They are hints: a notice may be
 * lost (a connection that drops), and `resync` says that some may have been, so that a reader
 * reads again what it shows.
 */
/**
 * What a listener of session events hears: a notice; `resync` when some may have been lost (read
 * everything again); `unavailable` when notices have stopped for a while (they may come back).
 */
export type SessionEvent = SessionNotice | 'resync' | 'unavailable';

export interface SessionEvents {
  /**
   * Resolves, with the function that stops them, once notices flow to the listener; refuses
   * (service-unavailable) while they cannot.
   */
  subscribe(listener: (event: SessionEvent) => void): Promise<() => void>;
}

/** What the API reads of a run's handle: where clients reach it, and where its outputs are. */
export interface StoredRun {
  ports?: PublishedPort[];
  /** Its server has answered (a notebook server, whose connector is AVAILABLE from then on). */
  answering?: boolean;
  outputs?: string;
  /** When the site removed the session's directory (its retention after the end had passed), ms. */
  removed?: number;
}

/**
 * A session accepted before its executable is known: the capacity is held with a start slack, and
 * the executable (and its data) must be bound before `bindBy`, or the session expires.
 */
export interface ProvisionState {
  bindBy: number;
  /** When an executable was bound; absent while the session waits. */
  boundAt?: number;
  /** The needs the capacity was planned for, to check what is bound against. */
  needs: ResolvedNeeds;
  /** The plan that was held (its start slack is the room the binding has). */
  plan: OfferPlan;
}

export interface OfferSetRecord {
  uuid: string;
  created: number;
  family: string;
  result: 'YES' | 'NO';
  name?: string;
  description?: string;
  messages: Message[];
  sessionUuids: string[];
  owner: string;
  /**
   * When its subscribers who asked for EXPIRING are told that its offers expire soon (ms): saved
   * with the offer set, in the same step, as the notify outbox's entry (docs/notifications.md).
   */
  notifyExpiringAt?: number;
}

export type BindResult = 'done' | 'not-found' | 'not-provision' | 'bound' | 'expired' | 'ended';

export type TransitionOutcome =
  | { outcome: 'done'; session: SessionRecord }
  | { outcome: 'not-found' }
  | { outcome: 'expired'; session: SessionRecord }
  | { outcome: 'not-allowed'; session: SessionRecord };

/** Offer sets and sessions; every change of phase also changes the capacity ledger atomically. */
export interface BrokerStore {
  /**
   * Stores an offer set and its sessions, and lets go of the holds in `release` (offers made but
   * not kept: beyond the set's limit), in one step.
   */
  saveOfferSet(offerSet: OfferSetRecord, sessions: SessionRecord[], release?: readonly string[]): Promise<void>;
  getOfferSet(uuid: string): Promise<{ offerSet: OfferSetRecord; sessions: SessionRecord[] } | undefined>;
  getSession(uuid: string): Promise<SessionRecord | undefined>;
  /**
   * Moves a session to `target` if its phase is one of `from`. Accepting also rejects every
   * OFFERED sibling and releases their capacity; rejecting and cancelling release the session's.
   */
  transition(uuid: string, target: SessionPhase, from: readonly SessionPhase[], now: number, note: Message): Promise<TransitionOutcome>;
  /** Accepts an OFFERED session to wait for its executable until `provision.bindBy`, as transition() accepts. */
  acceptForBinding(uuid: string, now: number, note: Message, provision: ProvisionState): Promise<TransitionOutcome>;
  /**
   * Binds the executable to a session accepted for binding: its document replaced, if it still
   * waits and `bindBy` has not passed (then it expires, releasing its capacity, in the same step).
   */
  bindExecutable(uuid: string, now: number, document: WireDocument, note: Message, slot: SessionSlot, notify?: SessionNotify): Promise<BindResult>;
  /** The binding timer: a session still waiting for its executable expires and lets go of its capacity. */
  expireUnbound(uuid: string, now: number, note: Message): Promise<boolean>;
  /** Lets go of capacity held for offers that were never shown to anyone. */
  releaseHolds(holdIds: readonly string[]): Promise<void>;
  /** Expires the OFFERED sessions among `ids` and releases holds whose session was never stored. */
  expireOffers(ids: readonly string[], now: number, note: Message): Promise<number>;
  /**
   * The expiry sweep: expires up to `max` of the offers (and holds) whose expiry is at or before
   * `now`, as expireOffers() does; how many it took (a full `max`: more may be due) and expired.
   */
  expireDueOffers(now: number, note: Message, max: number): Promise<{ taken: number; expired: number }>;
  /** A service-driven phase change, made only if the session is still in `from`, recording the step that follows. */
  advance(uuid: string, from: SessionPhase, to: SessionPhase, now: number, note: Message, next?: NextStep): Promise<boolean>;
  /** Records the next step of a session still in `phase` (a repeated step: stage, poll); false when it has moved on. */
  planNext(uuid: string, phase: SessionPhase, next: NextStep): Promise<boolean>;
  /** Sessions of a site whose next step was due at or before `until`, oldest first. */
  dueSessions(site: string, until: number, max: number): Promise<DueSession[]>;
  /** Nothing follows any more: forgets the session's next step (when it is still `step`, or when `step` is omitted). */
  settleDue(uuid: string, site: string, step?: string): Promise<void>;
  /** A service-driven end (COMPLETED, FAILED) from one of `from`, releasing the capacity in the same step. */
  finish(uuid: string, from: readonly SessionPhase[], to: SessionPhase, now: number, note: Message): Promise<boolean>;
  /** The executor's handle of a session's run, kept so that any worker can poll or cancel it. */
  setRun(uuid: string, run: Record<string, unknown>): Promise<void>;
  getRun(uuid: string): Promise<Record<string, unknown> | undefined>;
  /** Records how far staging has come (shown while PREPARING). */
  setStaging(uuid: string, progress: { bytesDone: number; bytesExpected?: number }): Promise<void>;
  /**
   * Adds log text (kept to the last `maxBytes`); `skipped`: bytes the site left out before it (what
   * was kept before is dropped then, so that the kept text is one stretch).
   */
  appendLog(uuid: string, text: string, maxBytes: number, skipped?: number): Promise<void>;
  /** The log after byte `from` of all bytes ever written to it, and how many after `from` were dropped. */
  readLog(uuid: string, from: number): Promise<LogChunk>;
  /**
   * Up to `count` sessions of the index (everyone's, or one owner's), newest first, after the
   * entry `after` (a page's `last`). Sessions past their retention are dropped from the index here.
   */
  sessionIndexPage(query: { owner?: string; after?: string; count: number }): Promise<SessionIndexPage>;
  /**
   * The sessions holding capacity on a site whose hold may overlap [from, to] (a superset: the
   * caller checks each slot), at most `max` of them.
   */
  siteReservations(site: string, from: number, to: number, max: number): Promise<{ sessions: SessionListing[]; truncated: boolean }>;
  ping(): Promise<boolean>;
}

export interface HoldAsk {
  id: string;
  amounts: ResourceAmounts;
  /** Earliest and latest start bucket, and the number of buckets to hold. */
  earliest: number;
  latest: number;
  length: number;
  /** For a user under the site's fair share: who, the offer set, and the caps (in buckets held and offer sets). */
  share?: { owner: string; offerSet: string; caps: ShareCaps };
  /**
   * When the offer made of this hold expires (ms): the hold is released then, by the sweep that
   * the hold itself enters (store/lua-scripts.ts EXPIRE_DUE); none or 0: a hold that stays.
   */
  expiresAt?: number;
}

export type HoldOutcome =
  | { outcome: 'held'; start: number }
  | { outcome: 'none' | 'gave-up' | 'late' }
  | ({ outcome: 'cap' } & ShareExceeded);

/** Capacity over time on each site: a calendar searched and held in one atomic step. */
export interface CapacityLedger {
  /**
   * Holds the amounts at the earliest start in [earliest, latest] where they fit, all resources
   * at once; `late` when `answerBy` has passed. Holding an id that is already held (a retried job)
   * answers with the start it has.
   */
  findAndHold(site: SiteProfile, ask: HoldAsk, now: number, answerBy: number): Promise<HoldOutcome>;
  /** How much of a resource is held at a bucket (for audits and tests). */
  usageAt(site: string, resource: string, bucket: number): Promise<number>;
}

/** Per resource: the amount held at `now`, and the most held in each step after it. */
export type CalendarOutlook = Record<string, { now: number; peaks: number[] }>;

/** What a site's calendar holds now and over the coming hours, read in one step (`GET /sites`). */
export interface CapacityOutlook {
  /** Buckets: `now`, then `steps` steps of `step` buckets each, from `now` on. */
  outlook(site: string, resources: readonly string[], now: number, step: number, steps: number): Promise<CalendarOutlook>;
}

export interface NegotiationRequest {
  offerSetUuid: string;
  site: string;
  needs: ResolvedNeeds;
  /** Ids for the offers this site may make, chosen by the API so that a retried job reuses them. */
  offerIds: string[];
  now: number;
  answerBy: number;
  expiresAt: number;
  maxOffers: number;
  /**
   * How many offers the offer set keeps of all its sites' (the best, in the needs' rank): a
   * worker answering several of them in one job need not hold an offer that as many of the job's
   * offers outrank (outranked-holds.ts). Absent from an API older than it: everything is held.
   */
  keep?: number;
  /** The requester, when the sites' fair share applies to them (not to operators, nor in anonymous mode). */
  cappedOwner?: string;
}

export interface SiteOffer {
  id: string;
  site: string;
  plan: OfferPlan;
  /** The share of the request's data the site holds itself (0..1). */
  locality: number;
  /** What the offer can cost and gives (domain/quote-offer.ts), from the site's economics. */
  quote?: Quote;
  /** Why the site made it: the smallest allocation soonest, the largest, or the lowest-carbon start. */
  purpose?: 'earliest' | 'largest' | 'greenest';
  /** How its session is charged when it ends. */
  tariff?: Tariff;
}

export interface NegotiationAnswer {
  site: string;
  offers: SiteOffer[];
  messages: Message[];
}

/** The API's side of negotiation: ask sites, wait for their answers with a bound. */
export interface Negotiator {
  liveSites(names: readonly string[]): Promise<Set<string>>;
  /**
   * Asks each request's site, all at once (the requests of one offer set, one per site), and
   * answers in the same order: a site's answer, or 'timeout' when it did not answer in time. Sites
   * served by one worker process are asked in one job.
   */
  negotiate(requests: readonly NegotiationRequest[], timeoutMs: number): Promise<Array<NegotiationAnswer | 'timeout'>>;
  /** Tells the site that an accepted session is its to run. */
  notifyAccepted(site: string, sessionUuid: string): Promise<void>;
  /** Tells the site to stop whatever runs for a cancelled session. */
  notifyCancelled(site: string, sessionUuid: string): Promise<void>;
}

/**
 * Delayed work. (An offer's expiry needs no timer of its own: its hold enters the expiry sweep
 * when it is made, see HoldAsk.expiresAt.)
 */
export interface Timers {
  /** At `at`, expires the session if it still waits for its executable. */
  scheduleBindingExpiry(sessionUuid: string, at: number): Promise<void>;
}

export interface SiteDirectory {
  all(): readonly SiteProfile[];
  get(name: string): SiteProfile | undefined;
}

/** Part of a session's log: its bytes, the offset to read on from, and how many bytes after the
 * asked offset had already been dropped from the head (the store keeps only the tail). */
export interface LogChunk { bytes: Buffer; next: number; skipped: number }

/**
 * Keeps a user's token for a session whose site must act for the user, sealed, from the accept
 * until the session ends (the store deletes it in the same step as the terminal phase change) or
 * the token expires, whichever comes first.
 */
export interface TokenVault {
  /** False when the session has ended already (nothing is kept). */
  keep(sessionUuid: string, token: SecretToken): Promise<boolean>;
  open(sessionUuid: string): Promise<SecretToken | undefined>;
}

/** Where sealed tokens rest (store/): opaque strings, one per session, never in clear. */
export interface SealedTokenStore {
  /** Stores the sealed text until `expiresAt` (ms), only while the session has not ended. */
  put(sessionUuid: string, sealed: string, expiresAt: number): Promise<boolean>;
  get(sessionUuid: string): Promise<string | undefined>;
}

/**
 * The secret of each interactive notebook session's server, made by the site (crypto random),
 * kept sealed beside the session until it ends, and shown to the session's owner alone.
 */
export interface NotebookTokens {
  /** The session's token, made the first time and the same after; undefined once the session has ended. */
  issue(sessionUuid: string, keepUntil: number): Promise<SecretToken | undefined>;
  read(sessionUuid: string): Promise<SecretToken | undefined>;
}

/** Where notebook tokens rest, sealed (store/). */
export interface SealedNotebookTokenStore {
  /** Keeps `sealed` unless the session has one already (then that one); undefined once the session has ended. */
  keep(sessionUuid: string, sealed: string, expiresAt: number): Promise<string | undefined>;
  get(sessionUuid: string): Promise<string | undefined>;
}

/** What a site gets to act for a session's user: a token for the site's own audience. */
export type SiteToken = { token: SecretToken } | { refused: string };

/**
 * Exchanges the user's kept token for one meant for the site (RFC 8693). Resolves `refused` (the
 * session then fails, saying why) when there is no token or the issuer says no; throws when the
 * issuer cannot be reached, so that the step is retried.
 */
export interface SiteCredentials {
  forSession(sessionUuid: string): Promise<SiteToken>;
}

/** Who sends a request, from the bearer token it carries (auth/ verifies tokens). */
export interface Authenticator {
  /** False in anonymous mode: every request is the anonymous principal. */
  readonly required: boolean;
  /**
   * The principal behind the token, or a BrokerError: authentication-required (no token),
   * invalid-token, insufficient-scope, insufficient-group, identity-provider-unavailable.
   */
  authenticate(token: string | undefined): Promise<Principal>;
  /** Whether the identity provider answers now (absent: there is none to ask). For /v1/health. */
  issuerReachable?(): Promise<boolean>;
}
