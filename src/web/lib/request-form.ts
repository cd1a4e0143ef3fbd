/**
 * The request form's values and the ExecutionRequest (v1.0, JSON) they make. Pure: the form
 * component keeps the values, this checks them and builds the document the API reads.
 */
export const V1_KINDS = 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds';

export type ExecutableKind = 'docker-container' | 'singularity-container' | 'jupyter-notebook';

/** The kinds the form composes, in the order it offers them. */
export const EXECUTABLE_KINDS: ReadonlyArray<{ kind: ExecutableKind; label: string }> = [
  { kind: 'docker-container', label: 'Docker container' },
  { kind: 'singularity-container', label: 'Singularity container' },
  { kind: 'jupyter-notebook', label: 'Jupyter notebook' },
];

/** Interactive: a Jupyter server with the notebook open. Headless: run top to bottom (the broker's `mode: headless` extension). */
export type NotebookMode = 'interactive' | 'headless';

export interface RequestFormValues {
  name: string;
  kind: ExecutableKind;
  image: string;
  /** Run by `/bin/sh -c`; empty: the image's own entrypoint and command. */
  command: string;
  /** A jupyter-notebook's `location`: http(s), or file:// where the site allows it. */
  notebookUrl: string;
  notebookMode: NotebookMode;
  /** Headless only: one `name=value` a line; a value that reads as JSON is sent as such, else as text. */
  notebookParameters: string;
  coresMin: string;
  coresMax: string;
  memoryMin: string;
  memoryMax: string;
  /** 0 for none. */
  gpuCount: string;
  /** Empty: any model the site has. */
  gpuModel: string;
  /** An http(s) URL, mounted read-only at `dataPath`; empty for none. */
  dataUrl: string;
  dataPath: string;
  /** `datetime-local` values (the browser's zone); both empty: as soon as possible. */
  startAfter: string;
  startBefore: string;
  duration: string;
  durationUnit: 'minutes' | 'hours';
  /** Who is told (`srcnet.notify`): a webhook's http(s) URL or a mail address; empty for no one. */
  notifyTarget: string;
  /** The events it is told of, comma-separated (NOTIFY_EVENTS). */
  notifyEvents: string;
}

/** The events the form offers to subscribe to, and which a mail subscription can have (docs/notifications.md). */
export const NOTIFY_EVENTS: ReadonlyArray<{ event: string; label: string; mail: boolean }> = [
  { event: 'EXPIRING', label: 'offers about to expire', mail: true },
  { event: 'ACCEPTED', label: 'accepted', mail: false },
  { event: 'AVAILABLE', label: 'available', mail: true },
  { event: 'RUNNING', label: 'running', mail: false },
  { event: 'COMPLETED', label: 'completed', mail: true },
  { event: 'FAILED', label: 'failed', mail: true },
  { event: 'CANCELLED', label: 'cancelled', mail: true },
];

/** The form's subscriber as a `srcnet.notify` target: a URL as it is, a mail address as `mailto:`; undefined when it is neither. */
export function notifyTargetOf(text: string): { target: string; mail: boolean } | undefined {
  const value = text.trim();
  if (/^https?:\/\/\S+$/i.test(value)) return { target: value, mail: false };
  const address = value.replace(/^mailto:/i, '');
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(address) ? { target: `mailto:${address}`, mail: true } : undefined;
}

export const DEFAULT_FORM: RequestFormValues = {
  name: 'my-session',
  kind: 'docker-container',
  image: 'docker.io/library/busybox:1.36',
  command: 'echo "hello from $(hostname)"; sleep 5; echo done',
  notebookUrl: '',
  notebookMode: 'interactive',
  notebookParameters: '',
  coresMin: '1',
  coresMax: '2',
  memoryMin: '1',
  memoryMax: '2',
  gpuCount: '0',
  gpuModel: '',
  dataUrl: '',
  dataPath: '/data/input',
  startAfter: '',
  startBefore: '',
  duration: '10',
  durationUnit: 'minutes',
  notifyTarget: '',
  notifyEvents: 'EXPIRING,AVAILABLE,COMPLETED,FAILED,CANCELLED',
};

export type FieldErrors = Partial<Record<keyof RequestFormValues, string>>;

const whole = (text: string): number | undefined => (/^\s*\d+\s*$/.test(text) ? Number(text) : undefined);
const amount = (text: string): number | undefined => (/^\s*\d+(\.\d+)?\s*$/.test(text) ? Number(text) : undefined);

/** `datetime-local` text (no zone: the browser's) -> ms; `parseLocal` is the browser's reading of it. */
export type LocalTimeReader = (text: string) => number;

function range(values: RequestFormValues, errors: FieldErrors, min: 'coresMin' | 'memoryMin', max: 'coresMax' | 'memoryMax', read: (text: string) => number | undefined, least: number): { min: number; max: number } {
  const low = read(values[min]);
  const high = values[max].trim() === '' ? low : read(values[max]);
  if (low === undefined || low < least) errors[min] = `A number, at least ${least}`;
  if (high === undefined) errors[max] = 'A number';
  else if (low !== undefined && high < low) errors[max] = 'At least the minimum';
  return { min: low ?? least, max: high ?? low ?? least };
}

