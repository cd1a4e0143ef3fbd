import { parseInstant } from './iso8601.js';
import type { SiteProfile, StorageElement } from './site-profile.js';

/**
 * SRCNet's service catalogue (the Site Capabilities API, "SCAPI") as the broker reads it: nodes ->
 * sites -> compute -> queues, storage areas and downtimes. The sites file binds each broker site
 * to one SCAPI compute (and queue); what the catalogue says of it is kept per broker site
 * (`CatalogueSite`) and laid over the file's profile (`withCatalogue`). Pure: the fetching,
 * validating and keeping are adapters'.
 */

/** Which SCAPI compute (and queue) a broker site is: ids or names; `site` when a compute's id or name is not unique. */
export interface SiteCapabilitiesBinding { site?: string; compute: string; queue?: string }

/** The SCAPI shapes the broker reads (already checked against SCAPI's schemas). */
export interface ScapiDowntime { date_range?: string; type?: string; reason?: string }
export interface ScapiQueue { id?: string; name?: string | null; max_cpu_cores?: number | null; max_memory_gb?: number | null; max_scratch_gb?: number | null; downtime?: ScapiDowntime[] | null; is_force_disabled?: boolean }
export interface ScapiService { id?: string; type?: string; host?: string; port?: number; prefix?: string; path?: string; is_force_disabled?: boolean }
export interface ScapiCompute {
  id?: string; name?: string | null; hardware_capabilities?: string[] | null; hardware_type?: string | null;
  associated_local_services?: ScapiService[] | null; queues?: ScapiQueue[] | null; downtime?: ScapiDowntime[] | null; is_force_disabled?: boolean;
}
export interface ScapiStorageArea { id?: string; type?: string; name?: string | null; is_force_disabled?: boolean }
export interface ScapiStorage { id?: string; host?: string; areas?: ScapiStorageArea[] | null; is_force_disabled?: boolean }
export interface ScapiSite { id?: string; name?: string; storages?: ScapiStorage[] | null; compute?: ScapiCompute[] | null; downtime?: ScapiDowntime[] | null; is_force_disabled?: boolean }
export interface ScapiNode { name: string; sites?: ScapiSite[] | null }

/** A declared downtime of the site, its compute or its queue, in ms since the epoch. */
export interface CatalogueDowntime { start: number; end: number; type: string; reason: string; of: string }

export interface CatalogueSite {
  /** The broker site. */
  site: string;
  /** Where it is in SCAPI (names, or ids where there is no name); absent when the binding found nothing. */
  node?: string;
  scapiSite?: string;
  compute?: string;
  queue?: string;
  /** Why the site is not offered (force-disabled, or not in the catalogue); absent when it is. */
  disabled?: string;
  /** What one session may have there (the queue's, or the largest of the compute's queues'). */
  limits: { maxCores?: number; maxMemoryGiB?: number; maxScratchGiB?: number };
  hardwareCapabilities: string[];
  storageAreas: Array<{ id: string; name?: string; host?: string; type: string }>;
  services: Array<{ type: string; host?: string; port?: number; path?: string }>;
  downtimes: CatalogueDowntime[];
  /** Declared downtimes that could not be read, said once per refresh. */
  unreadable: string[];
}

export interface SiteCatalogue {
  /** When it was fetched (ms). */
  fetchedAt: number;
  sites: Record<string, CatalogueSite>;
}

const same = (value: string | null | undefined, wanted: string): boolean => typeof value === 'string' && value.toLowerCase() === wanted.toLowerCase();
const named = (thing: { id?: string; name?: string | null }): string => thing.name || thing.id || '(unnamed)';
const list = <T>(value: T[] | null | undefined): T[] => (Array.isArray(value) ? value : []);

/** `"<ISO> to <ISO>"` -> an interval, or undefined. */
export function readDateRange(text: string | undefined): { start: number; end: number } | undefined {
  const match = /^\s*(\S+)\s+to\s+(\S+)\s*$/.exec(text ?? '');
  if (!match) return undefined;
  const start = parseInstant(match[1] ?? '');
  const end = parseInstant(match[2] ?? '');
  return start !== undefined && end !== undefined && end > start ? { start, end } : undefined;
}

function downtimesOf(of: string, declared: ScapiDowntime[] | null | undefined, unreadable: string[]): CatalogueDowntime[] {
  return list(declared).flatMap((downtime) => {
    const range = readDateRange(downtime.date_range);
    if (!range) {
      unreadable.push(`${of}: date_range [${String(downtime.date_range).slice(0, 100)}] is not "<ISO 8601> to <ISO 8601>"`);
      return [];
    }
    return [{ ...range, type: downtime.type ?? 'Planned', reason: downtime.reason ?? '', of }];
  });
}

const largest = (values: Array<number | null | undefined>): number | undefined => {
  const known = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return known.length ? Math.max(...known) : undefined;
};

/** The one compute (and queue) a binding names, or why there is none. */
function resolve(nodes: readonly ScapiNode[], binding: SiteCapabilitiesBinding):
  { node: ScapiNode; site: ScapiSite; compute: ScapiCompute; queue?: ScapiQueue } | { missing: string } {
  const found = nodes.flatMap((node) => list(node.sites)
    .filter((site) => !binding.site || same(site.name, binding.site) || same(site.id, binding.site))
    .flatMap((site) => list(site.compute)
      .filter((compute) => same(compute.id, binding.compute) || same(compute.name, binding.compute))
      .map((compute) => ({ node, site, compute }))));
  const where = `compute ${binding.compute}${binding.site ? ` of site ${binding.site}` : ''}`;
  if (found.length === 0) return { missing: `${where} is not in the site capabilities catalogue` };
  if (found.length > 1) return { missing: `${where} names ${found.length} computes in the site capabilities catalogue (name the SCAPI site too)` };
  const [match] = found as [typeof found[number]];
  if (!binding.queue) return match;
  const queue = list(match.compute.queues).find((q) => same(q.id, binding.queue ?? '') || same(q.name, binding.queue ?? ''));
  return queue ? { ...match, queue } : { missing: `queue ${binding.queue} of ${where} is not in the site capabilities catalogue` };
}

