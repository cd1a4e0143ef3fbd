import type { Binding } from '../../broker/bind-executable.js';
import type { DataNeeds, ExecutableNeeds, ExecutionNeeds } from '../../domain/execution-needs.js';
import { kindUri } from '../kind-uris.js';
import type { BoundComponents } from '../offer-documents.js';
import type { RequestComponents } from '../read-execution-request.js';
import type { SrcnetJob, SrcnetQuery } from './read-srcnet-body.js';

/**
 * SRCNet's compute API in terms of an ExecutionRequest (docs/srcnet-api.md has the table). The
 * engine decides; this file only translates. Sizes in GB are taken as GiB, which never gives less
 * than asked whichever of the two the client meant.
 */

const HOUR = 3_600_000;
/** The data resource every provision reads: sized by the query, located by the submission. */
export const DATASET = 'dataset';

const DOCKER: ExecutableNeeds = { kind: 'executable/docker-container', name: 'job', privileged: false, ports: [] };

export interface TranslatedQuery {
  needs: ExecutionNeeds;
  components: RequestComponents;
  family: 'v1.0';
  name: string;
  messages: [];
}

/**
 * A query (or provision) -> what to negotiate: a docker container still to be named, the cores,
 * memory and GPU model, storage for the outputs, the data at `data_location`, and a run of
 * `runtime` hours that must end by `deadline` (a start window from now to deadline - runtime).
 */
export function translateQuery(query: SrcnetQuery, now: number, name: string): TranslatedQuery {
  const gpu = query.gpu_model && query.gpu_model !== 'none' ? { count: 1, model: query.gpu_model } : undefined;
  const durationMs = query.runtime * HOUR;
  const compute = {
    kind: kindUri('compute/simple-compute-resource'),
    meta: { name: 'compute' },
    cores: { min: query.cpu_cores, max: query.cpu_cores },
    memory: { min: query.memory, max: query.memory },
    ...(gpu ? { 'srcnet.gpu': gpu } : {}),
  };
  const outputs = { kind: kindUri('storage/simple-storage-resource'), meta: { name: 'outputs' }, size: { min: query.output_data_size, max: query.output_data_size } };
  return {
    needs: {
      executable: DOCKER,
      cores: { min: query.cpu_cores, max: query.cpu_cores },
      memory: { min: query.memory, max: query.memory },
      ...(gpu ? { gpu } : {}),
      storage: [{ name: 'outputs', size: { min: query.output_data_size, max: query.output_data_size } }],
      data: [{ name: DATASET, kind: 'data/simple-data-resource', places: [query.data_location], sizeGiB: query.data_size }],
      window: { start: now, end: query.deadline - durationMs },
      durationMs,
      deadline: query.deadline,
    },
    components: { compute, storage: [outputs], data: [] },
    family: 'v1.0',
    name,
    messages: [],
  };
}

/**
 * `params` as command-line options, in their order: `{"threshold": 5, "--verbose": true}` ->
 * `--threshold 5 --verbose`. A name without dashes gets two; true is a bare flag; false and null
 * leave the option out; a list repeats it; an object is passed as JSON.
 */
export function renderParams(params: Record<string, unknown> | undefined): string[] {
  const args: string[] = [];
  for (const [key, value] of Object.entries(params ?? {})) {
    const option = key.startsWith('-') ? key : `--${key}`;
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item === false || item === null || item === undefined) continue;
      if (item === true) args.push(option);
      else args.push(option, typeof item === 'object' ? JSON.stringify(item) : String(item));
    }
  }
  return args;
}

/** The file name the dataset is mounted under: the last segment of its URL's path, made safe. */
export function datasetFileName(url: string): string {
  let path = '';
  try { path = decodeURIComponent(new URL(url).pathname); } catch { path = ''; }
  const last = path.split('/').filter(Boolean).at(-1) ?? '';
  const safe = last.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 128);
  return safe && !/^\.+$/.test(safe) ? safe : DATASET;
}

function placesOf(url: string): string[] {
  try {
    const host = new URL(url).hostname.toLowerCase().replace(/^\[|\]$/g, '');
    return host ? [host] : [];
  } catch {
    return [];
  }
}

/**
 * A submission -> what to bind to the provision: the container, run with `params` as options,
 * reading the dataset, which is staged and mounted read-only at /data/<file name>. Where the
 * dataset really is comes from its URL's host, not from what the query said.
 */
export function translateJob(job: SrcnetJob): Binding & { components: BoundComponents } {
  const file = datasetFileName(job.dataset);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(job.dataset)?.[1]?.toLowerCase();
  const data: DataNeeds = { name: DATASET, kind: 'data/simple-data-resource', location: job.dataset, ...(scheme ? { scheme } : {}), places: placesOf(job.dataset) };
  const command = renderParams(job.params);
  return {
    executable: { ...DOCKER, command },
    data: [data],
    components: {
      executable: { kind: kindUri('executable/docker-container'), meta: { name: 'job' }, image: { locations: [job.container] }, command },
      data: [{ kind: kindUri('data/simple-data-resource'), meta: { name: DATASET }, location: job.dataset }],
      volumes: [{ kind: kindUri('volume/simple-volume-mount'), path: `/data/${file}`, mode: 'READONLY', resource: DATASET }],
    },
  };
}
