import { makeMessage, type Message } from './messages.js';
import type { ExecutionNeeds } from './execution-needs.js';
import type { SiteProfile } from './site-profile.js';

/** Every SRCNet location some site serves, sorted, each once (compared without case). */
export function knownLocations(sites: readonly Pick<SiteProfile, 'locations'>[]): string[] {
  const byKey = new Map<string, string>();
  for (const location of sites.flatMap((site) => site.locations)) {
    if (!byKey.has(location.toLowerCase())) byKey.set(location.toLowerCase(), location);
  }
  return [...byKey.values()].sort((a, b) => a.localeCompare(b));
}

/**
 * For a request whose data places are SRCNet locations (SRCNet's `data_location`): an ERROR for
 * each data resource that no site serves, naming the locations that are served. Such data is
 * nowhere the broker knows of, so no site could ever stage it: "not available", not "not now".
 */
export function unservedLocations(needs: Pick<ExecutionNeeds, 'data'>, sites: readonly Pick<SiteProfile, 'locations'>[]): Message[] {
  const known = knownLocations(sites);
  const served = new Set(known.map((location) => location.toLowerCase()));
  return needs.data
    .filter((item) => !item.places.some((place) => served.has(place.toLowerCase())))
    .map((item) => makeMessage('urn:unknown-location', 'ERROR', 'No site serves the data location {location}; the known locations are: {known}', {
      location: item.places.join(', ') || '(none)',
      known: known.length ? known.join(', ') : 'none (no site serves any location)',
    }));
}