/** `name=value` lines -> the parameters map, or the first bad line's complaint. */
export function readParameters(text: string): { parameters: Record<string, unknown> } | { error: string } {
  const parameters: Record<string, unknown> = {};
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (!line) continue;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) return { error: `Line ${index + 1}: name=value, the name a Python identifier` };
    const [, name, value] = match as unknown as [string, string, string];
    let parsed: unknown = value;
    try { parsed = JSON.parse(value); } catch { /* plain text */ }
    parameters[name] = parsed;
  }
  return { parameters };
}

/** The executable part of the request, or the complaints about its fields. */
function buildExecutable(values: RequestFormValues, name: string, errors: FieldErrors): Record<string, unknown> {
  const executable: Record<string, unknown> = { kind: `${V1_KINDS}/executable/${values.kind}.yaml`, meta: { name } };
  if (values.kind === 'jupyter-notebook') {
    const location = values.notebookUrl.trim();
    if (!/^(https?:\/\/|file:\/\/\/)\S+$/i.test(location)) errors.notebookUrl = 'The notebook\'s http(s) URL (or file:/// where the site allows it)';
    executable.location = location;
    if (values.notebookMode === 'headless') {
      executable.mode = 'headless';
      const read = readParameters(values.notebookParameters);
      if ('error' in read) errors.notebookParameters = read.error;
      else if (Object.keys(read.parameters).length > 0) executable.parameters = read.parameters;
    }
    return executable;
  }
  const image = values.image.trim();
  if (!image || /\s/.test(image)) errors.image = 'An image reference, such as docker.io/library/busybox:1.36';
  executable.image = { locations: [image] };
  if (values.command.trim()) {
    executable.entrypoint = '/bin/sh';
    executable.command = ['-c', values.command];
  }
  return executable;
}

/** Checks the values; either the request document, or what is wrong with which field. */
export function buildRequest(values: RequestFormValues, parseLocal: LocalTimeReader): { request: Record<string, unknown> } | { errors: FieldErrors } {
  const errors: FieldErrors = {};
  const name = values.name.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9._ -]{0,63}$/.test(name)) errors.name = 'Letters, digits, ".", "_", "-" or spaces; 64 at most';
  const executable = buildExecutable(values, name, errors);
  const cores = range(values, errors, 'coresMin', 'coresMax', whole, 1);
  const memory = range(values, errors, 'memoryMin', 'memoryMax', amount, 0.001);
  const gpus = whole(values.gpuCount);
  if (gpus === undefined) errors.gpuCount = 'A whole number (0 for none)';
  const dataUrl = values.dataUrl.trim();
  if (dataUrl && !/^https?:\/\/\S+$/i.test(dataUrl)) errors.dataUrl = 'An http(s) URL';
  if (dataUrl && !/^\/\S*$/.test(values.dataPath.trim())) errors.dataPath = 'An absolute path';
  const duration = whole(values.duration);
  if (!duration) errors.duration = 'A whole number above 0';
  let start: string | undefined;
  if (values.startAfter || values.startBefore) {
    const after = values.startAfter ? parseLocal(values.startAfter) : NaN;
    const before = values.startBefore ? parseLocal(values.startBefore) : after + 24 * 3600_000;
    if (!Number.isFinite(after)) errors.startAfter = 'When the session may start at the earliest';
    else if (!Number.isFinite(before) || before < after) errors.startBefore = 'After the earliest start';
    else start = `${new Date(after).toISOString()}/${new Date(before).toISOString()}`;
  }
  let notify: Record<string, unknown> | undefined;
  if (values.notifyTarget.trim()) {
    const subscriber = notifyTargetOf(values.notifyTarget);
    const events = values.notifyEvents.split(',').filter((event) => NOTIFY_EVENTS.some((item) => item.event === event && (item.mail || !subscriber?.mail)));
    if (!subscriber) errors.notifyTarget = 'A webhook\'s http(s) URL or a mail address';
    else if (events.length === 0) errors.notifyEvents = subscriber.mail ? 'At least one event a mail can tell' : 'At least one event';
    else notify = { target: subscriber.target, events };
  }
  if (Object.keys(errors).length > 0) return { errors };

  const compute: Record<string, unknown> = {
    kind: `${V1_KINDS}/compute/simple-compute-resource.yaml`,
    meta: { name: `${name}-compute` },
    cores: cores,
    memory: memory,
  };
  if (gpus) compute['srcnet.gpu'] = { count: gpus, ...(values.gpuModel ? { model: values.gpuModel } : {}) };
  const request: Record<string, unknown> = { meta: { name }, executable, compute };
  if (dataUrl) {
    compute.volumes = [{ kind: `${V1_KINDS}/volume/simple-volume-mount.yaml`, path: values.dataPath.trim(), mode: 'READONLY', resource: 'input' }];
    request.data = [{ kind: `${V1_KINDS}/data/simple-data-resource.yaml`, meta: { name: 'input' }, location: dataUrl }];
  }
  const minutes = (duration ?? 0) * (values.durationUnit === 'hours' ? 60 : 1);
  request.schedule = { requested: { duration: `PT${minutes}M`, ...(start ? { start } : {}) } };
  if (notify) request['srcnet.notify'] = [notify];
  return { request };
}
