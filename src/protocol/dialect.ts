import { makeMessage, type Message } from '../domain/messages.js';
import { kindUri, parseKind, type KindFamily } from './kind-uris.js';
import { setOwn } from './own-property.js';

/**
 * Older shapes of the same protocol, brought to the v1.0 schema before validation:
 * - kinds of any of the three URI families become v1.0 URIs (the family is remembered, so the
 *   answer uses the client's);
 * - the 2025 drafts' `type` becomes `kind`, flat `name`, `uuid`, `description` move into `meta`,
 *   and a top-level `computer` becomes `compute`;
 * - the November 2025 mounts (top-level `volumes` with `resources`, named from `compute.volumes`)
 *   become `compute.volumes[]` objects with one `resource`; a mount of several resources has no
 *   v1.0 form and is refused with a message;
 * - storage `resources` (an early name of `data`) becomes `data`;
 * - numbers and booleans among the executable's `command` items and `environment` values become
 *   their text, as YAML users write them (`command: [sleep, 10]`); objects and arrays stay, and
 *   validation refuses them;
 * - a wrapped update `{update: {type, path, value}}` becomes the bare v1.0 update.
 */
export interface NormalisedDocument {
  document: Record<string, unknown>;
  family: KindFamily;
  /** ERROR messages here make the answer NO. */
  messages: Message[];
}

type Doc = Record<string, unknown>;
const isDoc = (value: unknown): value is Doc => typeof value === 'object' && value !== null && !Array.isArray(value);

function normaliseComponent(component: unknown, seen: { family?: KindFamily }): unknown {
  if (!isDoc(component)) return component;
  const out: Doc = { ...component };
  if (out.kind === undefined && typeof out.type === 'string') {
    out.kind = out.type;
    delete out.type;
  }
  if (typeof out.kind === 'string') {
    const parsed = parseKind(out.kind);
    if (parsed) {
      seen.family ??= parsed.family;
      out.kind = kindUri(parsed.short);
    }
  }
  const meta: Doc = isDoc(out.meta) ? { ...out.meta } : {};
  for (const flat of ['name', 'uuid', 'description'] as const) {
    if (typeof out[flat] === 'string') {
      meta[flat] ??= out[flat];
      delete out[flat];
    }
  }
  if (Object.keys(meta).length) out.meta = meta;
  return out;
}

const nameOf = (component: unknown): string | undefined =>
  isDoc(component) && isDoc(component.meta) && typeof component.meta.name === 'string' ? component.meta.name : undefined;

export function normaliseExecutionRequest(input: unknown): NormalisedDocument {
  const seen: { family?: KindFamily } = {};
  const messages: Message[] = [];
  if (!isDoc(input)) return { document: input as Doc, family: 'v1.0', messages };
  const doc: Doc = { ...input };
  // The June 2025 drafts named the compute resource `computer`.
  if (doc.compute === undefined && isDoc(doc.computer)) {
    doc.compute = doc.computer;
    delete doc.computer;
  }
  doc.executable = textArguments(normaliseComponent(doc.executable, seen));
  doc.compute = normaliseComponent(doc.compute, seen);
  for (const list of ['storage', 'data', 'costs', 'metrics'] as const) {
    if (Array.isArray(doc[list])) doc[list] = (doc[list] as unknown[]).map((item) => normaliseComponent(item, seen));
  }
  if (Array.isArray(doc.storage)) {
    doc.storage = (doc.storage as unknown[]).map((storage) => {
      if (!isDoc(storage) || storage.data !== undefined || !Array.isArray(storage.resources)) return storage;
      const { resources, ...rest } = storage;
      return { ...rest, data: resources };
    });
  }
  const topLevelVolumes = Array.isArray(doc.volumes) ? (doc.volumes as unknown[]).map((v) => normaliseComponent(v, seen)) : undefined;
  delete doc.volumes;
  if (isDoc(doc.compute)) {
    const compute = doc.compute;
    const mounts = Array.isArray(compute.volumes) ? compute.volumes : undefined;
    const named = mounts?.every((item) => typeof item === 'string') ?? false;
    if (topLevelVolumes || named) {
      const chosen = named && mounts
        ? mounts.map((name) => {
          const found = topLevelVolumes?.find((volume) => nameOf(volume) === name);
          if (!found) messages.push(makeMessage('urn:resource-not-found', 'ERROR', 'Unable to find the volume [{name}] named by the compute resource', { name: String(name) }));
          return found;
        }).filter((volume) => volume !== undefined)
        : topLevelVolumes ?? [];
      compute.volumes = chosen.map((volume) => mountFromLegacy(volume, messages));
    } else if (mounts) {
      compute.volumes = mounts.map((volume) => normaliseComponent(volume, seen));
    }
  } else if (topLevelVolumes?.length) {
    messages.push(makeMessage('urn:resource-not-found', 'ERROR', 'Volume mounts need a compute resource to mount them on'));
  }
  return { document: doc, family: seen.family ?? 'v1.0', messages };
}

const asText = (value: unknown): unknown =>
  typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;

/** `command` items and `environment` values that are numbers or booleans, as their text. */
function textArguments(executable: unknown): unknown {
  if (!isDoc(executable)) return executable;
  if (Array.isArray(executable.command)) executable.command = executable.command.map(asText);
  if (isDoc(executable.environment)) {
    const environment: Doc = {};
    for (const [name, value] of Object.entries(executable.environment)) setOwn(environment, name, asText(value));
    executable.environment = environment;
  }
  return executable;
}

function mountFromLegacy(volume: unknown, messages: Message[]): unknown {
  if (!isDoc(volume) || !Array.isArray(volume.resources)) return volume;
  const { resources, cardinality, ...mount } = volume;
  void cardinality;
  if (resources.length > 1) {
    messages.push(makeMessage('urn:not-supported', 'ERROR',
      'Volume [{name}] mounts {count} resources at one path, which ExecutionBroker v1.0 cannot express; use one mount per resource',
      { name: nameOf(volume) ?? '', count: resources.length }));
  }
  return { ...mount, resource: resources[0] };
}

/** A v1.0 bare update, or the 2025 wrapped `{update: {type, path, value}}`. */
export function normaliseUpdate(input: unknown): unknown {
  const inner = isDoc(input) && isDoc(input.update) && input.kind === undefined ? input.update : input;
  if (!isDoc(inner)) return inner;
  const out: Doc = { ...inner };
  if (out.kind === undefined && typeof out.type === 'string') {
    out.kind = out.type;
    delete out.type;
  }
  return out;
}
