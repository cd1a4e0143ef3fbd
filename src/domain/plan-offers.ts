import type { ResolvedNeeds } from './execution-needs.js';
import { formatInstant, formatDuration } from './iso8601.js';
import { makeMessage, type Message } from './messages.js';
import type { SiteProfile } from './site-profile.js';

export interface Capacity { cores: number; memoryGiB: number }

/** One offer a site can make: what it gives and when. All instants in ms since the epoch. */
export interface OfferPlan {
  cores: number;
  memoryGiB: number;
  preparingStart: number;
  preparingMs: number;
  availableStart: number;
  durationMs: number;
  releasingStart: number;
  releasingMs: number;
}

export interface PlanInput {
  needs: ResolvedNeeds;
  site: SiteProfile;
  /** Capacity not held by anyone, as the ledger last reported it. */
  free: Capacity;
  now: number;
  maxOffers: number;
}

export interface PlanResult {
  offers: OfferPlan[];
  /** ERROR messages explain a NO; WARN messages explain a cap. */
  messages: Message[];
}

const SUPPORTED_PROTOCOLS = new Set(['TCP', 'UDP', 'HTTP', 'HTTPS']);

/** Whether the site can run this at all, whatever its load: kinds, platform, limits. */
export function assessSite(needs: ResolvedNeeds, site: SiteProfile): Message[] {
  const out: Message[] = [];
  const at = { site: site.name };
  const exe = needs.executable;
  if (!site.executableKinds.includes(exe.kind)) {
    out.push(makeMessage('urn:not-supported', 'ERROR', 'Site {site} cannot run executables of kind [{kind}]', { ...at, kind: exe.kind }));
  }
  if (exe.architecture && !site.architectures.includes(exe.architecture)) {
    out.push(makeMessage('urn:not-supported', 'ERROR', 'Site {site} has no [{architecture}] processors (it has {available})',
      { ...at, architecture: exe.architecture, available: site.architectures.join(', ') }));
  }
  if (exe.os && !site.operatingSystems.includes(exe.os)) {
    out.push(makeMessage('urn:not-supported', 'ERROR', 'Site {site} does not run [{os}] executables', { ...at, os: exe.os }));
  }
  if (exe.privileged) {
    out.push(makeMessage('urn:not-supported', 'ERROR', 'Site {site} does not allow privileged execution', at));
  }
  for (const port of exe.ports) {
    if (port.setsExternal) out.push(makeMessage('urn:not-supported', 'ERROR', 'External ports are chosen by the service, not by the request'));
    if (port.internal !== undefined && (port.internal < 1 || port.internal > 65535)) {
      out.push(makeMessage('urn:invalid-value', 'ERROR', 'Port number [{port}] is outside 1-65535', { port: port.internal }));
    }
    if (!SUPPORTED_PROTOCOLS.has(port.protocol.toUpperCase())) {
      out.push(makeMessage('urn:not-supported', 'ERROR', 'Port protocol [{protocol}] is not one of TCP, UDP, HTTP, HTTPS', { protocol: port.protocol }));
    }
  }
  for (const data of needs.data) {
    // file:// is governed by the site's allowed roots alone, whatever its list of schemes says.
    if (data.scheme === 'file') {
      if (!site.fileRoots.some((root) => isUnder(data.location ?? '', root))) {
        out.push(makeMessage('urn:not-supported', 'ERROR', 'Site {site} does not allow file data at [{location}]',
          { ...at, location: data.location ?? '' }));
      }
    } else if (data.scheme && !site.dataSchemes.includes(data.scheme)) {
      out.push(makeMessage('urn:not-supported', 'ERROR', 'Site {site} cannot fetch data [{name}] from a [{scheme}] location',
        { ...at, name: data.name, scheme: data.scheme }));
    }
  }
  out.push(...limit('cores', needs.cores.min, site.cores, site.name));
  out.push(...limit('memory GiB', needs.memory.min, site.memoryGiB, site.name));
  const scratch = needs.storageGiB.reduce((sum, range) => sum + range.min, 0);
  out.push(...limit('storage GiB', scratch, site.scratchGiB, site.name));
  if (needs.durationMs > site.maxDurationMs) {
    out.push(makeMessage('urn:resource-limit', 'ERROR', 'Site {site} runs sessions for at most {limit}; {requested} asked',
      { ...at, limit: formatDuration(site.maxDurationMs), requested: formatDuration(needs.durationMs) }));
  }
  return out;
}

