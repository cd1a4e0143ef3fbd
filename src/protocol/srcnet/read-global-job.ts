import { Fields, readObject, type GpuModel, type ReadResult, type ValidationDetail } from './read-srcnet-body.js';

/**
 * The body of the Global Execution API's `POST /job/submit` (SRCNet's client, `api/global_execution.py`),
 * read as the compute API's bodies are (FastAPI's and pydantic v2's words in a 422), except that
 * an unknown system parameter is refused (`extra_forbidden`) rather than silently dropped: a size
 * misspelt would otherwise run with a default the user never asked for.
 */
export interface GlobalJob {
  container_image: string;
  script: string;
  /** Options for the script (an object), or one argument (a string); absent: none. */
  parameters?: Record<string, unknown> | string;
  system_parameters: SystemParameters;
  /**
   * Who is told of the job's phase changes (an extension of this broker): each a URL or
   * `mailto:` address (a string, or `{url | mailto | target, events}`), as the ExecutionBroker
   * API's `srcnet.notify` (docs/notifications.md); `contact_email` subscribes that address to mail.
   * Read into the request's `srcnet.notify`, where a target the broker will not tell is refused.
   */
  notify?: unknown[];
  contact_email?: string;
}

/** `notify` and `contact_email` as `srcnet.notify` targets (the ExecutionBroker API's shapes). */
export function notifyTargets(job: Pick<GlobalJob, 'notify' | 'contact_email'>): unknown[] {
  const targets = (job.notify ?? []).map((item) => {
    if (!isDoc(item)) return item;
    const { url, mailto, target, ...rest } = item;
    const named = typeof mailto === 'string' ? (mailto.startsWith('mailto:') ? mailto : `mailto:${mailto}`) : url ?? target;
    return { ...rest, target: named };
  });
  if (job.contact_email !== undefined) targets.push(`mailto:${job.contact_email}`);
  return targets;
}

/** Sizes of the run; whatever is left out is the broker's default (docs/srcnet-api.md). */
export interface SystemParameters {
  cpu_cores?: number;
  /** GB (taken as GiB). */
  memory?: number;
  /** Hours. */
  runtime?: number;
  gpu_model?: GpuModel;
  /** GB of scratch for the outputs (taken as GiB). */
  output_data_size?: number;
}

const IMAGE_MAX = 1024;
const SCRIPT_MAX = 64 * 1024;
const PARAMETERS_TEXT_MAX = 64 * 1024;
const MAX_GB = 1_000_000_000;
const MAX_CORES = 1_000_000;
const MAX_RUNTIME_HOURS = 100 * 366 * 24;
const SYSTEM_KEYS = new Set(['cpu_cores', 'memory', 'runtime', 'gpu_model', 'output_data_size']);

type Doc = Record<string, unknown>;
const isDoc = (value: unknown): value is Doc => typeof value === 'object' && value !== null && !Array.isArray(value);
const present = (doc: Doc, name: string): boolean => Object.hasOwn(doc, name) && doc[name] !== undefined && doc[name] !== null;

function readSystemParameters(value: unknown, detail: ValidationDetail[]): SystemParameters {
  if (value === undefined || value === null) return {};
  if (!isDoc(value)) {
    detail.push({ type: 'dict_type', loc: ['body', 'system_parameters'], msg: 'Input should be a valid dictionary' });
    return {};
  }
  const f = new Fields(value);
  const read: SystemParameters = {};
  if (present(value, 'cpu_cores')) read.cpu_cores = f.integer('cpu_cores', 1, MAX_CORES);
  if (present(value, 'memory')) read.memory = f.integer('memory', 1, MAX_GB);
  if (present(value, 'runtime')) read.runtime = f.integer('runtime', 1, MAX_RUNTIME_HOURS);
  if (present(value, 'output_data_size')) read.output_data_size = f.integer('output_data_size', 0, MAX_GB);
  const gpu = f.gpuModel('gpu_model');
  if (gpu) read.gpu_model = gpu;
  // Fields words its locations from the body; these are one level down.
  detail.push(...f.detail.map((d) => ({ ...d, loc: ['body', 'system_parameters', ...d.loc.slice(1)] })));
  for (const key of Object.keys(value).filter((k) => !SYSTEM_KEYS.has(k))) {
    detail.push({ type: 'extra_forbidden', loc: ['body', 'system_parameters', key], msg: 'Extra inputs are not permitted' });
  }
  return Object.fromEntries(Object.entries(read).filter(([, v]) => v !== undefined)) as SystemParameters;
}

/** Bytes -> a job to submit, or FastAPI's 422 details naming every problem. */
export function readGlobalJob(bytes: Uint8Array): ReadResult<GlobalJob> {
  const body = readObject(bytes);
  if (!body.ok) return body;
  const doc = body.value;
  const f = new Fields(doc);
  const image = f.string('container_image', { max: IMAGE_MAX });
  if (image !== undefined && image.trim() === '') f.detail.push({ type: 'string_too_short', loc: ['body', 'container_image'], msg: 'String should have at least 1 character', ctx: { min_length: 1 } });
  const script = f.string('script', { max: SCRIPT_MAX });
  let parameters: GlobalJob['parameters'];
  if (typeof doc.parameters === 'string') parameters = f.string('parameters', { max: PARAMETERS_TEXT_MAX });
  else parameters = f.params('parameters');
  const system = readSystemParameters(doc.system_parameters, f.detail);
  const contact = f.string('contact_email', { optional: true, max: 320 });
  let notify: unknown[] | undefined;
  if (present(doc, 'notify')) {
    if (Array.isArray(doc.notify)) notify = doc.notify;
    else f.detail.push({ type: 'list_type', loc: ['body', 'notify'], msg: 'Input should be a valid list' });
  }
  if (f.detail.length || image === undefined || script === undefined) return { ok: false, detail: f.detail };
  return {
    ok: true,
    value: {
      container_image: image, script, ...(parameters !== undefined ? { parameters } : {}), system_parameters: system,
      ...(notify ? { notify } : {}), ...(contact !== undefined ? { contact_email: contact } : {}),
    },
  };
}
