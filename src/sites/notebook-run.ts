import { lstat, open } from 'node:fs/promises';
import { get } from 'node:http';
import { constants } from 'node:fs';
import { join } from 'node:path';
import type { RunSpec } from '../broker/executor.js';

/** In the run's work directory: asks the notebook server to stop (a cancel), and what a failing headless run says. */
export const NOTEBOOK_STOP_FILE = '.eb-stop';
export const NOTEBOOK_ERROR_FILE = '.eb-notebook-error';

/**
 * Jupyter's configuration for a session's server (Python, read by `jupyter notebook --config`):
 * the request log never shows a token (Notebook writes each request's URI, query included, and
 * its Referer for failed ones, so `?token=` is scrubbed from both), and the server accepts any
 * Host header (it listens where the site publishes it; the token is what protects it).
 */
const SERVER_CONFIG = String.raw`import re
import notebook.log as _eb_log
_eb_log_request = _eb_log.log_request
def _eb_scrub(text):
    return re.sub(r'([?&]token=)[^&#\s]*', r'\1[hidden]', text or '')
def _eb_log_scrubbed(handler, **kwargs):
    request = handler.request
    request.uri = _eb_scrub(request.uri)
    if 'Referer' in request.headers:
        request.headers['Referer'] = _eb_scrub(request.headers['Referer'])
    return _eb_log_request(handler, **kwargs)
c.NotebookApp.tornado_settings = {'log_function': _eb_log_scrubbed}
c.NotebookApp.allow_remote_access = True
c.NotebookApp.open_browser = False
`;

/**
 * The interactive run, a shell inside the sandbox: copies the staged notebook into the work
 * directory (the server's notebook directory), starts the server with the session's token (given
 * in the config file, and taken out of the environment so that neither the startup lines, which
 * then print `?token=...`, nor the notebook's kernels see it), and stops it at its deadline (a
 * little before the offered duration ends), on a stop file (a cancel: bubblewrap passes no signal
 * into its sandbox) or on TERM (runs without a sandbox). The notebook as saved then goes into the
 * outputs. Arguments: work directory, staged notebook, its name, seconds until the deadline.
 */
const INTERACTIVE = String.raw`set -u
work=$1; source=$2; name=$3; seconds=$4
cd "$work" || exit 70
[ -e "$name" ] || cp -- "$source" "$name" || exit 70
conf=$(mktemp -d) || exit 70
export JUPYTER_CONFIG_DIR="$conf" JUPYTER_RUNTIME_DIR="$conf/runtime" JUPYTER_DATA_DIR="$conf/data" IPYTHONDIR="$conf/ipython"
printf '%s' "$EB_NOTEBOOK_CONFIG" > "$conf/eb_config.py"
printf "c.NotebookApp.token = '%s'\n" "$JUPYTER_TOKEN" >> "$conf/eb_config.py"
printf "c.NotebookApp.base_url = '%s'\n" "$EB_NOTEBOOK_BASE_URL" >> "$conf/eb_config.py"
unset JUPYTER_TOKEN EB_NOTEBOOK_CONFIG
jupyter notebook --allow-root --no-browser --ip="$EB_NOTEBOOK_IP" --port="$PORT" --port-retries=0 --notebook-dir="$work" --config="$conf/eb_config.py" &
server=$!
save() { rm -rf "$conf"; cp -- "$name" "$EB_OUTPUTS/" 2>/dev/null && echo "eb: the notebook as saved is in the outputs ($name)"; }
stop() { kill -TERM "$server" 2>/dev/null; wait "$server"; save; exit 0; }
trap stop TERM INT
end=$(( $(date +%s) + seconds ))
while kill -0 "$server" 2>/dev/null; do
  if [ -e "${NOTEBOOK_STOP_FILE}" ] || [ "$(date +%s)" -ge "$end" ]; then stop; fi
  sleep 0.3 & wait $!
done
wait "$server"; code=$?
save
exit "$code"
`;

/**
 * The headless run, a Python program on Jupyter's own interpreter: nbconvert's
 * ExecutePreprocessor (what `jupyter nbconvert --to notebook --execute` runs) executes the
 * notebook top to bottom in the work directory, the parameters injected papermill-style (a code
 * cell after the one tagged `parameters`, else first); it stops at the first failing cell, and
 * the notebook as executed (cell outputs kept) is written to the outputs in every case. A failing
 * cell's exception name and message go to NOTEBOOK_ERROR_FILE for the session's message; the
 * status is then 3. Arguments: staged notebook, its name, work directory, outputs directory.
 */