function limit(resource: string, requested: number, total: number, site: string): Message[] {
  if (requested <= total) return [];
  return [makeMessage('urn:resource-limit', 'ERROR', 'Site {site}: {requested} {resource} asked, {limit} exist',
    { site, resource, requested, limit: total })];
}

function isUnder(location: string, root: string): boolean {
  const path = location.replace(/^file:\/\//, '');
  const base = root.endsWith('/') ? root : `${root}/`;
  return path.startsWith(base) && !path.split('/').includes('..');
}

/**
 * Plans up to `maxOffers` distinct offers from the free capacity: the largest allocation the site
 * can give (up to the requested max), then the requested minimum when it differs and still fits
 * beside the first. Sibling offers each hold their own capacity until one is accepted.
 */
export function planOffers({ needs, site, free, now, maxOffers }: PlanInput): PlanResult {
  const messages = assessSite(needs, site);
  if (messages.some((m) => m.level === 'ERROR')) return { offers: [], messages };
  messages.push(...caps('cores', needs.cores.max, site.cores, site.name), ...caps('memory GiB', needs.memory.max, site.memoryGiB, site.name));

  const availableStart = Math.max(needs.window.start, now + site.preparationMs);
  const horizon = now + site.horizonMs;
  if (availableStart > horizon) {
    messages.push(makeMessage('urn:schedule-unavailable', 'ERROR',
      'Site {site} takes bookings up to {horizon} ({ahead} ahead); the requested start is {start}',
      { site: site.name, horizon: formatInstant(horizon), ahead: formatDuration(site.horizonMs), start: formatInstant(availableStart) }));
    return { offers: [], messages };
  }
  if (needs.window.end !== undefined && availableStart > needs.window.end) {
    messages.push(makeMessage('urn:schedule-unavailable', 'ERROR',
      'Site {site} can start at {earliest} at the earliest, after the requested window closes at {end}',
      { site: site.name, earliest: formatInstant(availableStart), end: formatInstant(needs.window.end) }));
    return { offers: [], messages };
  }
  if (free.cores < needs.cores.min || free.memoryGiB < needs.memory.min) {
    messages.push(makeMessage('urn:no-capacity', 'ERROR',
      'Site {site} has {freeCores} cores and {freeMemory} GiB free now; {cores} cores and {memory} GiB asked',
      { site: site.name, freeCores: free.cores, freeMemory: free.memoryGiB, cores: needs.cores.min, memory: needs.memory.min }));
    return { offers: [], messages };
  }
  const at = (cores: number, memoryGiB: number): OfferPlan => ({
    cores,
    memoryGiB,
    preparingStart: availableStart - site.preparationMs,
    preparingMs: site.preparationMs,
    availableStart,
    durationMs: needs.durationMs,
    releasingStart: availableStart + needs.durationMs,
    releasingMs: site.releasingMs,
  });
  const largest = at(Math.min(needs.cores.max, free.cores, site.cores), Math.min(needs.memory.max, free.memoryGiB, site.memoryGiB));
  const offers = [largest];
  const smallest = at(needs.cores.min, needs.memory.min);
  const differs = smallest.cores !== largest.cores || smallest.memoryGiB !== largest.memoryGiB;
  const fitsBeside = largest.cores + smallest.cores <= free.cores && largest.memoryGiB + smallest.memoryGiB <= free.memoryGiB;
  if (differs && fitsBeside) offers.push(smallest);
  return { offers: offers.slice(0, Math.max(0, maxOffers)), messages };
}

function caps(resource: string, requestedMax: number, total: number, site: string): Message[] {
  if (requestedMax <= total) return [];
  return [makeMessage('urn:resource-limit', 'WARN', 'Site {site}: {requested} {resource} asked at most, capped at the {limit} that exist',
    { site, resource, requested: requestedMax, limit: total })];
}
