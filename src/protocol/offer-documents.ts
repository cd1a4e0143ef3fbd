import type { ComposeInput } from '../broker/request-offers.js';
import type { OfferSetRecord, SessionRecord, WireDocument } from '../broker/ports.js';
import { formatDuration, formatInstant, formatStartInterval } from '../domain/iso8601.js';
import { makeMessage, type Message } from '../domain/messages.js';
import { clientTransitions, type ComponentPhase, type SessionPhase } from '../domain/phases.js';
import type { OfferPlan } from '../domain/plan-offers.js';
import { kindUri, rewriteKinds, type KindFamily } from './kind-uris.js';
import { actualItems, quoteItems } from './quote-items.js';
import type { RequestComponents } from './read-execution-request.js';
import { sessionConnectors, withPublishedPorts } from './session-connectors.js';

type Doc = Record<string, unknown>;

/** The offered schedule. The start interval is zero long unless the execution may begin later (a provision). */
function schedule(plan: OfferPlan): Doc {
  return {
    preparing: { start: formatInstant(plan.preparingStart), duration: formatDuration(plan.preparingMs) },
    available: { start: formatStartInterval(plan.availableStart, plan.startSlackMs), duration: formatDuration(plan.durationMs) },
    releasing: { start: formatInstant(plan.releasingStart), duration: formatDuration(plan.releasingMs) },
  };
}

/** A deep copy of plain JSON data (much cheaper than structuredClone on this hot path). */
const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/**
 * A copy of a request's component whose own fields the offer may set (stamp() makes one too). A
 * shallow copy is enough: nothing writes below a component's top level (stamp(), referByUuid() and
 * the compute's sizes replace whole fields, rendering copies what it changes), so the offers of one
 * request share the rest, which is only read and serialised (a deep copy per offer was a few per
 * cent of an offer's CPU).
 */
const own = (component: unknown): Doc => ({ ...(component as Doc) });

/**
 * The offered session as stored: the request's components, each with its own uuid and the offered
 * schedule, compute sized to the offer. Phase, url, options and messages are added when rendered.
 */
export function composeOfferedSession(input: ComposeInput, newId: () => string): WireDocument {
  const components = input.components as RequestComponents;
  const created = formatInstant(input.created);
  const plan = input.offer.plan;
  // One schedule for the session and each of its components: they are the same, and like the
  // components (see own()) only read and serialised, never written into.
  const offered = schedule(plan);
  const stamp = (component: Doc): Doc => ({
    ...component,
    meta: { ...(component.meta as Doc | undefined), uuid: newId(), created },
    schedule: offered,
  });
  const compute: Doc = components.compute ? own(components.compute)
    : { kind: kindUri('compute/simple-compute-resource'), meta: { name: 'Default compute resource' } };
  compute.cores = { min: plan.cores, max: plan.cores };
  compute.memory = { min: plan.memoryGiB, max: plan.memoryGiB };
  if (plan.gpu) compute['srcnet.gpu'] = { count: plan.gpu.count, model: plan.gpu.model };
  // The quote replaces whatever the request put there (its limits): on the compute and the session.
  delete compute.costs;
  delete compute.metrics;
  const quote = input.offer.quote ? quoteItems(input.offer.quote) : undefined;
  if (quote) Object.assign(compute, quote);
  const doc: Doc = {
    kind: kindUri('session/scheduled-execution-session'),
    meta: { uuid: input.uuid, name: input.name, description: `Offered by site ${input.offer.site}`, created },
    expires: formatInstant(input.expires),
  };
  if (components.executable) doc.executable = stamp(components.executable as Doc);
  doc.compute = stamp(compute);
  const aliases = new Map<string, string>();
  const stampResource = (component: Doc): Doc => {
    const stamped = stamp(component);
    aliasesOf(component, stamped, aliases);
    return stamped;
  };
  if (components.storage.length) doc.storage = components.storage.map(stampResource);
  if (components.data.length) doc.data = components.data.map(stampResource);
  doc.schedule = offered;
  // The same items as the compute's (shared, as the components are: see own()).
  if (quote) Object.assign(doc, quote);
  return referByUuid(doc, aliases);
}

