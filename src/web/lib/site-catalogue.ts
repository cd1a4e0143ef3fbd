/**
 * The catalogue panel's logic, apart from the browser: the filters as `GET /sites` takes them, the
 * choices the sites offer, and what each site's free capacity looks like hour by hour.
 */
type Doc = Record<string, any>;

export interface CatalogueFilter { kind?: string; gpu?: string; cores?: number; hours?: number }

/** The query string of `GET /sites` for a filter (empty values left out). */
export function catalogueQuery(filter: CatalogueFilter): string {
  const query = new URLSearchParams();
  if (filter.kind) query.set('kind', filter.kind);
  if (filter.gpu) query.set('gpu', filter.gpu);
  if (filter.cores !== undefined && Number.isInteger(filter.cores) && filter.cores > 0) query.set('cores', String(filter.cores));
  if (filter.hours !== undefined) query.set('hours', String(filter.hours));
  const text = query.toString();
  return text ? `?${text}` : '';
}

/** The kinds and GPU models the sites name (runnable or not), sorted, for the filter's choices. */
export function filterChoices(sites: readonly Doc[]): { kinds: string[]; gpus: string[] } {
  const kinds = new Set<string>();
  const gpus = new Set<string>();
  for (const site of sites) {
    for (const kind of Array.isArray(site.executables) ? site.executables : []) if (typeof kind === 'string') kinds.add(kind);
    for (const entry of Array.isArray(site.unavailableExecutables) ? site.unavailableExecutables : []) if (typeof entry?.kind === 'string') kinds.add(entry.kind);
    for (const [model, count] of Object.entries((site.gpus ?? {}) as Record<string, unknown>)) if (Number(count) > 0) gpus.add(model);
  }
  return { kinds: [...kinds].sort(), gpus: [...gpus].sort() };
}

/** Each hour's free cores as a share of the site's cores (0 to 1), with its start, for a strip of bars. */
export function freeStrip(site: Doc): Array<{ start: string; cores: number; share: number }> {
  const hours = Array.isArray(site.free?.hours) ? site.free.hours as Doc[] : [];
  const total = Number(site.cores) || 0;
  return hours.map((hour) => ({
    start: String(hour.start),
    cores: Number(hour.cores) || 0,
    share: total > 0 ? Math.max(0, Math.min(1, (Number(hour.cores) || 0) / total)) : 0,
  }));
}
