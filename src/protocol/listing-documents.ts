import type { SessionPage } from '../broker/list-sessions.js';
import type { SessionListing, SessionRecord, SessionSlot, Span } from '../broker/ports.js';
import type { SiteTimeline } from '../broker/site-timeline.js';
import { formatDuration, formatInstant, formatStartInterval } from '../domain/iso8601.js';
import type { CatalogueDowntime, CatalogueSite } from '../domain/site-catalogue.js';
import { OUTLOOK_STEP_MS, type FreeAmounts, type ListedSite, type SiteFree } from '../broker/list-sites.js';
import type { SiteProfile } from '../domain/site-profile.js';
import { encodeCursor } from './listing-query.js';

/**
 * The documents of the overview resources (sessions listed, sites, a site's timeline, a session's
 * phase history): the broker's own, beside the v1.0 ones. Instants are ISO 8601 in UTC, durations
 * ISO 8601, memory and storage in GiB. schemas/openapi-paths.yaml describes each.
 */
type Doc = Record<string, unknown>;

export interface ListingContext { baseUrl: string }

const amounts = (slot: Omit<SessionSlot, 'name'>): Doc => ({
  cores: slot.cores,
  memoryGiB: slot.memoryGiB,
  ...(slot.gpu ? { gpu: { model: slot.gpu.model, count: slot.gpu.count } } : {}),
});

/** The schedule as the session document writes it (start and duration of each phase). */
function schedule(slot: SessionSlot): Doc {
  return {
    preparing: { start: formatInstant(slot.preparing.start), duration: formatDuration(slot.preparing.end - slot.preparing.start) },
    available: { start: formatStartInterval(slot.available.start, slot.available.latestStart - slot.available.start), duration: formatDuration(slot.available.end - slot.available.start) },
    releasing: { start: formatInstant(slot.releasing.start), duration: formatDuration(slot.releasing.end - slot.releasing.start) },
  };
}

const span = (value: Span): Doc => ({ start: formatInstant(value.start), end: formatInstant(value.end) });

function sessionItem(session: SessionListing, context: ListingContext): Doc {
  return {
    uuid: session.uuid,
    ...(session.slot?.name ? { name: session.slot.name } : {}),
    url: `${context.baseUrl}/sessions/${session.uuid}`,
    phase: session.phase,
    site: session.site,
    owner: session.owner,
    offerset: session.offerSetUuid,
    created: formatInstant(session.created),
    modified: formatInstant(session.modified),
    ...(session.phase === 'OFFERED' ? { expires: formatInstant(session.expires) } : {}),
    ...(session.slot ? { schedule: schedule(session.slot), ...amounts(session.slot) } : {}),
  };
}

/** `GET /sessions`: the page, and `next` (pass it back as `cursor`) when there may be more. */
export function renderSessionList(page: SessionPage, context: ListingContext): Doc {
  return {
    sessions: page.sessions.map((session) => sessionItem(session, context)),
    ...(page.next ? { next: encodeCursor(page.next) } : {}),
  };
}

/** Free amounts as the catalogue writes them. */
const freeAmounts = (amounts: FreeAmounts): Doc => ({ cores: amounts.cores, memoryGiB: amounts.memoryGiB, gpus: { ...amounts.gpus } });

/** What the site's calendar leaves free now, and the least it leaves free in each coming hour. */
function freeItem(free: SiteFree): Doc {
  return {
    at: formatInstant(free.at),
    now: freeAmounts(free.now),
    step: formatDuration(OUTLOOK_STEP_MS),
    hours: free.hours.map((hour) => ({ start: formatInstant(hour.start), end: formatInstant(hour.end), ...freeAmounts(hour) })),
  };
}

/**
 * What runs the site's sessions, by name only (never its settings): `slurm`, `docker`, `podman`,
 * `apptainer`, `processes`, as its live workers say; without their word, as the sites file says,
 * where `auto` is docker or podman if the worker finds one, else processes.
 */
export function executorsOf(site: SiteProfile, published?: readonly string[]): string[] {
  if (published?.length) return [...published];
  if (site.executor.type === 'slurm') return ['slurm'];
  const runtime = site.executor.containerRuntime ?? 'auto';
  return [runtime === 'none' ? 'processes' : runtime];
}

/** What the site capabilities catalogue says of the site: where it is, its services, hardware, storage areas. */
function cataloguedItem(entry: CatalogueSite): Doc {
  return {
    ...(entry.node ? { node: entry.node } : {}),
    ...(entry.scapiSite ? { site: entry.scapiSite } : {}),
    ...(entry.compute ? { compute: entry.compute } : {}),
    ...(entry.queue ? { queue: entry.queue } : {}),
    hardware: [...entry.hardwareCapabilities],
    services: [...new Set(entry.services.map((service) => service.type))],
    storageAreas: entry.storageAreas.map((area) => ({ id: area.id, ...(area.name ? { name: area.name } : {}), type: area.type })),
  };
}

