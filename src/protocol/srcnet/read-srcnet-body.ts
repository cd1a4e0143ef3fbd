import { parseInstant } from '../../domain/iso8601.js';
import { scanDocument } from '../codecs/document-scan.js';

/**
 * Reading SRCNet compute API bodies as its prototype (FastAPI and pydantic v2) did, so that its
 * clients get the same answers: lax integers ("16" is 16), a naive date-time read as UTC, extra
 * fields ignored, and a 422 listing every problem as `{loc, msg, type}`. Hand-written rather than
 * through the ajv validator because pydantic's coercions and error types are what clients see.
 */

export const GPU_MODELS = ['none', 'K40', 'A100', 'RTX4090', 'RX7900XT'] as const;
export type GpuModel = (typeof GPU_MODELS)[number];

/** The body of POST /v1/query and PUT /v1/provision. Sizes in GB, runtime in hours. */
export interface SrcnetQuery {
  data_location: string;
  data_size: number;
  output_data_size: number;
  memory: number;
  cpu_cores: number;
  runtime: number;
  gpu_model?: GpuModel;
  /** ms since the epoch. */
  deadline: number;
}

/** The body of PUT /v1/provision/{id}/submit. */
export interface SrcnetJob {
  container: string;
  dataset: string;
  params?: Record<string, unknown>;
  contact_email?: string;
}

export interface ValidationDetail { type: string; loc: Array<string | number>; msg: string; ctx?: Record<string, unknown> }

export type ReadResult<T> = { ok: true; value: T } | { ok: false; detail: ValidationDetail[] };

type Doc = Record<string, unknown>;
/**
 * The largest numbers read (the prototype had none): far beyond any site, small enough that every
 * later step (bytes, milliseconds, instants) stays exact; past them a body is a 422 naming the field.
 */
