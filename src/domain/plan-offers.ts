import { BUCKET_MS, type ResourceAmounts } from './capacity-calendar.js';
import { urlRefusal } from './egress-policy.js';
import type { ResolvedNeeds } from './execution-needs.js';
import { formatDuration, formatInstant } from './iso8601.js';
import { makeMessage, type Message } from './messages.js';
import type { SiteProfile } from './site-profile.js';

/** One offer a site makes: what it gives and when. All instants in ms since the epoch. */
export interface OfferPlan {
  cores: number;
  memoryGiB: number;
  gpu?: { model: string; count: number };
  storageGiB: number;
  preparingStart: number;
  preparingMs: number;
  availableStart: number;
  /** The execution may begin anywhere in [availableStart, availableStart + startSlackMs]. */
  startSlackMs: number;
  durationMs: number;
  releasingStart: number;
  releasingMs: number;
}

/**
 * What the planner asks the site's calendar for: amounts of each resource for a number of
 * buckets, starting somewhere in [earliest, latest]. The calendar finds the earliest fit.
 */
export interface OfferAsk {
  /** Why this alternative exists: the smallest allocation soonest, or the largest. */
  purpose: 'earliest' | 'largest';
  cores: number;
  memoryGiB: number;
  gpu?: { model: string; count: number };
  storageGiB: number;
  amounts: ResourceAmounts;
  /** The earliest instant preparation may begin. */
  earliestPreparing: number;
  earliest: number;
  latest: number;
  length: number;
  preparingMs: number;
  /** How long after the earliest start the execution may begin (held as well). */
  slackMs: number;
  durationMs: number;
  releasingMs: number;
}

const SUPPORTED_PROTOCOLS = new Set(['TCP', 'UDP', 'HTTP', 'HTTPS']);

/** Every resource a site has, by the names the calendar uses. */
export function siteCapacity(site: SiteProfile): ResourceAmounts {
  const capacity: ResourceAmounts = { cores: site.cores, memory: site.memoryGiB, storage: site.scratchGiB };
  for (const [model, count] of Object.entries(site.gpus)) capacity[`gpu:${model}`] = count;
  return capacity;
}

function gpuModelFor(needs: ResolvedNeeds, site: SiteProfile): string | undefined {
  if (!needs.gpu) return undefined;
  if (needs.gpu.model) return Object.keys(site.gpus).find((model) => model.toLowerCase() === needs.gpu!.model!.toLowerCase());
  return Object.keys(site.gpus).sort().find((model) => (site.gpus[model] ?? 0) >= needs.gpu!.count);
}

/** Whether the site can run this at all, whatever its load: kinds, platform, limits. */
export function assessSite(needs: ResolvedNeeds, site: SiteProfile): Message[] {
  const out: Message[] = [];
  const at = { site: site.name };
  const exe = needs.executable;
  if (site.disabled) return [makeMessage('urn:site-disabled', 'ERROR', '{reason}', { reason: site.disabled })];
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
    } else {
      // Only what needs no lookup; names are checked on every connection (sites/egress-guard.ts).
      const refused = urlRefusal({ allow: site.egressAllow ?? [] }, data.location ?? '');
      if (refused) out.push(makeMessage('urn:not-supported', 'ERROR', 'Site {site} does not fetch data [{name}] from [{location}]: {why}', { ...at, name: data.name, location: data.location ?? '', why: refused }));
    }
  }
  out.push(...limit('cores', needs.cores.min, Math.min(site.cores, site.maxCoresPerSession), site.name));
  out.push(...limit('memory GiB', needs.memory.min, Math.min(site.memoryGiB, site.maxMemoryGiBPerSession), site.name));
  out.push(...limit('storage GiB', needs.storageGiB.reduce((sum, range) => sum + range.min, 0), Math.min(site.scratchGiB, site.maxScratchGiBPerSession ?? Infinity), site.name));
  if (needs.gpu) {
    const model = gpuModelFor(needs, site);
    const have = model ? site.gpus[model] ?? 0 : 0;
    if (!model || have < needs.gpu.count) {
      out.push(makeMessage('urn:resource-limit', 'ERROR', 'Site {site}: {count} {model} GPUs asked, {have} exist',
        { ...at, count: needs.gpu.count, model: needs.gpu.model ?? 'GPUs of one model,', have: model ? have : describeGpus(site) }));
    }
  }
  if (needs.durationMs > site.maxDurationMs) {
    out.push(makeMessage('urn:resource-limit', 'ERROR', 'Site {site} runs sessions for at most {limit}; {requested} asked',
      { ...at, limit: formatDuration(site.maxDurationMs), requested: formatDuration(needs.durationMs) }));
  }
  return out;
}