const HEADLESS = String.raw`import json, os, sys
import nbformat
from nbconvert.preprocessors import ExecutePreprocessor, CellExecutionError
source, name, work, outputs = sys.argv[1:5]
nb = nbformat.read(source, as_version=4)
parameters = json.loads(os.environ.pop('EB_NOTEBOOK_PARAMETERS', '') or '{}')
if parameters:
    lines = ['# Parameters, injected by the execution broker'] + ['%s = %r' % (key, value) for key, value in parameters.items()]
    cell = nbformat.v4.new_code_cell('\n'.join(lines))
    cell.metadata['tags'] = ['injected-parameters']
    tagged = [i for i, c in enumerate(nb.cells) if 'parameters' in c.get('metadata', {}).get('tags', [])]
    nb.cells.insert(tagged[0] + 1 if tagged else 0, cell)
failure = None
try:
    ExecutePreprocessor(timeout=None).preprocess(nb, {'metadata': {'path': work}})
except CellExecutionError as error:
    failure = error
finally:
    nbformat.write(nb, os.path.join(outputs, name))
if failure is None:
    print('eb: the notebook ran to its end; executed, it is in the outputs (%s)' % name)
    sys.exit(0)
failed = [i for i, c in enumerate(nb.cells) if any(o.get('output_type') == 'error' for o in c.get('outputs', []))]
where = 'cell %d' % (failed[0] + 1) if failed else 'a cell'
said = '%s raised %s: %s' % (where, failure.ename, (failure.evalue or '').strip().splitlines()[0] if (failure.evalue or '').strip() else '')
print(failure.traceback, file=sys.stderr)
with open(os.path.join(work, '${NOTEBOOK_ERROR_FILE}'), 'w') as out:
    out.write(said[:400])
sys.exit(3)
`;

/** Quiets the debugger's start-up warnings that every kernel prints otherwise (Python 3.11's frozen modules). */
const QUIET = { PYDEVD_DISABLE_FILE_VALIDATION: '1' };

export interface NotebookRun {
  program: string[];
  environment: Record<string, string>;
}

/**
 * The program and environment of a notebook run. `work` and `outputs` are the run's directories
 * (the same paths inside the sandbox); `python` is the interpreter Jupyter runs on.
 */
export function notebookRun(notebook: NonNullable<RunSpec['notebook']>, run: { work: string; outputs: string; seconds: number; listen: string; python: string }): NotebookRun {
  if (notebook.mode === 'headless') {
    return {
      program: [run.python, '-c', HEADLESS, notebook.source, notebook.name, run.work, run.outputs],
      environment: { ...QUIET, EB_NOTEBOOK_PARAMETERS: JSON.stringify(notebook.parameters ?? {}) },
    };
  }
  const token = notebook.token?.reveal() ?? '';
  // The token goes into a Python string literal in the wrapper: made by the site, but checked all the same.
  if (!/^[A-Za-z0-9_-]{16,}$/.test(token)) throw new Error('an interactive notebook needs a token of at least 16 letters, digits, - or _');
  // Served under the broker's proxy path for the session (the pages name their paths with it).
  const baseUrl = notebook.baseUrl ?? '/';
  if (!/^\/[A-Za-z0-9/_-]*$/.test(baseUrl)) throw new Error('a notebook server\'s base URL is a path of letters, digits, /, - and _');
  // Stopped a little before the offered duration ends, so that the notebook is saved before the time limit's kill.
  const seconds = Math.max(1, run.seconds - Math.min(5, Math.floor(run.seconds / 4)));
  return {
    program: ['/bin/sh', '-c', INTERACTIVE, 'eb-notebook', run.work, notebook.source, notebook.name, String(seconds)],
    environment: { ...QUIET, JUPYTER_TOKEN: token, EB_NOTEBOOK_CONFIG: SERVER_CONFIG, EB_NOTEBOOK_IP: run.listen, EB_NOTEBOOK_BASE_URL: baseUrl },
  };
}

/**
 * What a failed headless run said about its failing cell (the run wrote it, so it is read as
 * untrusted: a regular file only, no link followed, its first 400 bytes, one line).
 */
export async function notebookFailure(work: string): Promise<string | undefined> {
  const path = join(work, NOTEBOOK_ERROR_FILE);
  const info = await lstat(path).catch(() => undefined);
  if (!info?.isFile()) return undefined;
  const file = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (!file) return undefined;
  try {
    const buffer = Buffer.alloc(400);
    const { bytesRead } = await file.read(buffer, 0, 400, 0);
    const text = buffer.subarray(0, bytesRead).toString('utf8').replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
    return text || undefined;
  } finally {
    await file.close();
  }
}

/** Asks a notebook server to stop (saving the notebook): a new file in its work directory, never through a link the run made. */
export async function requestNotebookStop(work: string): Promise<void> {
  const file = await open(join(work, NOTEBOOK_STOP_FILE), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644).catch(() => undefined);
  await file?.close();
}

/**
 * Whether a notebook server answers on this host's `port` (any HTTP status: without the token,
 * Jupyter's /api/status says 403), within a second. It listens on loopback or every address, so
 * loopback reaches it either way.
 */
export function serverAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/api/status', timeout: 1_000 }, (res) => { res.resume(); resolve(true); });
    req.once('timeout', () => { req.destroy(); resolve(false); });
    req.once('error', () => resolve(false));
  });
}
