import type { Clock } from '../domain/clock.js';
import { siteCatalogue, withCatalogue, type ScapiNode, type SiteCatalogue } from '../domain/site-catalogue.js';
import type { SiteProfile } from '../domain/site-profile.js';
import type { SiteDirectory } from './ports.js';

/** How the last refreshes went, for /health and /metrics. */
export interface CatalogueStatus {
  /** When the catalogue in use was fetched (ms); absent before the first good refresh. */
  fetchedAt?: number;
  lastAttempt?: number;
  lastSuccess?: number;
  /** Why the last refresh failed, when it did (cleared by a good one). */
  lastError?: string;
}

/** Where the catalogue is kept (Redis: every API process and worker reads the same one). */
export interface SiteCatalogueStore {
  load(): Promise<SiteCatalogue | undefined>;
  save(catalogue: SiteCatalogue, at: number): Promise<void>;
  recordFailure(at: number, reason: string): Promise<void>;
  status(): Promise<CatalogueStatus>;
}

export interface RefreshCatalogueDeps {
  /** SCAPI's `GET /nodes`, checked against its schemas; throws when it cannot be had. */
  fetchNodes(): Promise<ScapiNode[]>;
  store: SiteCatalogueStore;
  /** The sites file's profiles (each site's binding to SCAPI). */
  sites: readonly SiteProfile[];
  clock: Clock;
  log(level: 'info' | 'warn', message: string, fields?: Record<string, unknown>): void;
  /**
   * Called with each good catalogue before it is kept, and with the last good one when a refresh
   * fails (the downtimes are held from it, and their holds' ends move on with time either way).
   */
  apply?(catalogue: SiteCatalogue): Promise<void>;
}

/**
 * Fetches the catalogue and keeps it; when SCAPI cannot be reached or answers nonsense, the last
 * good catalogue stays and the failure is recorded (and logged) for /health and /metrics.
 */
export async function refreshSiteCatalogue(deps: RefreshCatalogueDeps): Promise<{ ok: true; catalogue: SiteCatalogue } | { ok: false; reason: string }> {
  const at = deps.clock.now();
  let nodes: ScapiNode[];
  try {
    nodes = await deps.fetchNodes();
  } catch (error) {
    const reason = (error as Error).message.slice(0, 500);
    await deps.store.recordFailure(at, reason);
    deps.log('warn', 'site capabilities catalogue not refreshed: the last good one stays', { reason });
    const last = await deps.store.load();
    if (last) await deps.apply?.(last);
    return { ok: false, reason };
  }
  const catalogue = siteCatalogue(nodes, deps.sites, at);
  for (const entry of Object.values(catalogue.sites)) {
    if (entry.disabled) deps.log('info', 'site not offered by the catalogue', { site: entry.site, reason: entry.disabled });
    for (const problem of entry.unreadable) deps.log('warn', 'a declared downtime cannot be read', { site: entry.site, problem });
  }
  await deps.apply?.(catalogue);
  await deps.store.save(catalogue, at);
  return { ok: true, catalogue };
}

/** The sites as the catalogue last said (the file's profiles where it says nothing, or before it is known). */
export async function catalogueSites(store: Pick<SiteCatalogueStore, 'load'>, sites: SiteDirectory): Promise<SiteDirectory> {
  const catalogue = await store.load();
  if (!catalogue) return sites;
  const all = sites.all().map((profile) => withCatalogue(profile, catalogue.sites[profile.name]));
  const byName = new Map(all.map((site) => [site.name, site]));
  return { all: () => all, get: (name) => byName.get(name) };
}
