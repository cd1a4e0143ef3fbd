import { siteAbilities, type KindAbility } from '../domain/executable-abilities.js';
import type { Clock } from '../domain/clock.js';
import { decideAccess } from '../domain/ownership.js';
import type { Principal } from '../domain/principal.js';
import { formatInstant } from '../domain/iso8601.js';
import { makeMessage, stamp, unboundExpiredNote, type Message } from '../domain/messages.js';
import { planBinding, type BoundNeeds } from '../domain/plan-binding.js';
import type { OfferPlan } from '../domain/plan-offers.js';
import type { Subscription } from '../domain/subscriptions.js';
import type { BrokerStore, Negotiator, SessionNotify, SessionRecord, SiteDirectory, TokenVault, WireDocument } from './ports.js';
import type { NotifyGate } from './request-offers.js';
import { faultPoint } from './fault-point.js';
import { slotOfPlan } from './session-slot.js';

/** An executable and its data for a held session: needs for the engine, components for the document. */
export interface Binding extends BoundNeeds {
  /** The wire components (protocol/ builds them and knows their shape). */
  components: unknown;
  /** Who is told of the session's phase changes from now on (SRCNet's contact_email), when the broker can tell them. */
  subscriptions?: Subscription[];
}

export interface BindDeps {
  clock: Clock;
  store: BrokerStore;
  sites: SiteDirectory;
  negotiator: Negotiator;
  /** The held session's document with the bound components and the schedule they run on. */
  composeBound: (document: WireDocument, components: unknown, plan: OfferPlan, now: number) => WireDocument;
  /** Sites that act for the user (token exchange) get the submitter's token kept for them. */
  userTokens?: { vault: TokenVault; neededBy(site: string): boolean };
  notify?: NotifyGate;
  /**
   * What the site's live workers published they can run (one list per worker; none when no worker
   * runs now, and then the binding waits for one, as before).
   */
  workerAbilities?: (site: string) => Promise<ReadonlyArray<readonly KindAbility[]>>;
}

export type BindOutcome =
  | { outcome: 'bound'; session: SessionRecord }
  /** The site cannot run this within the held capacity; the messages say why. */
  | { outcome: 'refused'; messages: Message[] }
  /** No such held session (or someone else's), or an operator's, who may see it but not bind to it. */
  | { outcome: 'not-found' | 'not-owner' }
  /** Its binding window passed; its capacity is released. */
  | { outcome: 'expired' }
  /** An executable was bound already, or the session was cancelled. */
  | { outcome: 'used' | 'ended' };

/**
 * Binds an executable (and its data) to a session accepted to wait for one (provisionSession), and
 * lets its life go on as for any accepted session. The binding is checked against the site and the
 * capacity held: a data scheme the site cannot fetch, or data that takes longer to stage than the
 * held start window allows, is refused and the session goes on waiting.
 */
export async function bindExecutable(deps: BindDeps, uuid: string, principal: Principal, binding: Binding): Promise<BindOutcome> {
  const session = await deps.store.getSession(uuid);
  if (!session?.provision) return { outcome: 'not-found' };
  // Someone else's provision is one that does not exist; an operator sees it but may not submit to it.
  const access = decideAccess(principal, session.owner, 'change');
  if (access === 'hidden') return { outcome: 'not-found' };
  if (access === 'refused') return { outcome: 'not-owner' };
  if (session.provision.boundAt !== undefined) return { outcome: 'used' };
  const now = deps.clock.now();
  if (session.phase === 'EXPIRED') return { outcome: 'expired' };
  if (session.phase !== 'ACCEPTED') return { outcome: 'ended' };
  if (now >= session.provision.bindBy) {
    // Its timer has not run yet: expire it now, as the timer would.
    await deps.store.expireUnbound(uuid, now, unboundExpiredNote(now));
    return { outcome: 'expired' };
  }
  const site = deps.sites.get(session.site);
  if (!site) return { outcome: 'refused', messages: [makeMessage('urn:not-supported', 'ERROR', 'Site {site} is no longer configured', { site: session.site })] };
  const planned = planBinding(session.provision, binding, site, now);
  if ('messages' in planned) return { outcome: 'refused', messages: planned.messages };
  // A kind the site lists but its workers cannot run is refused here as in a negotiation.
  const kind = planned.needs.executable.kind;
  const workers = site.executableKinds.includes(kind) && deps.workerAbilities ? await deps.workerAbilities(site.name) : [];
  const cannot = workers.length ? siteAbilities([kind], workers, site.name)[0] : undefined;
  if (cannot && !cannot.runnable) {
    return { outcome: 'refused', messages: [makeMessage('urn:not-supported', 'ERROR', 'Site {site} cannot run executables of kind [{kind}]: {reason}', { site: site.name, kind, reason: cannot.reason })] };
  }
  const document = deps.composeBound(session.document, binding.components, planned.plan, now);
  const note = stamp(makeMessage('urn:phase-change', 'INFO', 'An executable was bound; it runs on site {site} from {start}',
    { site: site.name, start: formatInstant(planned.plan.availableStart) }), now);
  const name = (document.meta as { name?: unknown } | undefined)?.name;
  const notify = await admitted(deps.notify, binding.subscriptions ?? []);
  const result = await deps.store.bindExecutable(uuid, now, document, note, slotOfPlan(planned.plan, typeof name === 'string' ? name : undefined), notify);
  switch (result) {
    case 'done': {
      // The store recorded the activate step with the binding: a crash here leaves it to the reconciler.
      faultPoint('submit');
      // Kept before the site hears of the session, so its first step finds the token there.
      if (principal.token && deps.userTokens?.neededBy(session.site)) await deps.userTokens.vault.keep(uuid, principal.token);
      await deps.negotiator.notifyAccepted(session.site, uuid);
      const bound = await deps.store.getSession(uuid);
      return bound ? { outcome: 'bound', session: bound } : { outcome: 'not-found' };
    }
    case 'expired': return { outcome: 'expired' };
    case 'bound': return { outcome: 'used' };
    case 'ended': return { outcome: 'ended' };
    case 'not-found': case 'not-provision': return { outcome: 'not-found' };
  }
}

/**
 * A binding's subscribers, if the broker can tell them: a contact address is a courtesy of the
 * API that carries it (SRCNet's submit), so one the broker cannot serve (no mail server) is
 * dropped rather than the submission refused. Mail only: a webhook would need its secret given.
 */
async function admitted(gate: NotifyGate | undefined, subscriptions: readonly Subscription[]): Promise<SessionNotify | undefined> {
  const mail = subscriptions.filter((s) => s.kind === 'mail');
  if (!gate || mail.length === 0) return undefined;
  try {
    await gate.admit(mail);
    return { subscriptions: mail };
  } catch {
    return undefined;
  }
}