function describeGpus(site: SiteProfile): string {
  const models = Object.entries(site.gpus).map(([model, count]) => `${count} ${model}`);
  return models.length ? models.join(', ') : 'none';
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

const sameName = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/**
 * The storage element of the site that holds or best reaches a place, if any. Data at one of the
 * SRCNet locations the site serves is held there.
 */
function elementFor(site: SiteProfile, places: readonly string[]): SiteProfile['storageElements'][number] | undefined {
  const location = places.find((place) => site.locations.some((served) => sameName(served, place)));
  if (location) return { name: location, hosts: [], bandwidthMBps: Infinity, local: true };
  const matches = site.storageElements.filter((element) =>
    places.some((place) => place === element.name || element.hosts.includes(place.toLowerCase())));
  return matches.sort((a, b) => Number(b.local) - Number(a.local) || b.bandwidthMBps - a.bandwidthMBps)[0];
}

/**
 * Time to stage the request's data onto the site: each resource's size over the bandwidth from
 * where it is (data already local costs nothing; data of unknown size costs nothing extra beyond
 * the site's base preparation). Resources are staged one after another, a conservative estimate.
 */
export function stagingMs(needs: ResolvedNeeds, site: SiteProfile): number {
  let total = 0;
  for (const data of needs.data) {
    const element = elementFor(site, data.places);
    if (element?.local || data.sizeGiB === undefined) continue;
    const mbps = element?.bandwidthMBps ?? site.defaultBandwidthMBps;
    total += Math.ceil((data.sizeGiB * 1024 / Math.max(mbps, 0.001)) * 1000);
  }
  return total;
}

/** The share of the request's data resources the site holds itself (1 when there is no data). */
export function dataLocality(needs: ResolvedNeeds, site: SiteProfile): number {
  if (needs.data.length === 0) return 1;
  return needs.data.filter((data) => elementFor(site, data.places)?.local).length / needs.data.length;
}

/**
 * Data said to be at an SRCNet location (a place naming a location some site serves) is also at
 * the storage elements those sites hold, so that every other site's bandwidth to them applies.
 */
export function withLocationElements(needs: ResolvedNeeds, sites: readonly SiteProfile[]): ResolvedNeeds {
  const data = needs.data.map((item) => {
    const elements = sites
      .filter((site) => site.locations.some((served) => item.places.some((place) => sameName(served, place))))
      .flatMap((site) => site.storageElements.filter((element) => element.local).map((element) => element.name));
    const added = elements.filter((name) => !item.places.includes(name));
    return added.length ? { ...item, places: [...item.places, ...added] } : item;
  });
  return { ...needs, data };
}

export interface AskPlan { asks: OfferAsk[]; messages: Message[] }

/**
 * The alternatives a site asks its calendar for, in order: the requested minimum as soon as it
 * fits, then the largest allocation (up to the requested max and the site's limits), which may
 * come a little later. Each holds its own capacity while offered.
 */
export function planAsks(needs: ResolvedNeeds, site: SiteProfile, now: number): AskPlan {
  const messages = assessSite(needs, site);
  if (messages.some((m) => m.level === 'ERROR')) return { asks: [], messages };
  const largestCores = Math.min(needs.cores.max, site.cores, site.maxCoresPerSession);
  const largestMemory = Math.min(needs.memory.max, site.memoryGiB, site.maxMemoryGiBPerSession);
  if (needs.cores.max > largestCores) messages.push(capped('cores', needs.cores.max, largestCores, site.name));
  if (needs.memory.max > largestMemory) messages.push(capped('memory GiB', needs.memory.max, largestMemory, site.name));

  const prep = site.preparationMs + stagingMs(needs, site);
  const earliestAvailable = Math.max(needs.window.start, now + prep);
  const horizon = now + site.horizonMs;
  if (earliestAvailable > horizon) {
    messages.push(makeMessage('urn:schedule-unavailable', 'ERROR',
      'Site {site} takes bookings up to {horizon} ({ahead} ahead); the requested start is {start}',
      { site: site.name, horizon: formatInstant(horizon), ahead: formatDuration(site.horizonMs), start: formatInstant(earliestAvailable) }));
    return { asks: [], messages };
  }
  // A deadline is for the end of the run: the start must leave the whole duration before it. With a
  // slack the run may begin that much later, so the window and the deadline must allow for it.
  const slack = needs.startSlackMs ?? 0;
  const latestAvailable = Math.min((needs.window.end ?? Infinity) - slack, horizon, (needs.deadline ?? Infinity) - needs.durationMs - slack);
  if (needs.deadline !== undefined && earliestAvailable > needs.deadline - needs.durationMs - slack) {
    messages.push(makeMessage('urn:schedule-unavailable', 'ERROR',
      'Site {site} cannot finish {duration} before the deadline {deadline}: the earliest start is {earliest}',
      { site: site.name, duration: formatDuration(needs.durationMs), deadline: formatInstant(needs.deadline), earliest: formatInstant(earliestAvailable) }));
    return { asks: [], messages };
  }
  if (earliestAvailable > latestAvailable) {
    messages.push(makeMessage('urn:schedule-unavailable', 'ERROR',
      'Site {site} can start at {earliest} at the earliest, after the requested window closes at {end}',
      { site: site.name, earliest: formatInstant(earliestAvailable), end: formatInstant(latestAvailable) }));
    return { asks: [], messages };
  }
  const model = gpuModelFor(needs, site);
  const gpu = needs.gpu && model ? { model, count: needs.gpu.count } : undefined;
  const storageGiB = needs.storageGiB.reduce((sum, range) => sum + range.min, 0);
  const earliestPreparing = earliestAvailable - prep;
  const ask = (purpose: OfferAsk['purpose'], cores: number, memoryGiB: number): OfferAsk => ({
    purpose,
    cores,
    memoryGiB,
    gpu,
    storageGiB,
    amounts: { cores, memory: memoryGiB, storage: storageGiB, ...(gpu ? { [`gpu:${gpu.model}`]: gpu.count } : {}) },
    earliestPreparing,
    earliest: Math.floor(earliestPreparing / BUCKET_MS),
    latest: Math.floor((latestAvailable - prep) / BUCKET_MS),
    // One bucket more than the span needs: a start inside a bucket may run into one more.
    length: Math.ceil((prep + slack + needs.durationMs + site.releasingMs) / BUCKET_MS) + 1,
    preparingMs: prep,
    slackMs: slack,
    durationMs: needs.durationMs,
    releasingMs: site.releasingMs,
  });
  const asks = [ask('earliest', needs.cores.min, needs.memory.min)];
  if (largestCores !== needs.cores.min || largestMemory !== needs.memory.min) asks.push(ask('largest', largestCores, largestMemory));
  return { asks, messages };
}

/**
 * For a site whose limits come from the site capabilities catalogue (its worker plans with the
 * sites file's): the request's maxima brought within them, saying so, so that the worker's largest
 * alternative stays inside the queue's limits. Other sites' requests pass as they are.
 */
export function withinCatalogueLimits(needs: ResolvedNeeds, site: SiteProfile): { needs: ResolvedNeeds; messages: Message[] } {
  if (site.hardwareCapabilities === undefined) return { needs, messages: [] };
  const cores = Math.min(needs.cores.max, site.cores, site.maxCoresPerSession);
  const memory = Math.min(needs.memory.max, site.memoryGiB, site.maxMemoryGiBPerSession);
  const messages: Message[] = [];
  if (cores < needs.cores.max) messages.push(capped('cores', needs.cores.max, cores, site.name));
  if (memory < needs.memory.max) messages.push(capped('memory GiB', needs.memory.max, memory, site.name));
  if (!messages.length) return { needs, messages };
  return { needs: { ...needs, cores: { ...needs.cores, max: Math.max(cores, needs.cores.min) }, memory: { ...needs.memory, max: Math.max(memory, needs.memory.min) } }, messages };
}

function capped(resource: string, requested: number, limitTo: number, site: string): Message {
  return makeMessage('urn:resource-limit', 'WARN', 'Site {site}: {requested} {resource} asked at most, capped at the {limit} it gives one session',
    { site, resource, requested, limit: limitTo });
}

/** The offer a held bucket gives: preparation starts as early as the ask allows within it. */
export function offerFromHold(ask: OfferAsk, startBucket: number): OfferPlan {
  const preparingStart = Math.max(ask.earliestPreparing, startBucket * BUCKET_MS);
  const availableStart = preparingStart + ask.preparingMs;
  return {
    cores: ask.cores,
    memoryGiB: ask.memoryGiB,
    ...(ask.gpu ? { gpu: ask.gpu } : {}),
    storageGiB: ask.storageGiB,
    preparingStart,
    preparingMs: ask.preparingMs,
    availableStart,
    startSlackMs: ask.slackMs,
    durationMs: ask.durationMs,
    releasingStart: availableStart + ask.slackMs + ask.durationMs,
    releasingMs: ask.releasingMs,
  };
}

/** Why a site could not hold an ask: said per site, with the amounts and the window. */
export function noRoomMessage(ask: OfferAsk, site: SiteProfile, reason: 'none' | 'gave-up'): Message {
  const values = {
    site: site.name,
    cores: ask.cores,
    memory: ask.memoryGiB,
    duration: formatDuration(ask.durationMs),
    from: formatInstant(ask.earliestPreparing + ask.preparingMs),
    to: formatInstant(Math.max(ask.latest * BUCKET_MS, ask.earliestPreparing) + ask.preparingMs),
  };
  return reason === 'none'
    ? makeMessage('urn:no-capacity', 'ERROR', 'Site {site} has no room for {cores} cores and {memory} GiB for {duration} starting between {from} and {to}', values)
    : makeMessage('urn:no-capacity', 'ERROR', 'Site {site} is too busy to search for {cores} cores and {memory} GiB for {duration} starting between {from} and {to}', values);
}

/**
 * The largest allocation on the way from the smaller ask to the larger (cores and memory grown
 * together) that `fits` accepts; undefined when only the smaller one does. `fits` must be monotone:
 * what fits a larger allocation fits every smaller one (a price limit).
 */
export function largestFitting(small: OfferAsk, large: OfferAsk, fits: (ask: OfferAsk) => boolean): OfferAsk | undefined {
  const dc = large.cores - small.cores;
  const dm = large.memoryGiB - small.memoryGiB;
  const steps = Math.max(dc, dm);
  const at = (n: number): OfferAsk => {
    const cores = small.cores + Math.round(dc * n / steps);
    const memoryGiB = small.memoryGiB + Math.round(dm * n / steps);
    return { ...large, cores, memoryGiB, amounts: { ...large.amounts, cores, memory: memoryGiB } };
  };
  let lo = 0;
  let hi = steps;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(at(mid))) lo = mid; else hi = mid - 1;
  }
  return lo > 0 ? at(lo) : undefined;
}
