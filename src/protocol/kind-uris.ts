/**
 * The three families of `kind` URIs in use, all naming the same kinds:
 * - `v1.0`:   the v1.0 schema's  .../Calycopis-openapi/schema/v1.0/kinds/<folder>/<name>.yaml
 * - `eb-v1.0`: the reference broker's .../EB/schema/v1.0/types/<folder>/<name>-1.0
 * - `eb-2025`: the 2025 drafts'      .../EB/schema/types/<folder>/<name>-1.0
 * Inside the broker a kind is its canonical short name `<folder>/<name>`; responses are written in
 * the family the client used.
 */
import { setOwn } from './own-property.js';

export type KindFamily = 'v1.0' | 'eb-v1.0' | 'eb-2025';

const PURL = 'https://www.purl.org/ivoa.net';
const PATTERNS: ReadonlyArray<[KindFamily, RegExp]> = [
  ['v1.0', /^https?:\/\/www\.purl\.org\/ivoa\.net\/Calycopis-openapi\/schema\/v1\.0\/kinds\/([A-Za-z0-9-]+)\/([A-Za-z0-9-]+)\.yaml$/],
  ['eb-v1.0', /^https?:\/\/www\.purl\.org\/ivoa\.net\/EB\/schema\/v1\.0\/types\/([A-Za-z0-9-]+)\/([A-Za-z0-9-]+)-1\.0$/],
  ['eb-2025', /^https?:\/\/www\.purl\.org\/ivoa\.net\/EB\/schema\/types\/([A-Za-z0-9-]+)\/([A-Za-z0-9-]+)-1\.0$/],
];

/** Folder names of older drafts that mean a folder of today. */
const FOLDER_ALIASES: Record<string, string> = { computer: 'compute' };

export const KNOWN_KINDS: ReadonlySet<string> = new Set([
  'executable/docker-container', 'executable/singularity-container', 'executable/jupyter-notebook',
  'compute/simple-compute-resource', 'storage/simple-storage-resource', 'volume/simple-volume-mount',
  'data/simple-data-resource', 'data/S3-data-resource', 'data/rucio-data-resource',
  'data/ivoa-data-resource', 'data/skao-data-resource',
  'session/simple-execution-session', 'session/scheduled-execution-session',
  'costs/abstract-cost-item', 'costs/simple-minmax-float-cost',
  'metrics/abstract-metric-item', 'metrics/simple-minmax-float-metric',
  'offerset/execution-offerset',
]);

export interface ParsedKind { short: string; family: KindFamily }

/** Reads a kind URI of any family; undefined when it is none of them or names no known kind. */
export function parseKind(uri: string): ParsedKind | undefined {
  for (const [family, pattern] of PATTERNS) {
    const match = pattern.exec(uri);
    if (!match) continue;
    const folder = FOLDER_ALIASES[match[1] ?? ''] ?? match[1];
    const short = `${folder}/${match[2]}`;
    return KNOWN_KINDS.has(short) ? { short, family } : undefined;
  }
  return undefined;
}

export function kindUri(short: string, family: KindFamily = 'v1.0'): string {
  const [folder, name] = short.split('/');
  switch (family) {
    case 'v1.0': return `${PURL}/Calycopis-openapi/schema/v1.0/kinds/${folder}/${name}.yaml`;
    case 'eb-v1.0': return `${PURL}/EB/schema/v1.0/types/${folder}/${name}-1.0`;
    case 'eb-2025': return `${PURL}/EB/schema/types/${folder}/${name}-1.0`;
  }
}

/** A copy of a document tree with every known `kind` written in one family (v1.0: the tree itself). */
export function rewriteKinds<T>(tree: T, family: KindFamily): T {
  if (family === 'v1.0') return tree;
  const visit = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(visit);
    if (node === null || typeof node !== 'object') return node;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      const parsed = key === 'kind' && typeof value === 'string' ? parseKind(value) : undefined;
      setOwn(out, key, parsed ? kindUri(parsed.short, family) : visit(value));
    }
    return out;
  };
  return visit(tree) as T;
}