/** What the catalogue says of one broker site bound to a SCAPI compute (and queue). */
export function catalogueSite(nodes: readonly ScapiNode[], siteName: string, binding: SiteCapabilitiesBinding): CatalogueSite {
  const empty: CatalogueSite = { site: siteName, limits: {}, hardwareCapabilities: [], storageAreas: [], services: [], downtimes: [], unreadable: [] };
  const found = resolve(nodes, binding);
  if ('missing' in found) return { ...empty, disabled: `Site ${siteName}: ${found.missing}` };
  const { node, site, compute, queue } = found;
  const unreadable: string[] = [];
  const queues = queue ? [queue] : list(compute.queues).filter((q) => !q.is_force_disabled);
  const off = [
    site.is_force_disabled ? `SCAPI site ${named(site)}` : '',
    compute.is_force_disabled ? `compute ${named(compute)}` : '',
    queue?.is_force_disabled ? `queue ${named(queue)}` : '',
  ].filter(Boolean);
  const limits = {
    maxCores: largest(queues.map((q) => q.max_cpu_cores)),
    maxMemoryGiB: largest(queues.map((q) => q.max_memory_gb)),
    maxScratchGiB: largest(queues.map((q) => q.max_scratch_gb)),
  };
  return {
    site: siteName,
    node: node.name,
    scapiSite: named(site),
    compute: named(compute),
    ...(queue ? { queue: named(queue) } : {}),
    ...(off.length ? { disabled: `Site ${siteName} is force-disabled in the site capabilities catalogue (${off.join(', ')})` } : {}),
    limits: Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)),
    hardwareCapabilities: list(compute.hardware_capabilities),
    storageAreas: list(site.storages).filter((s) => !s.is_force_disabled).flatMap((storage) => list(storage.areas)
      .filter((area) => !area.is_force_disabled && area.id)
      .map((area) => ({ id: area.id as string, ...(area.name ? { name: area.name } : {}), ...(storage.host ? { host: storage.host } : {}), type: area.type ?? 'rse' }))),
    services: list(compute.associated_local_services).filter((s) => !s.is_force_disabled && s.type)
      .map((s) => ({ type: s.type as string, ...(s.host ? { host: s.host } : {}), ...(s.port !== undefined ? { port: s.port } : {}), ...(s.path ? { path: s.path } : {}) })),
    downtimes: [
      ...downtimesOf(`site ${named(site)}`, site.downtime, unreadable),
      ...downtimesOf(`compute ${named(compute)}`, compute.downtime, unreadable),
      ...(queue ? downtimesOf(`queue ${named(queue)}`, queue.downtime, unreadable) : []),
    ],
    unreadable,
  };
}

/** The catalogue of every bound broker site. */
export function siteCatalogue(nodes: readonly ScapiNode[], sites: readonly Pick<SiteProfile, 'name' | 'siteCapabilities'>[], fetchedAt: number): SiteCatalogue {
  const entries = sites.flatMap((site) => (site.siteCapabilities ? [catalogueSite(nodes, site.name, site.siteCapabilities)] : []));
  return { fetchedAt, sites: Object.fromEntries(entries.map((entry) => [entry.site, entry])) };
}

/**
 * The sites file's profile with what the catalogue says laid over it: per-session limits no larger
 * than the queue's, no GPUs where the compute has no `gpu` capability, its RSE storage areas as
 * local storage elements (by name and by id, as the Data Management API names them), and why it
 * is not offered, if it is not. How the site executes stays the file's.
 */
export function withCatalogue(profile: SiteProfile, entry: CatalogueSite | undefined): SiteProfile {
  if (!entry) return profile;
  const { limits } = entry;
  const areas: StorageElement[] = entry.storageAreas.filter((area) => area.type === 'rse').flatMap((area) =>
    [area.name, area.id].filter((name): name is string => Boolean(name))
      .filter((name) => !profile.storageElements.some((element) => element.name === name))
      .map((name) => ({ name, hosts: area.host ? [area.host.toLowerCase()] : [], bandwidthMBps: profile.defaultBandwidthMBps, local: true })));
  return {
    ...profile,
    maxCoresPerSession: Math.min(profile.maxCoresPerSession, limits.maxCores ?? Infinity),
    maxMemoryGiBPerSession: Math.min(profile.maxMemoryGiBPerSession, limits.maxMemoryGiB ?? Infinity),
    ...(limits.maxScratchGiB !== undefined ? { maxScratchGiBPerSession: Math.min(profile.maxScratchGiBPerSession ?? Infinity, limits.maxScratchGiB) } : {}),
    gpus: entry.hardwareCapabilities.includes('gpu') || !entry.node ? profile.gpus : {},
    hardwareCapabilities: entry.hardwareCapabilities,
    storageElements: [...profile.storageElements, ...areas],
    ...(entry.disabled ? { disabled: entry.disabled } : {}),
    catalogued: entry,
  };
}