const downtimeItem = (downtime: CatalogueDowntime): Doc => ({
  start: formatInstant(downtime.start), end: formatInstant(downtime.end), type: downtime.type, reason: downtime.reason, of: downtime.of,
});

/** What a client may know of a site: its size, limits, what it runs and with what; nothing of how it is set up (credentials, paths, hosts). */
function siteItem({ site, online, abilities, executors, free, nextDowntime }: ListedSite): Doc {
  const name = (kind: string): string => kind.replace(/^executable\//, '');
  // What the live workers can run of what the site lists; without their word, what it lists.
  const runnable = abilities ? abilities.filter((ability) => ability.runnable).map((ability) => ability.kind) : site.executableKinds;
  const unavailable = (abilities ?? []).flatMap((ability) => (ability.runnable ? [] : [{ kind: name(ability.kind), reason: ability.reason }]));
  return {
    name: site.name,
    online,
    cores: site.cores,
    memoryGiB: site.memoryGiB,
    scratchGiB: site.scratchGiB,
    gpus: { ...site.gpus },
    limits: {
      cores: site.maxCoresPerSession,
      memoryGiB: site.maxMemoryGiBPerSession,
      duration: formatDuration(site.maxDurationMs),
      horizon: formatDuration(site.horizonMs),
    },
    preparation: formatDuration(site.preparationMs),
    releasing: formatDuration(site.releasingMs),
    executables: runnable.map(name),
    ...(unavailable.length ? { unavailableExecutables: unavailable } : {}),
    architectures: [...site.architectures],
    operatingSystems: [...site.operatingSystems],
    dataSchemes: [...site.dataSchemes],
    locations: [...site.locations],
    storage: site.storageElements.map((element) => ({ name: element.name, local: element.local })),
    isolation: isolationOf(site),
    executors: executorsOf(site, executors),
    ...(site.disabled ? { disabled: site.disabled } : {}),
    ...(site.catalogued ? { catalogue: cataloguedItem(site.catalogued) } : {}),
    ...(nextDowntime ? { nextDowntime: downtimeItem(nextDowntime) } : {}),
    ...(free ? { free: freeItem(free) } : {}),
  };
}

/**
 * How a site's runs are kept apart from the broker and from each other: `container`,
 * `batch-scheduler`, `sandbox`, or, for development only, `none` and `sandbox-if-available`.
 */
function isolationOf(site: SiteProfile): string {
  if (site.executor.type === 'slurm') return 'batch-scheduler';
  if (site.executor.containerRuntime && !['none', 'auto'].includes(site.executor.containerRuntime)) return 'container';
  const isolation = site.processRuns.isolation;
  return isolation === 'auto' ? 'sandbox-if-available (development only)' : isolation === 'none' ? 'none (development only)' : 'sandbox';
}

/**
 * `GET /sites`: every site, and whether a worker of it runs now. `executables`: the kinds the site
 * lists that its live workers can run now; `unavailableExecutables`: the kinds it lists that they
 * cannot, each with the reason (a site with no live worker runs none).
 */
export function renderSiteList(sites: readonly ListedSite[]): Doc {
  return { sites: sites.map(siteItem) };
}

/** `GET /sites/{name}/timeline`: the site's capacity and the reservations over the window. */
export function renderTimeline(timeline: SiteTimeline, context: ListingContext): Doc {
  const { site } = timeline;
  return {
    site: site.name,
    from: formatInstant(timeline.window.start),
    to: formatInstant(timeline.window.end),
    capacity: { cores: site.cores, memoryGiB: site.memoryGiB, gpus: { ...site.gpus } },
    reservations: timeline.reservations.map((entry) => ({
      phase: entry.phase,
      start: formatInstant(entry.slot.preparing.start),
      end: formatInstant(entry.slot.releasing.end),
      preparing: span(entry.slot.preparing),
      available: { ...span(entry.slot.available), latestStart: formatInstant(entry.slot.available.latestStart) },
      releasing: span(entry.slot.releasing),
      ...amounts(entry.slot),
      ...(entry.session ? {
        session: {
          uuid: entry.session.uuid,
          ...(entry.session.name ? { name: entry.session.name } : {}),
          owner: entry.session.owner,
          url: `${context.baseUrl}/sessions/${entry.session.uuid}`,
        },
      } : {}),
    })),
    ...(timeline.truncated ? { truncated: true } : {}),
  };
}

/** `GET /sessions/{uuid}/history`: the phases the session has been in, oldest first. */
export function renderHistory(session: SessionRecord): Doc {
  return {
    uuid: session.uuid,
    phase: session.phase,
    history: (session.history ?? []).map((change) => ({ phase: change.phase, at: formatInstant(change.at) })),
  };
}
