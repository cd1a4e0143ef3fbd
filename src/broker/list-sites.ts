import { BUCKET_MS } from '../domain/capacity-calendar.js';
import type { Clock } from '../domain/clock.js';
import type { KindAbility } from '../domain/executable-abilities.js';
import type { CatalogueDowntime } from '../domain/site-catalogue.js';
import type { SiteProfile } from '../domain/site-profile.js';
import type { CapacityOutlook } from './ports.js';

/** The catalogue's outlook steps an hour; `hours` of them (24 by default, 3 days at most: test/bench/catalogue.mjs). */
export const OUTLOOK_STEP_MS = 3600_000;
export const DEFAULT_OUTLOOK_HOURS = 24;
export const MAX_OUTLOOK_HOURS = 72;

/**
 * `GET /sites`' filters: a site is listed when it matches all that are given. `kind`: its live
 * workers run the kind now; `gpu`: it has GPUs of the model; `cores`, `memoryGiB`: that much is
 * free now and the site is offered (not disabled). `hours`: how far the outlook reaches.
 */
export interface SiteQuery {
  kind?: string;
  gpu?: string;
  cores?: number;
  memoryGiB?: number;
  hours: number;
}

/** Amounts free: cores, memory (GiB), GPUs by model. */
export interface FreeAmounts { cores: number; memoryGiB: number; gpus: Record<string, number> }

/** What the site's calendar leaves free now, and the least it leaves free in each coming hour. */
export interface SiteFree {
  at: number;
  now: FreeAmounts;
  hours: Array<{ start: number; end: number } & FreeAmounts>;
}

export interface ListedSite {
  site: SiteProfile;
  online: boolean;
  abilities?: KindAbility[];
  /** What the site's live workers make their runs with, by name, as they publish it (absent: none said). */
  executors?: string[];
  /** Present when a query asked for the catalogue (it reads the calendar). */
  free?: SiteFree;
  /** The declared downtime under way or next to come (from the site capabilities catalogue). */
  nextDowntime?: CatalogueDowntime;
}

const shortKind = (kind: string): string => kind.trim().toLowerCase().replace(/^executable\//, '');

/** Whether the site's live workers run the kind now (without their word: what the site lists). */
export function runsKind(entry: Pick<ListedSite, 'site' | 'abilities'>, kind: string): boolean {
  const runnable = entry.abilities ? entry.abilities.filter((a) => a.runnable).map((a) => a.kind) : entry.site.executableKinds;
  return runnable.some((listed) => shortKind(listed) === shortKind(kind));
}

/** The model as the site names it, matched without regard to case; undefined when it has none of them. */
export function gpuModel(site: SiteProfile, model: string): string | undefined {
  return Object.keys(site.gpus).find((name) => name.toLowerCase() === model.toLowerCase() && (site.gpus[name] ?? 0) > 0);
}

/** The declared downtime under way at `now`, or else the next one to start. */
export function nextDowntime(site: SiteProfile, now: number): CatalogueDowntime | undefined {
  const coming = (site.catalogued?.downtimes ?? []).filter((d) => d.end > now).sort((a, b) => a.start - b.start || a.end - b.end);
  return coming[0];
}

/** The calendar's resources of a site: cores, memory, and one per GPU model (`gpu:<model>`). */
const resourcesOf = (site: SiteProfile): string[] => ['cores', 'memory', ...Object.keys(site.gpus).map((model) => `gpu:${model}`)];

/** What the site's calendar leaves free, now and hour by hour, read in one step. */
export async function siteFree(outlook: CapacityOutlook, site: SiteProfile, now: number, hours: number): Promise<SiteFree> {
  const nowBucket = Math.floor(now / BUCKET_MS);
  const step = OUTLOOK_STEP_MS / BUCKET_MS;
  const read = await outlook.outlook(site.name, resourcesOf(site), nowBucket, step, hours);
  const free = (capacity: number, held: number | undefined): number => Math.max(0, capacity - (held ?? 0));
  const amounts = (pick: (resource: string) => number | undefined): FreeAmounts => ({
    cores: free(site.cores, pick('cores')),
    memoryGiB: free(site.memoryGiB, pick('memory')),
    gpus: Object.fromEntries(Object.entries(site.gpus).map(([model, count]) => [model, free(count, pick(`gpu:${model}`))])),
  });
  const start = nowBucket * BUCKET_MS;
  return {
    at: now,
    now: amounts((resource) => read[resource]?.now),
    hours: Array.from({ length: hours }, (_, i) => ({
      start: start + i * OUTLOOK_STEP_MS,
      end: start + (i + 1) * OUTLOOK_STEP_MS,
      ...amounts((resource) => read[resource]?.peaks[i]),
    })),
  };
}

/**
 * The catalogue: the sites that match the query, each with what its calendar leaves free now and
 * over the coming hours and its next downtime. The filters that need no calendar come first, so a
 * site they drop costs no read; each remaining site costs one script call, whatever it holds.
 */
export async function listSiteCatalogue(
  deps: { clock: Clock; outlook: CapacityOutlook },
  sites: readonly ListedSite[],
  query: SiteQuery,
): Promise<ListedSite[]> {
  const now = deps.clock.now();
  const matching = sites.filter((entry) =>
    (query.kind === undefined || runsKind(entry, query.kind)) && (query.gpu === undefined || gpuModel(entry.site, query.gpu) !== undefined));
  const listed = await Promise.all(matching.map(async (entry): Promise<ListedSite> => {
    const downtime = nextDowntime(entry.site, now);
    return { ...entry, free: await siteFree(deps.outlook, entry.site, now, query.hours), ...(downtime ? { nextDowntime: downtime } : {}) };
  }));
  return listed.filter(({ site, free }) => {
    if (query.cores === undefined && query.memoryGiB === undefined) return true;
    if (site.disabled || !free) return false;
    if (query.cores !== undefined && free.now.cores < query.cores) return false;
    if (query.memoryGiB !== undefined && free.now.memoryGiB < query.memoryGiB) return false;
    return true;
  });
}
