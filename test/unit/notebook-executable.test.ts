import { readNotebookExecutable } from '../../src/domain/notebook-executable.js';

const KIND = 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds/executable/jupyter-notebook.yaml';

describe('a jupyter-notebook executable as a site reads it', () => {
  it('is interactive by default, named after the last segment of its location', () => {
    expect(readNotebookExecutable({ kind: KIND, location: 'https://example.org/a/b/Spectra%20fit.ipynb?x=1' }))
      .toEqual({ location: 'https://example.org/a/b/Spectra%20fit.ipynb?x=1', name: 'Spectra fit.ipynb', mode: 'interactive', parameters: {} });
  });

  it('names a notebook whose URL gives no plain .ipynb name notebook.ipynb', () => {
    for (const location of ['https://example.org/get?id=4', 'https://example.org/x/..%2F..%2Fetc.ipynb', 'file:///srv/a/$(rm).ipynb', 'https://example.org/.hidden.ipynb']) {
      expect(readNotebookExecutable({ kind: KIND, location })).toMatchObject({ name: 'notebook.ipynb' });
    }
  });

  it('reads the headless mode and its parameters', () => {
    expect(readNotebookExecutable({ kind: KIND, location: 'file:///srv/n.ipynb', 'srcnet.notebook': { mode: 'headless', parameters: { alpha: '0.5', _n: '3' } } }))
      .toMatchObject({ mode: 'headless', parameters: { alpha: '0.5', _n: '3' } });
  });

  it.each([
    [{ location: '' }, 'the notebook executable has no location'],
    [{ location: 'ftp://example.org/n.ipynb' }, "the notebook's location ftp://example.org/n.ipynb is not an http(s) or file:/// URL"],
    [{ location: 'file:///n.ipynb', 'srcnet.notebook': { mode: 'batch' } }, 'srcnet.notebook.mode "batch" is not interactive or headless'],
    [{ location: 'file:///n.ipynb', 'srcnet.notebook': { mode: 'headless', parameters: { '1x': 'a' } } }, 'notebook parameter "1x" is not a Python name'],
    [{ location: 'file:///n.ipynb', 'srcnet.notebook': { mode: 'headless', parameters: { x: { y: 1 } } } }, 'notebook parameter x is not a string'],
    [{ location: 'file:///n.ipynb', 'srcnet.notebook': { parameters: { x: '1' } } }, 'notebook parameters are for srcnet.notebook.mode headless'],
  ])('refuses %j: %s', (exe, why) => {
    expect(readNotebookExecutable({ kind: KIND, ...exe })).toBe(why);
  });
});
