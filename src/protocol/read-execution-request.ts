import { NOTEBOOK_STAGING_NAME, readNotebookExecutable } from '../domain/notebook-executable.js';
import type { DataNeeds, ExecutableNeeds, ExecutionNeeds, RangeRequest, UseLimits } from '../domain/execution-needs.js';
import { KNOWN_COST_TYPES, KNOWN_METRIC_TYPES } from '../domain/quote-offer.js';
import { parseDuration, parseInterval, type Interval } from '../domain/iso8601.js';
import { makeMessage, type Message } from '../domain/messages.js';
import { kindUri, parseKind } from './kind-uris.js';
import { knownProperties } from './known-properties.js';

type Doc = Record<string, unknown>;

/** The wire components of a request, trimmed to the schema, that every offer echoes. */
export interface RequestComponents {
  executable?: Doc;
  compute?: Doc;
  storage: Doc[];
  data: Doc[];
}

export interface ReadRequest {
  needs: ExecutionNeeds;
  components: RequestComponents;
  /** An unofficial `meta.name` / `meta.description` on the request, used to name the offer set. */
  name?: string;
  description?: string;
  /** ERROR messages make the answer NO; others travel with the offers. */
  messages: Message[];
}

const isDoc = (value: unknown): value is Doc => typeof value === 'object' && value !== null && !Array.isArray(value);
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
const metaOf = (component: Doc): Doc => (isDoc(component.meta) ? component.meta : {});
const nameOf = (component: Doc): string | undefined => str(metaOf(component).name);
const label = (component: Doc, fallback: string): string => nameOf(component) ?? fallback;

/**
 * Reads a validated v1.0 ExecutionRequest (after dialect normalisation) into the needs the
 * planner works on and the components the offers echo. Problems become messages, never throws.
 */
export function readExecutionRequest(doc: Doc): ReadRequest {
  const messages: Message[] = [];
  const error = (kind: string, template: string, values: Record<string, string | number> = {}) =>
    messages.push(makeMessage(kind, 'ERROR', template, values));

  const executable = isDoc(doc.executable) ? (knownProperties(doc.executable, 'AbstractExecutable') as Doc) : undefined;
  const compute = isDoc(doc.compute) ? (knownProperties(doc.compute, 'AbstractComputeResource') as Doc) : undefined;
  const storage = (Array.isArray(doc.storage) ? doc.storage : []).filter(isDoc).map((s) => knownProperties(s, 'AbstractStorageResource') as Doc);
  const data = (Array.isArray(doc.data) ? doc.data : []).filter(isDoc).map((d) => knownProperties(d, 'AbstractDataResource') as Doc);

  const kindIn = (component: Doc, folder: string, what: string): string | undefined => {
    const kind = str(component.kind) ?? '';
    const parsed = parseKind(kind);
    if (!parsed || !parsed.short.startsWith(`${folder}/`)) {
      error('urn:unsupported-kind', 'Unknown kind [{kind}] for the {what} [{name}]', { kind, what, name: label(component, what) });
      return undefined;
    }
    return parsed.short;
  };

  const needs: ExecutionNeeds = { cores: {}, memory: {}, storage: [], data: [] };
  if (executable) needs.executable = readExecutable(executable, kindIn(executable, 'executable', 'executable'), error);
  // Ranges are read from the request as sent: `units` is not a schema field, but must be seen.
  if (compute && isDoc(doc.compute) && kindIn(compute, 'compute', 'compute resource')) {
    needs.cores = range(doc.compute.cores);
    needs.memory = range(doc.compute.memory);
    const gpu = doc.compute['srcnet.gpu'];
    if (isDoc(gpu) && typeof gpu.count === 'number') needs.gpu = { count: gpu.count, ...(str(gpu.model) ? { model: str(gpu.model) } : {}) };
  }
  const rawStorage = Array.isArray(doc.storage) ? doc.storage.filter(isDoc) : [];
  storage.forEach((item, index) => {
    kindIn(item, 'storage', 'storage resource');
    needs.storage.push({ name: label(item, `storage-${index + 1}`), size: range(rawStorage[index]?.size) });
  });
  data.forEach((item, index) => {
    const kind = kindIn(item, 'data', 'data resource');
    if (kind) needs.data.push(readData(item, kind, label(item, `data-${index + 1}`), error, index));
  });
  // A notebook is staged as data is: the sites are checked for its location as for data's.
  if (executable && needs.executable?.kind === 'executable/jupyter-notebook' && str(executable.location)) {
    const notebook = readNotebookExecutable(executable);
    if (typeof notebook === 'string') error('urn:invalid-value', 'JupyterNotebook - {why}', { why: notebook });
    const location = str(executable.location);
    const host = hostOf(location);
    needs.data.push({ name: NOTEBOOK_STAGING_NAME, kind: needs.executable.kind, location, scheme: schemeOf(location), places: host ? [host] : [] });
  }
  const mounts = compute && Array.isArray(compute.volumes) ? compute.volumes.filter(isDoc) : [];
  const knownMounts = mounts.filter((mount, index) => kindIn(mount, 'volume', `volume mount ${nameOf(mount) ?? index + 1}`) !== undefined);
  linkResources(storage, data, knownMounts, error);
  readSchedule(doc.schedule, needs, error);
  const limits = readLimits(doc, messages);
  if (limits) needs.limits = limits;
  const rank = doc['srcnet.rank'];
  if (rank === 'earliest' || rank === 'cheapest' || rank === 'greenest') needs.rank = rank;
  else if (rank !== undefined) error('urn:invalid-value', 'srcnet.rank must be earliest, cheapest or greenest, not [{rank}]', { rank: String(rank) });

  const meta = isDoc(doc.meta) ? doc.meta : {};
  return {
    needs,
    components: { executable, compute, storage, data },
    name: str(meta.name),
    description: str(meta.description),
    messages,
  };
}