const MAX_GB = 1_000_000_000;
const MAX_CORES = 1_000_000;
const MAX_RUNTIME_HOURS = 100 * 366 * 24;
const FIRST_INSTANT = new Date('0001-01-01T00:00:00Z').getTime();
const LAST_INSTANT = new Date('9999-12-31T23:59:59.999Z').getTime();
const LOCATION_MAX = 256;
/** A params key becomes a command-line option: letters, digits, '_', '.', '-', with up to two leading dashes. */
const OPTION_NAME = /^-{0,2}[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Bytes -> a JSON object, or the 422 details FastAPI gives for a body that is not one. */
export function readObject(bytes: Uint8Array): ReadResult<Doc> {
  const text = Buffer.from(bytes).toString('utf8');
  if (text.trim() === '') return { ok: false, detail: [{ type: 'missing', loc: ['body'], msg: 'Field required' }] };
  let value: unknown;
  try {
    scanDocument(text, 'json');
  } catch (error) {
    return { ok: false, detail: [{ type: 'value_error', loc: ['body'], msg: `Value error, ${(error as Error).message}` }] };
  }
  try {
    value = JSON.parse(text);
  } catch (error) {
    const message = (error as Error).message;
    const position = Number(/position (\d+)/.exec(message)?.[1] ?? (/end of JSON input/.test(message) ? text.length : 0));
    return { ok: false, detail: [{ type: 'json_invalid', loc: ['body', position], msg: 'JSON decode error', ctx: { error: message.slice(0, 200) } }] };
  }
  if (value === null) return { ok: false, detail: [{ type: 'missing', loc: ['body'], msg: 'Field required' }] };
  if (typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, detail: [{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from' }] };
  }
  return { ok: true, value: value as Doc };
}

export class Fields {
  readonly detail: ValidationDetail[] = [];
  constructor(private readonly body: Doc) {}

  private problem(name: string | Array<string | number>, type: string, msg: string, ctx?: Record<string, unknown>): undefined {
    this.detail.push({ type, loc: ['body', ...([] as Array<string | number>).concat(name)], msg, ...(ctx ? { ctx } : {}) });
    return undefined;
  }

  private present(name: string): boolean {
    return Object.hasOwn(this.body, name) && this.body[name] !== undefined;
  }

  integer(name: string, min: number, max: number): number | undefined {
    if (!this.present(name)) return this.problem(name, 'missing', 'Field required');
    let value = this.body[name];
    if (typeof value === 'string') {
      if (!/^\s*[+-]?\d+\s*$/.test(value)) return this.problem(name, 'int_parsing', 'Input should be a valid integer, unable to parse string as an integer');
      value = Number(value);
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) return this.problem(name, 'int_type', 'Input should be a valid integer');
    if (!Number.isInteger(value)) return this.problem(name, 'int_from_float', 'Input should be a valid integer, got a number with a fractional part');
    if (value < min) return this.problem(name, 'greater_than_equal', `Input should be greater than or equal to ${min}`, { ge: min });
    if (value > max) return this.problem(name, 'less_than_equal', `Input should be less than or equal to ${max}`, { le: max });
    return value;
  }

  string(name: string, options: { optional?: boolean; max?: number } = {}): string | undefined {
    if (!this.present(name) || (options.optional && this.body[name] === null)) {
      return options.optional ? undefined : this.problem(name, 'missing', 'Field required');
    }
    const value = this.body[name];
    if (typeof value !== 'string') return this.problem(name, 'string_type', 'Input should be a valid string');
    if (options.max !== undefined && value.length > options.max) {
      return this.problem(name, 'string_too_long', `String should have at most ${options.max} characters`, { max_length: options.max });
    }
    return value;
  }

  gpuModel(name: string): GpuModel | undefined {
    const value = this.body[name];
    if (value === undefined || value === null) return undefined;
    if (!(GPU_MODELS as readonly unknown[]).includes(value)) {
      const expected = `${GPU_MODELS.slice(0, -1).map((m) => `'${m}'`).join(', ')} or '${GPU_MODELS.at(-1)}'`;
      return this.problem(name, 'enum', `Input should be ${expected}`, { expected });
    }
    return value as GpuModel;
  }

  /** A date-time (a naive one is UTC), a date (midnight UTC), or Unix seconds, as pydantic reads them. */
  instant(name: string): number | undefined {
    if (!this.present(name)) return this.problem(name, 'missing', 'Field required');
    const value = this.body[name];
    let at: number | undefined;
    if (typeof value === 'number' && Number.isFinite(value)) {
      // pydantic: a number above 2e10 is in milliseconds, else in seconds.
      at = Math.abs(value) > 2e10 ? Math.round(value) : Math.round(value * 1000);
    } else {
      if (typeof value !== 'string') return this.problem(name, 'datetime_type', 'Input should be a valid datetime');
      at = parseInstant(value.trim().replace(/^(\d{4}-\d{2}-\d{2}) (?=\d)/, '$1T'));
      if (at === undefined) return this.problem(name, 'datetime_from_date_parsing', 'Input should be a valid datetime or date');
    }
    // pydantic's datetimes run from year 1 to year 9999.
    if (at < FIRST_INSTANT || at > LAST_INSTANT) return this.problem(name, 'datetime_parsing', 'Input should be a valid datetime, dates before year 1 or after year 9999 are not supported');
    return at;
  }

  url(name: string): string | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    let parsed: URL | undefined;
    try { parsed = new URL(value); } catch { parsed = undefined; }
    if (!parsed || !/^[a-z][a-z0-9+.-]*:$/i.test(parsed.protocol)) {
      return this.problem(name, 'url_parsing', 'Input should be a valid URL, relative URL without a base');
    }
    return value;
  }

  params(name: string): Record<string, unknown> | undefined {
    const value = this.body[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) return this.problem(name, 'dict_type', 'Input should be a valid dictionary');
    for (const key of Object.keys(value)) {
      if (!OPTION_NAME.test(key)) {
        this.problem([name, key], 'value_error', "Value error, a parameter name must be an option name: letters, digits, '_', '.' and '-', with up to two leading dashes");
      }
    }
    return value as Record<string, unknown>;
  }
}

/** The body of a query or a provision. */
export function readSrcnetQuery(bytes: Uint8Array): ReadResult<SrcnetQuery> {
  const body = readObject(bytes);
  if (!body.ok) return body;
  const f = new Fields(body.value);
  const query = {
    data_location: f.string('data_location', { max: LOCATION_MAX }),
    data_size: f.integer('data_size', 0, MAX_GB),
    output_data_size: f.integer('output_data_size', 0, MAX_GB),
    memory: f.integer('memory', 0, MAX_GB),
    cpu_cores: f.integer('cpu_cores', 1, MAX_CORES),
    runtime: f.integer('runtime', 1, MAX_RUNTIME_HOURS),
    gpu_model: f.gpuModel('gpu_model'),
    deadline: f.instant('deadline'),
  };
  if (f.detail.length) return { ok: false, detail: f.detail };
  const { gpu_model: gpu, ...required } = query;
  return { ok: true, value: { ...(required as Omit<SrcnetQuery, 'gpu_model'>), ...(gpu ? { gpu_model: gpu } : {}) } };
}

/** The body of a submission. */
export function readSrcnetJob(bytes: Uint8Array): ReadResult<SrcnetJob> {
  const body = readObject(bytes);
  if (!body.ok) return body;
  const f = new Fields(body.value);
  const container = f.string('container');
  const dataset = f.url('dataset');
  const params = f.params('params');
  const contact = f.string('contact_email', { optional: true, max: 320 });
  if (f.detail.length || container === undefined || dataset === undefined) return { ok: false, detail: f.detail };
  return { ok: true, value: { container, dataset, ...(params ? { params } : {}), ...(contact !== undefined ? { contact_email: contact } : {}) } };
}
