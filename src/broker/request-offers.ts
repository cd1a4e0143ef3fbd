import { BrokerError } from '../domain/errors.js';
import { expiringNoticeAt, type Subscription } from '../domain/subscriptions.js';
import type { Clock } from '../domain/clock.js';
import { checkNeeds } from '../domain/check-needs.js';
import type { ExecutionNeeds, ResolvedNeeds } from '../domain/execution-needs.js';
import { isError, makeMessage, type Message } from '../domain/messages.js';
import { assessSite, withinCatalogueLimits, withLocationElements } from '../domain/plan-offers.js';
import { rankBy } from '../domain/rank-offers.js';
import type { SecretToken } from '../domain/secret-token.js';
import { faultPoint } from './fault-point.js';
import { locateData, type DataLocator } from './locate-data.js';
import { slotOfPlan } from './session-slot.js';
import type {
  BrokerStore, NegotiationRequest, Negotiator, OfferSetRecord, SessionRecord, SiteDirectory, SiteOffer, Timers, WireDocument,
} from './ports.js';

export interface BrokerSettings {
  maxOffers: number;
  offerLifetimeMs: number;
  negotiationTimeoutMs: number;
}

export interface ComposeInput {
  uuid: string;
  name: string;
  offer: SiteOffer;
  created: number;
  expires: number;
  components: unknown;
}

export interface RequestOffersDeps {
  clock: Clock;
  newId: () => string;
  sites: SiteDirectory;
  negotiator: Negotiator;
  store: BrokerStore;
  /** A provision's binding deadline (provision-session.ts); offers need none (their holds enter the expiry sweep). */
  timers: Timers;
  /** Builds the offered session document (protocol/ knows the wire shape). */
  composeSession: (input: ComposeInput) => WireDocument;
  settings: BrokerSettings;
  /** SRCNet's Data Management API, for SKAO data that lists no replicas (none: such data is refused, saying so). */
  locator?: DataLocator;
  /**
   * The sites as the site capabilities catalogue says now (limits, GPUs, storage areas, disabled),
   * read from the store per request; `sites` as they are when there is no catalogue.
   */
  currentSites?: () => Promise<SiteDirectory>;
  /** Checks subscribers and gives webhooks their secret; without it, a request with subscribers is refused. */
  notify?: NotifyGate;
}

/** Subscriptions at request time (sites/notify-gate.ts). */
export interface NotifyGate {
  /** Throws a `notify-refused` BrokerError for a subscriber the broker will not tell (the egress policy, no mail server). */
  admit(subscriptions: readonly Subscription[]): Promise<void>;
  /** A new webhook signing secret (`whsec_...`), given once to the requester. */
  newSecret(): string;
  /** How long before its offers expire an offer set's EXPIRING subscribers are told (NOTIFY_EXPIRING_BEFORE). */
  expiringBeforeMs: number;
  /** The secret sealed for one session (what the store keeps). */
  seal(secret: string, sessionUuid: string): string;
}

export interface OffersInput {
  needs: ExecutionNeeds;
  components: unknown;
  family: string;
  name?: string;
  description?: string;
  /** What reading the request found; ERROR messages mean NO before any site is asked. */
  messages: Message[];
  /** For /direct: one offer only. */
  maxOffers?: number;
  /** Who asks (the principal's subject); recorded on the offer set and its sessions. */
  owner: string;
  /** Whether the sites' fair share applies to the owner (not to operators, nor in anonymous mode). */
  capped?: boolean;
  /** Who is told of the sessions' phase changes (the request's `srcnet.notify`). */
  subscriptions?: Subscription[];
  /** The requester's token, exchanged for the Data Management API's audience to locate data (never stored). */
  token?: SecretToken;
}

export interface OfferSetResult {
  offerSet: OfferSetRecord;
  sessions: SessionRecord[];
  /** The plans behind the sessions, in the same order, and the needs they were planned for. */
  offers?: SiteOffer[];
  needs?: ResolvedNeeds;
  /** The webhooks' signing secret, given here once (stored sealed, never shown again). */
  webhookSecret?: string;
}

/**
 * Negotiates offers for a request: checks it, asks every eligible site through its worker, ranks
 * what comes back and stores the offer set. A site that cannot fit, has no live worker or does not
 * answer in time is named in a message, and the answer is NO only when no site offers anything.
 */
