/**
 * The executable kinds the sites say they run, from `GET /sites`. Read defensively: each site's
 * `executables` is a list of short kind names today ("docker-container"); an entry may also be an
 * object naming its kind, a kind URI, or carry `runnable: false`, and a site may say nothing.
 */
type Doc = Record<string, unknown>;

/** "executable/docker-container", ".../executable/docker-container.yaml", "...-1.0" -> "docker-container". */
function shortKind(text: string): string {
  const last = text.replace(/[?#].*$/, '').split('/').filter(Boolean).pop() ?? '';
  return last.replace(/\.ya?ml$/i, '').replace(/-1\.0$/, '');
}

function kindOf(entry: unknown): string | undefined {
  if (typeof entry === 'string') return shortKind(entry);
  if (typeof entry !== 'object' || entry === null) return undefined;
  const item = entry as Doc;
  if (item.runnable === false || item.available === false) return undefined;
  const name = item.kind ?? item.name;
  return typeof name === 'string' ? shortKind(name) : undefined;
}

/**
 * The kinds at least one site runs, or undefined when no site lists its kinds at all (an older
 * broker): then the page cannot tell, and offers every kind.
 */
export function kindsSitesRun(sites: readonly Doc[]): ReadonlySet<string> | undefined {
  const listing = sites.map((site) => site.executables).filter(Array.isArray);
  if (listing.length === 0) return undefined;
  return new Set(listing.flatMap((entries) => (entries as unknown[]).map(kindOf)).filter((kind): kind is string => Boolean(kind)));
}
