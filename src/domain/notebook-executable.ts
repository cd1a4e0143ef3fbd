/**
 * A `jupyter-notebook` executable as the site runs it: where the notebook is (`location`), the
 * file name it gets in the session's work directory and outputs, and our extension
 * `srcnet.notebook` (docs/protocol.md): `mode` (`interactive`, the default: a notebook server the
 * owner opens; `headless`: run top to bottom) and `parameters` (name -> value, injected as the
 * first code cell, papermill-style, for a headless run).
 */
export interface NotebookExecutable {
  location: string;
  name: string;
  mode: 'interactive' | 'headless';
  parameters: Record<string, string>;
}

/** The port a notebook server listens on inside its run, published on the site's host like a container port. */
export const NOTEBOOK_SERVER_PORT = 8888;
/** The name the notebook is staged under (beside the session's data). */
export const NOTEBOOK_STAGING_NAME = 'notebook';

export const NOTEBOOK_KIND_SUFFIX = 'executable/jupyter-notebook.yaml';
export const NOTEBOOK_EXTENSION = 'srcnet.notebook';

type Doc = Record<string, unknown>;
const isDoc = (value: unknown): value is Doc => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The executable, when it is a jupyter-notebook one (of whichever kind family). */
export const notebookExecutable = (exe: unknown): Doc | undefined => (isDoc(exe) && String(exe.kind ?? '').endsWith(NOTEBOOK_KIND_SUFFIX) ? exe : undefined);

const PARAMETER_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const MAX_PARAMETERS = 100;

/** The notebook's file name: the last segment of its URL's path when it is a plain `.ipynb` name, else notebook.ipynb. */
function fileName(location: string): string {
  const path = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*([^?#]*)/i.exec(location)?.[1] ?? '';
  let last = path.split('/').at(-1) ?? '';
  try { last = decodeURIComponent(last); } catch { /* as it is */ }
  return /^[A-Za-z0-9][A-Za-z0-9._ -]{0,120}\.ipynb$/.test(last) ? last : 'notebook.ipynb';
}

/** The notebook the executable names, or why it cannot be run (a sentence for the session's message). */
export function readNotebookExecutable(exe: Doc): NotebookExecutable | string {
  const location = typeof exe.location === 'string' ? exe.location.trim() : '';
  if (!location) return 'the notebook executable has no location';
  if (!/^(https?:\/\/|file:\/\/\/)/i.test(location)) return `the notebook's location ${location.slice(0, 200)} is not an http(s) or file:/// URL`;
  const extension = isDoc(exe[NOTEBOOK_EXTENSION]) ? exe[NOTEBOOK_EXTENSION] : {};
  const mode = extension.mode ?? 'interactive';
  if (mode !== 'interactive' && mode !== 'headless') return `${NOTEBOOK_EXTENSION}.mode ${JSON.stringify(mode).slice(0, 40)} is not interactive or headless`;
  const given = isDoc(extension.parameters) ? extension.parameters : {};
  const names = Object.keys(given);
  if (names.length > MAX_PARAMETERS) return `${NOTEBOOK_EXTENSION}.parameters has ${names.length} parameters, more than ${MAX_PARAMETERS}`;
  const parameters: Record<string, string> = {};
  for (const name of names) {
    if (!PARAMETER_NAME.test(name)) return `notebook parameter ${JSON.stringify(name.slice(0, 70))} is not a Python name`;
    const value = given[name];
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return `notebook parameter ${name} is not a string`;
    parameters[name] = String(value);
  }
  if (names.length && mode !== 'headless') return `notebook parameters are for ${NOTEBOOK_EXTENSION}.mode headless`;
  return { location, name: fileName(location), mode, parameters };
}