const uuidOf = (component: Doc): string | undefined => {
  const uuid = (component.meta as Doc | undefined)?.uuid;
  return typeof uuid === 'string' ? uuid : undefined;
};

/** What a request may call a resource (its name, the uuid it sent) -> the uuid it has now. */
function aliasesOf(sent: Doc, stamped: Doc, aliases: Map<string, string>): void {
  const uuid = uuidOf(stamped);
  if (!uuid) return;
  const name = (sent.meta as Doc | undefined)?.name;
  for (const alias of [name, uuidOf(sent), uuid]) if (typeof alias === 'string') aliases.set(alias, uuid);
}

/**
 * Cross-references written as uuids, as the reference broker writes them: data -> storage,
 * storage -> data and volume -> resource. A request may use names or uuids; the request was
 * checked before (read-execution-request.ts), so a reference nothing answers to stays as sent.
 */
function referByUuid(doc: Doc, aliases: Map<string, string>): Doc {
  const to = (ref: unknown): unknown => (typeof ref === 'string' ? aliases.get(ref) ?? ref : ref);
  const list = (key: string): Doc[] => (Array.isArray(doc[key]) ? (doc[key] as Doc[]) : []);
  for (const data of list('data')) if (data.storage !== undefined) data.storage = to(data.storage);
  for (const storage of list('storage')) if (Array.isArray(storage.data)) storage.data = storage.data.map(to);
  const compute = doc.compute as Doc | undefined;
  if (compute && Array.isArray(compute.volumes)) {
    compute.volumes = (compute.volumes as unknown[]).map((volume) => (volume && typeof volume === 'object' && !Array.isArray(volume)
      ? { ...(volume as Doc), resource: to((volume as Doc).resource) } : volume));
  }
  return doc;
}

/** What a client binds to a held session: the executable, the data it reads and where it reads them. */
export interface BoundComponents {
  executable: Doc;
  data: Doc[];
  /** Volume mounts added to the compute resource. */
  volumes: Doc[];
}

/**
 * A held session's document once an executable is bound: the bound components stamped with uuids,
 * the compute resource mounting the data, and every schedule set to when the run will be.
 */
export function composeBoundSession(document: WireDocument, components: BoundComponents, plan: OfferPlan, now: number, newId: () => string): WireDocument {
  const created = formatInstant(now);
  const timed = (component: Doc): Doc => ({ ...component, schedule: schedule(plan) });
  const stamp = (component: Doc): Doc => timed({ ...component, meta: { ...(component.meta as Doc | undefined), uuid: newId(), created } });
  const held: Doc = clone(document);
  const compute = (held.compute ?? {}) as Doc;
  const volumes = [...(Array.isArray(compute.volumes) ? compute.volumes : []), ...clone(components.volumes)];
  const storage = Array.isArray(held.storage) ? (held.storage as Doc[]).map(timed) : [];
  const data = [...(Array.isArray(held.data) ? (held.data as Doc[]).map(timed) : []), ...components.data.map((d) => stamp(clone(d)))];
  const aliases = new Map<string, string>();
  for (const resource of [...storage, ...data]) aliasesOf(resource, resource, aliases);
  // The order composeOfferedSession writes, for readers of the document.
  return referByUuid({
    kind: held.kind, meta: held.meta, expires: held.expires,
    executable: stamp(clone(components.executable)),
    compute: timed({ ...compute, ...(volumes.length ? { volumes } : {}) }),
    ...(storage.length ? { storage } : {}),
    ...(data.length ? { data } : {}),
    schedule: schedule(plan),
    ...(held.costs ? { costs: held.costs } : {}),
    ...(held.metrics ? { metrics: held.metrics } : {}),
  }, aliases);
}

export interface RenderContext {
  baseUrl: string;
}

function componentPhase(phase: SessionPhase): ComponentPhase {
  switch (phase) {
    case 'WAITING': case 'PREPARING': case 'AVAILABLE': case 'RUNNING': case 'RELEASING':
    case 'COMPLETED': case 'FAILED': case 'CANCELLED':
      return phase;
    default:
      return 'INITIALIZING';
  }
}