export async function requestOffers(deps: RequestOffersDeps, asked: OffersInput): Promise<OfferSetResult> {
  const { token, ...input } = await locateData(deps.locator, asked, asked.token);
  void token; // used to locate data only: the offer set and its sessions never see it
  const now = deps.clock.now();
  const offerSet: OfferSetRecord = {
    uuid: deps.newId(),
    created: now,
    family: input.family,
    result: 'NO',
    name: input.name,
    description: input.description,
    messages: [...input.messages],
    sessionUuids: [],
    owner: input.owner,
  };
  // Subscribers are checked before any site is asked: a refused one holds no capacity.
  const secret = await admitSubscribers(deps, input.subscriptions ?? []);
  const checked = checkNeeds(input.needs, now);
  offerSet.messages.push(...checked.messages);
  // Sites are asked for all their alternatives; the best are kept (one for /direct), the rest released.
  const maxOffers = Math.min(input.maxOffers ?? deps.settings.maxOffers, deps.settings.maxOffers);
  if (!checked.resolved || offerSet.messages.some(isError)) {
    await deps.store.saveOfferSet(offerSet, []);
    return { offerSet, sessions: [] };
  }
  const sites = deps.currentSites ? await deps.currentSites() : deps.sites;
  const needs = withLocationElements(checked.resolved, sites.all());

  const expiresAt = now + deps.settings.offerLifetimeMs;
  const answers = await askSites({ ...deps, sites }, offerSet, needs, now, expiresAt, input.capped ?? false, maxOffers);
  const ranked = answers.sort(rankBy(needs.rank));
  const chosen = ranked.slice(0, maxOffers);
  // The rest are let go of as the offer set is stored (one step; a crash before it leaves them to the expiry sweep).
  const dropped = ranked.slice(maxOffers).map((offer) => offer.id);

  const sessions = chosen.map((offer, index): SessionRecord => {
    const name = `${input.name ?? 'offer'}-${index}`;
    return {
      uuid: offer.id,
      offerSetUuid: offerSet.uuid,
      site: offer.site,
      phase: 'OFFERED',
      created: now,
      modified: now,
      expires: expiresAt,
      family: input.family,
      document: deps.composeSession({ uuid: offer.id, name, offer, created: now, expires: expiresAt, components: input.components }),
      slot: slotOfPlan(offer.plan, name),
      messages: [],
      owner: input.owner,
      ...(offer.tariff ? { tariff: offer.tariff } : {}),
      ...(input.subscriptions?.length ? { notify: { subscriptions: input.subscriptions, ...(secret ? { sealedSecret: deps.notify?.seal(secret, offer.id) } : {}) } } : {}),
    };
  });
  offerSet.result = sessions.length ? 'YES' : 'NO';
  offerSet.sessionUuids = sessions.map((session) => session.uuid);
  if (sessions.length && deps.notify && input.subscriptions?.some((s) => s.events.includes('EXPIRING'))) {
    offerSet.notifyExpiringAt = expiringNoticeAt(now, expiresAt, deps.notify.expiringBeforeMs);
  }
  // What stopped some sites is a warning when others offer: the request as a whole succeeded.
  if (sessions.length) offerSet.messages = offerSet.messages.map((m) => (m.level === 'ERROR' ? { ...m, level: 'WARN' } : m));
  if (!sessions.length && !offerSet.messages.some(isError)) {
    // Every reason so far was a warning (sites skipped or silent): say plainly that nothing fits.
    offerSet.messages.push(makeMessage('urn:no-offers', 'ERROR', 'No site can make an offer for this request now'));
  }
  await deps.store.saveOfferSet(offerSet, sessions, dropped);
  if (sessions.length) faultPoint('offer');
  return { offerSet, sessions, offers: chosen, needs, ...(secret && sessions.length ? { webhookSecret: secret } : {}) };
}

/** Admits the subscribers (or throws notify-refused); returns a new secret when a webhook is among them. */
async function admitSubscribers(deps: RequestOffersDeps, subscriptions: readonly Subscription[]): Promise<string | undefined> {
  if (subscriptions.length === 0) return undefined;
  if (!deps.notify) throw new BrokerError('notify-refused', { values: { target: subscriptions[0]?.target ?? '', reason: 'this broker sends no notifications' } });
  await deps.notify.admit(subscriptions);
  return subscriptions.some((s) => s.kind === 'webhook') ? deps.notify.newSecret() : undefined;
}

/**
 * Asks every site that could fit: drops those that cannot (saying why), skips those with no live
 * worker, then waits for all (whatever happens next, a silent site or a crash, every hold is
 * released at the offer's expiry: it entered the expiry sweep when it was made).
 */
async function askSites(deps: RequestOffersDeps, offerSet: OfferSetRecord, needs: ResolvedNeeds, now: number, expiresAt: number, capped: boolean, keep: number): Promise<SiteOffer[]> {
  const perSite = deps.settings.maxOffers;
  const eligible = deps.sites.all().filter((site) => {
    const reasons = assessSite(needs, site);
    offerSet.messages.push(...reasons);
    return !reasons.some(isError);
  });
  const live = await deps.negotiator.liveSites(eligible.map((site) => site.name));
  for (const site of eligible.filter((s) => !live.has(s.name))) {
    offerSet.messages.push(makeMessage('urn:site-unavailable', 'WARN', 'Site {site} was skipped: none of its workers is running', { site: site.name }));
  }
  const asked = eligible.filter((site) => live.has(site.name));
  if (asked.length === 0) return [];
  const offerIds = new Map(asked.map((site) => [site.name, Array.from({ length: perSite }, () => deps.newId())]));
  // No timer to set first: each hold a site makes enters the expiry sweep in the step that makes it,
  // which releases it at `expires` and closes an id it finds without a session to sessions that come
  // later (a site or an API held up past it: lua-scripts.ts EXPIRE_DUE).
  const answerBy = now + deps.settings.negotiationTimeoutMs;
  const requests = asked.map((site): NegotiationRequest => {
    // A catalogued site's limits may be tighter than its worker's profile: its largest alternative is asked within them.
    const within = withinCatalogueLimits(needs, site);
    offerSet.messages.push(...within.messages);
    return {
      offerSetUuid: offerSet.uuid,
      site: site.name,
      needs: within.needs,
      offerIds: offerIds.get(site.name) ?? [],
      now,
      answerBy,
      expiresAt,
      maxOffers: perSite,
      keep,
      ...(capped && offerSet.owner ? { cappedOwner: offerSet.owner } : {}),
    };
  });
  // All at once: the sites one worker process serves are asked in one job (bull-negotiator.ts).
  const answers = (await deps.negotiator.negotiate(requests, deps.settings.negotiationTimeoutMs)).map((answer, index) => {
    if (answer === 'timeout') {
      offerSet.messages.push(makeMessage('urn:site-unavailable', 'WARN', 'Site {site} did not answer within {timeout} ms',
        { site: requests[index]?.site ?? '', timeout: deps.settings.negotiationTimeoutMs }));
      return [];
    }
    offerSet.messages.push(...answer.messages);
    return answer.offers;
  });
  return answers.flat();
}