type Report = (kind: string, template: string, values?: Record<string, string | number>) => void;

function range(value: unknown): RangeRequest {
  if (!isDoc(value)) return {};
  const out: RangeRequest = {};
  if (typeof value.min === 'number') out.min = value.min;
  if (typeof value.max === 'number') out.max = value.max;
  if (typeof value.units === 'string') out.units = value.units;
  return out;
}

function readExecutable(exe: Doc, kind: string | undefined, error: Report): ExecutableNeeds | undefined {
  if (!kind) return undefined;
  const needs: ExecutableNeeds = { kind, name: nameOf(exe), privileged: exe.privileged === true, ports: [], ...processText(exe) };
  const what = kind.split('/')[1] ?? kind;
  if (kind === 'executable/docker-container') {
    const image = isDoc(exe.image) ? exe.image : undefined;
    if (!image) error('urn:missing-required-value', 'DockerContainer - image is required');
    else if (!Array.isArray(image.locations) || image.locations.length === 0) error('urn:missing-required-value', 'DockerContainer - image location required');
    const platform = image && isDoc(image.platform) ? image.platform : {};
    needs.architecture = str(platform.architecture);
    needs.os = str(platform.os);
    const network = isDoc(exe.network) ? exe.network : {};
    for (const port of Array.isArray(network.ports) ? network.ports.filter(isDoc) : []) {
      needs.ports.push({
        internal: isDoc(port.internal) && typeof port.internal.port === 'number' ? port.internal.port : undefined,
        protocol: str(port.protocol) ?? 'TCP',
        setsExternal: port.external !== undefined,
      });
    }
  } else if (!str(exe.location)) {
    error('urn:missing-required-value', '{what} - location is required', { what });
  }
  return needs;
}

/** The command's items and the environment as text (dialect.ts has made numbers and booleans text). */
function processText(exe: Doc): Pick<ExecutableNeeds, 'command' | 'environment'> {
  const command = Array.isArray(exe.command) ? exe.command.filter((item): item is string => typeof item === 'string') : [];
  const environment = isDoc(exe.environment)
    ? Object.entries(exe.environment).filter((entry): entry is [string, string] => typeof entry[1] === 'string')
    : [];
  return { command, environment };
}

function schemeOf(location: string | undefined): string | undefined {
  const match = location ? /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(location) : null;
  return match?.[1]?.toLowerCase();
}