function messageItems(messages: readonly Message[]): Doc[] {
  return messages.map((m) => {
    const item: Doc = { kind: m.kind };
    if (m.time) item.time = m.time;
    item.level = m.level;
    item.template = m.template;
    if (Object.keys(m.values).length) item.values = m.values;
    item.message = m.message;
    return item;
  });
}

/**
 * While PREPARING, how far staging has come, as the last message (its values `done` and, when the
 * sizes were announced, `expected`, in bytes), for the page and `eb watch` to draw a progress bar.
 */
function stagingProgress(staging: SessionRecord['staging']): Message | undefined {
  if (!staging) return undefined;
  return staging.bytesExpected !== undefined
    ? makeMessage('urn:staging-progress', 'INFO', 'Staging the data: {done} of {expected} bytes', { done: staging.bytesDone, expected: staging.bytesExpected })
    : makeMessage('urn:staging-progress', 'INFO', 'Staging the data: {done} bytes so far', { done: staging.bytesDone });
}

export function renderSession(session: SessionRecord, context: RenderContext): WireDocument {
  // Shallow copies of what changes (meta, each component's phase): the stored document is shared.
  const doc: Doc = { ...session.document };
  const meta: Doc = { ...(doc.meta as Doc | undefined) };
  meta.url = `${context.baseUrl}/sessions/${session.uuid}`;
  if (session.modified !== session.created) meta.modified = formatInstant(session.modified);
  const progress = session.phase === 'PREPARING' ? stagingProgress(session.staging) : undefined;
  if (session.messages.length || progress) meta.messages = messageItems([...session.messages, ...(progress ? [progress] : [])]);
  const allowed = clientTransitions(session.phase);
  if (allowed.length) meta.options = [{ kind: 'uri:enum-value-option', path: '/phase', values: allowed }];
  const phase = componentPhase(session.phase);
  for (const key of ['executable', 'compute'] as const) {
    if (doc[key]) doc[key] = { ...(doc[key] as Doc), phase };
  }
  if (doc.executable) doc.executable = withPublishedPorts(doc.executable as Doc, session.run);
  for (const key of ['storage', 'data'] as const) {
    if (doc[key]) doc[key] = (doc[key] as Doc[]).map((item) => ({ ...item, phase }));
  }
  // Once ended: what it used, in place of the quote (min = max); the compute keeps the quote.
  if (session.actuals && Array.isArray(doc.costs)) doc.costs = actualItems(doc.costs as Doc[], session.actuals);
  const connectors = sessionConnectors(session, context.baseUrl);
  if (connectors.length) doc.connectors = connectors;
  // Who is told of its phase changes, and of what (docs/notifications.md): the owner sees what it asked for.
  if (session.notify?.subscriptions.length) doc['srcnet.notify'] = session.notify.subscriptions.map(({ target, events }) => ({ target, events }));
  const { kind, meta: _stored, ...components } = doc;
  return rewriteKinds({ kind, meta, phase: session.phase, ...components }, session.family as KindFamily);
}

export function renderOfferSet(offerSet: OfferSetRecord, sessions: readonly SessionRecord[], context: RenderContext): WireDocument {
  const meta: Doc = { uuid: offerSet.uuid };
  if (offerSet.name) meta.name = offerSet.name;
  meta.url = `${context.baseUrl}/offersets/${offerSet.uuid}`;
  if (offerSet.description) meta.description = offerSet.description;
  meta.created = formatInstant(offerSet.created);
  if (offerSet.messages.length) meta.messages = messageItems(offerSet.messages);
  const doc: Doc = {
    kind: kindUri('offerset/execution-offerset', offerSet.family as KindFamily),
    meta,
    result: offerSet.result,
  };
  if (offerSet.description) doc.description = offerSet.description;
  if (sessions.length) doc.offers = sessions.map((session) => renderSession(session, context));
  return doc;
}

/** The answer to a /direct request nothing can serve: a FAILED session with the reasons. */
export function renderFailedSession(offerSet: OfferSetRecord): WireDocument {
  const doc: Doc = {
    kind: kindUri('session/simple-execution-session', offerSet.family as KindFamily),
    meta: { created: formatInstant(offerSet.created), messages: messageItems(offerSet.messages) },
    phase: 'FAILED',
  };
  return doc;
}