function hostOf(location: string | undefined): string | undefined {
  const match = location ? /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^@/]*@)?([^/:?#]+)/.exec(location) : null;
  return match?.[1]?.toLowerCase();
}

const GIB = 1024 ** 3;

function readData(item: Doc, kind: string, name: string, error: Report, index: number): DataNeeds {
  const needs: DataNeeds = { name, kind, places: [] };
  const block = (key: string): Doc | undefined => (isDoc(item[key]) ? (item[key] as Doc) : undefined);
  switch (kind) {
    case 'data/simple-data-resource':
      needs.location = str(item.location);
      if (!needs.location) error('urn:missing-required-value', 'Data location required for [{name}]', { name });
      break;
    case 'data/S3-data-resource':
      if (!str(item.endpoint)) error('urn:missing-required-value', 'S3 service endpoint required for [{name}]', { name });
      if (!str(item.bucket)) error('urn:missing-required-value', 'S3 bucket name required for [{name}]', { name });
      needs.location = `s3://${str(item.bucket) ?? ''}/${str(item.object) ?? ''}`;
      break;
    case 'data/rucio-data-resource': {
      const rucio = block('rucio');
      if (!rucio || !str(rucio.scope) || !str(rucio.object)) error('urn:missing-required-value', 'Rucio scope and object required for [{name}]', { name });
      needs.location = rucio ? `rucio://${str(rucio.scope) ?? ''}/${str(rucio.object) ?? ''}` : undefined;
      break;
    }
    case 'data/ivoa-data-resource': {
      const ivoa = block('ivoa');
      if (!ivoa) error('urn:missing-required-value', 'Ivoa metadata required for [{name}]', { name });
      else if (!str(ivoa.ivoid)) error('urn:missing-required-value', 'Ivoa ID (ivoid) required for [{name}]', { name });
      const obscore = ivoa && isDoc(ivoa.obscore) ? ivoa.obscore : {};
      const datalink = ivoa && isDoc(ivoa.datalink) ? ivoa.datalink : {};
      // A DataLink row (the data, or a DataLink service to follow) first, then ObsCore's access_url;
      // an ivoid alone is a location no site fetches (there is no registry resolver), said as such.
      needs.location = str(datalink.access_url) ?? str(obscore.access_url) ?? str(ivoa?.ivoid);
      break;
    }
    case 'data/skao-data-resource': {
      const skao = block('skao');
      if (!skao || !str(skao.namespace) || !str(skao.objectname)) error('urn:missing-required-value', 'SKAO namespace and object name required for [{name}]', { name });
      const replicas = skao && Array.isArray(skao.replicas) ? skao.replicas.filter(isDoc) : [];
      needs.location = replicas.map((r) => str(r.dataurl)).find((url) => url !== undefined)
        ?? (skao ? `skao://${str(skao.namespace) ?? ''}/${str(skao.objectname) ?? ''}` : undefined);
      // Without replicas, SRCNet's Data Management API is asked where it is (broker/locate-data.ts).
      if (skao && replicas.length === 0 && str(skao.namespace) && str(skao.objectname)) {
        needs.locate = { namespace: str(skao.namespace)!, name: str(skao.objectname)!, index };
      }
      for (const replica of replicas) {
        const rse = str(replica.rsename);
        if (rse) needs.places.push(rse);
        const host = hostOf(str(replica.dataurl));
        if (host) needs.places.push(host);
      }
      if (skao && typeof skao.datasize === 'number' && skao.datasize >= 0) needs.sizeGiB = skao.datasize / GIB;
      break;
    }
  }
  needs.scheme = schemeOf(needs.location);
  const host = hostOf(needs.location);
  if (host && !needs.places.includes(host)) needs.places.push(host);
  return needs;
}

/** Resolves the cross-references between storage, data and mounts (of known kinds); adds storage where data has none. */
function linkResources(storage: Doc[], data: Doc[], volumes: Doc[], error: Report): void {
  const byRef = new Map<string, { type: 'storage' | 'data'; doc: Doc }>();
  const register = (doc: Doc, type: 'storage' | 'data') => {
    for (const ref of [str(metaOf(doc).uuid), nameOf(doc)]) {
      if (ref === undefined) continue;
      const previous = byRef.get(ref);
      if (previous && previous.doc !== doc) error('urn:duplicate-resource', 'Duplicate resource found [{ref}]', { ref });
      byRef.set(ref, { type, doc });
    }
  };
  storage.forEach((s) => register(s, 'storage'));
  data.forEach((d) => register(d, 'data'));

  const storageOfData = new Map<Doc, Doc>();
  for (const s of storage) {
    for (const ref of Array.isArray(s.data) ? s.data : []) {
      const target = typeof ref === 'string' ? byRef.get(ref) : undefined;
      if (!target || target.type !== 'data') error('urn:resource-not-found', 'Unable to find data resource [{ref}] for storage [{storage}]', { ref: String(ref), storage: label(s, 'storage') });
      else storageOfData.set(target.doc, s);
    }
  }
  for (const d of data) {
    const ref = str(d.storage);
    if (ref === undefined) continue;
    const target = byRef.get(ref);
    if (!target || target.type !== 'storage') {
      error('urn:resource-not-found', 'Unable to find storage resource [{ref}] for data [{data}]', { ref, data: label(d, 'data') });
    } else if (storageOfData.has(d) && storageOfData.get(d) !== target.doc) {
      error('urn:invalid-value', 'Data [{data}] names storage [{ref}], but another storage lists it', { data: label(d, 'data'), ref });
    } else {
      storageOfData.set(d, target.doc);
    }
  }
  for (const d of data) {
    if (storageOfData.has(d)) continue;
    // Data with no storage of its own gets some, as the reference broker does.
    const name = `Storage for [${label(d, 'data')}]`;
    const created: Doc = { kind: kindUri('storage/simple-storage-resource'), meta: { name } };
    if (nameOf(d)) created.data = [nameOf(d)];
    storage.push(created);
    d.storage = name;
  }
  volumes.forEach((volume, index) => {
    const name = label(volume, `volume-${index + 1}`);
    const resource = str(volume.resource);
    if (resource === undefined) error('urn:missing-required-value', 'Volume resource is null for volume [{volume}]', { volume: name });
    else if (!byRef.has(resource)) error('urn:resource-not-found', 'Unable to locate resource [{resource}] for volume [{volume}]', { resource, volume: name });
    volume.mode ??= 'READONLY';
    volume.path ??= `/volumes/${resource ?? name}`;
  });
}

function readSchedule(schedule: unknown, needs: ExecutionNeeds, error: Report): void {
  const requested = isDoc(schedule) && isDoc(schedule.requested) ? schedule.requested : undefined;
  if (!requested) return;
  const durationText = str(requested.duration);
  if (durationText !== undefined) {
    const duration = parseDuration(durationText);
    if (duration.ok) needs.durationMs = duration.ms;
    else if (duration.reason === 'calendar') error('urn:input-syntax-fail', 'Unable to use duration [{value}]: years and months have no fixed length', { value: durationText });
    else error('urn:input-syntax-fail', 'Unable to parse duration [{value}]', { value: durationText });
  }
  const startText = str(requested.start);
  if (startText !== undefined) {
    const parsed = parseInterval(startText);
    if (parsed.ok) needs.window = parsed.interval as Interval;
    else {
      const why = { syntax: 'it is not an ISO 8601 interval', repeating: 'repeating intervals are not supported', reversed: 'it ends before it starts', calendar: 'years and months have no fixed length' }[parsed.reason];
      error('urn:input-syntax-fail', 'Unable to parse interval [{value}]: {why}', { value: startText, why });
    }
  }
}

/**
 * The request's `costs` (maxima) and `metrics` (minima), all to hold at once. An item of a type the
 * broker does not know, or without the bound it needs, is ignored, saying so (WARN).
 */
function readLimits(doc: Doc, messages: Message[]): UseLimits | undefined {
  const limits: UseLimits = { costs: [], metrics: [] };
  const warn = (template: string, values: Record<string, string | number>) => messages.push(makeMessage('urn:ignored-limit', 'WARN', template, values));
  for (const [list, known, bound] of [['costs', KNOWN_COST_TYPES, 'max'], ['metrics', KNOWN_METRIC_TYPES, 'min']] as const) {
    const items = Array.isArray(doc[list]) ? (doc[list] as unknown[]).filter(isDoc) : [];
    for (const item of items) {
      const type = str(item.type) ?? '';
      const value = item[bound];
      if (!known.has(type)) warn('The {list} item of type [{type}] is ignored: the broker knows no such type', { list, type });
      else if (typeof value !== 'number' || !Number.isFinite(value)) warn('The {list} item of type [{type}] is ignored: it has no {bound}', { list, type, bound });
      else if (list === 'costs') limits.costs.push({ type, max: value });
      else limits.metrics.push({ type, min: value });
    }
  }
  return limits.costs.length || limits.metrics.length ? limits : undefined;
}
