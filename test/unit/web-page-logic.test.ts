import fc from 'fast-check';
import { readExecutionRequestBody } from '../../src/protocol/read-request-body.js';
import { checkDocument } from '../../src/protocol/validator.js';
import { openableUrl, shownUrl } from '../../src/web/lib/connectors.js';
import { buildRequest, DEFAULT_FORM, readParameters, type RequestFormValues } from '../../src/web/lib/request-form.js';
import { kindsSitesRun } from '../../src/web/lib/site-kinds.js';
import { catalogueQuery, filterChoices, freeStrip } from '../../src/web/lib/site-catalogue.js';
import { costLines } from '../../src/web/lib/cost-items.js';
import { SseParser, type SseEvent } from '../../src/web/lib/sse-parser.js';
import { axisTicks, packLanes, peakWithin, usageSteps } from '../../src/web/lib/timeline-layout.js';

/** The web page's logic that needs no browser: reading the event stream, laying out the timeline, building the request. */
describe('the web page\'s event stream reader', () => {
  const read = (chunks: string[]): { events: SseEvent[]; parser: SseParser } => {
    const parser = new SseParser();
    return { events: chunks.flatMap((chunk) => parser.push(chunk)), parser };
  };

  it('reads events, comments, multi-line data and retry as the broker writes them', () => {
    const { events, parser } = read(['retry: 3000\nevent: ready\ndata: {}\n\n: heartbeat\n\nevent: session\ndata: {"a":1}\n\ndata: one\ndata: two\n\n']);
    expect(events).toEqual([{ event: 'ready', data: '{}' }, { event: 'session', data: '{"a":1}' }, { event: 'message', data: 'one\ntwo' }]);
    expect(parser.retryMs).toBe(3000);
  });

  it('takes CRLF and CR line ends and a byte order mark, and dispatches nothing without data', () => {
    expect(read(['\ufeffevent: a\r\ndata: x\r\n\r\nevent: b\rdata: y\r\revent: c\n\n']).events).toEqual([{ event: 'a', data: 'x' }, { event: 'b', data: 'y' }]);
  });

  it('gives the same events however the stream is cut into chunks (a CRLF split included)', () => {
    const stream = 'retry: 10\r\nevent: ready\r\ndata: {}\r\n\r\n: hb\n\nevent: session\ndata: {"uuid":"u","phase":"RUNNING"}\n\ndata:no space\r\rdata: last\n\n';
    const whole = read([stream]).events;
    expect(whole).toHaveLength(4);
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 12 }), (cuts) => {
      const points = [0, ...cuts.sort((a, b) => a - b), stream.length];
      const chunks = points.slice(1).map((end, i) => stream.slice(points[i], end));
      expect(read(chunks).events).toEqual(whole);
    }), { numRuns: 300 });
  });
});

describe('the web page\'s timeline layout', () => {
  const intervals = fc.array(fc.tuple(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 8 }))
    .map(([start, length, cores]) => ({ start, end: start + length, cores })), { maxLength: 60 });

  it('puts no two overlapping bars in one lane, and uses as many lanes as bars ever overlap', () => {
    fc.assert(fc.property(intervals, (items) => {
      const { lanes, placed } = packLanes(items);
      expect(placed).toHaveLength(items.length);
      for (const a of placed) {
        for (const b of placed) {
          if (a !== b && a.lane === b.lane) expect(a.item.end <= b.item.start || b.item.end <= a.item.start).toBe(true);
        }
      }
      const most = Math.max(0, ...items.map((item) => items.filter((other) => other.start <= item.start && item.start < other.end).length));
      expect(lanes).toBe(most);
    }), { numRuns: 300 });
  });

  it('sums what is held at every instant, and finds the peak of a window', () => {
    fc.assert(fc.property(intervals, fc.integer({ min: 0, max: 1300 }), (items, at) => {
      const steps = usageSteps(items, (item) => item.cores);
      const held = items.filter((item) => item.start <= at && at < item.end).reduce((sum, item) => sum + item.cores, 0);
      const step = [...steps].reverse().find((candidate) => candidate.at <= at);
      expect(step?.value ?? 0).toBe(held);
      const peak = Math.max(0, ...Array.from({ length: 101 }, (_, i) => at + i).map((t) => items.filter((item) => item.start <= t && t < item.end).reduce((sum, item) => sum + item.cores, 0)));
      expect(peakWithin(steps, at, at + 100)).toBe(peak);
    }), { numRuns: 300 });
  });

  it('puts axis ticks on round times, about as many as asked for', () => {
    const from = Date.UTC(2026, 10, 25, 9, 7);
    expect(axisTicks(from, from + 6 * 3600_000, 8).map((at) => new Date(at).toISOString().slice(11, 16))).toEqual(['10:00', '11:00', '12:00', '13:00', '14:00', '15:00']);
    // An hour in at most 5 ticks: every 15 minutes (10 would make 6).
    expect(axisTicks(from, from + 3600_000, 5).map((at) => new Date(at).toISOString().slice(11, 16))).toEqual(['09:15', '09:30', '09:45', '10:00']);
  });
});

describe('the web page\'s request form', () => {
  const local = (text: string): number => Date.parse(`${text}:00Z`);
  const build = (changes: Partial<RequestFormValues>) => buildRequest({ ...DEFAULT_FORM, ...changes }, local);
  const request = (changes: Partial<RequestFormValues>): Record<string, any> => {
    const built = build(changes);
    if (!('request' in built)) throw new Error(`refused: ${JSON.stringify(built.errors)}`);
    return built.request;
  };

  it('builds, from its defaults, a v1.0 request the broker reads without a complaint', () => {
    const document = request({});
    expect(checkDocument('ExecutionRequest', document)).toEqual([]);
    const read = readExecutionRequestBody(Buffer.from(JSON.stringify(document)), 'application/json');
    expect(read.messages.filter((message) => message.level === 'ERROR')).toEqual([]);
    expect(read.name).toBe('my-session');
    expect(document.executable).toMatchObject({ entrypoint: '/bin/sh', command: ['-c', DEFAULT_FORM.command], image: { locations: ['docker.io/library/busybox:1.36'] } });
    expect(document.compute).toMatchObject({ cores: { min: 1, max: 2 }, memory: { min: 1, max: 2 } });
    expect(document.schedule).toEqual({ requested: { duration: 'PT10M' } });
  });

  it('asks for GPUs, data mounted where the executable reads it, and a start window', () => {
    const document = request({ gpuCount: '1', gpuModel: 'K40', dataUrl: 'https://data.example/cat.vot', dataPath: '/data/in', startAfter: '2026-12-01T10:00', startBefore: '2026-12-01T12:30', duration: '2', durationUnit: 'hours', command: '' });
    expect(checkDocument('ExecutionRequest', document)).toEqual([]);
    const read = readExecutionRequestBody(Buffer.from(JSON.stringify(document)), 'application/json');
    expect(read.messages.filter((message) => message.level === 'ERROR')).toEqual([]);
    expect(read.needs.gpu).toEqual({ count: 1, model: 'K40' });
    expect(read.needs.data).toHaveLength(1);
    expect(document.schedule).toEqual({ requested: { duration: 'PT120M', start: '2026-12-01T10:00:00.000Z/2026-12-01T12:30:00.000Z' } });
    expect(document.executable.entrypoint).toBeUndefined();
    expect(document.compute.volumes).toEqual([expect.objectContaining({ path: '/data/in', mode: 'READONLY', resource: 'input' })]);
  });

  it('subscribes a webhook or a mail address to the events picked (those a mail cannot tell are left out), in the schema\'s shape', () => {
    const hook = request({ notifyTarget: ' https://hooks.example.org/eb ', notifyEvents: 'EXPIRING,ACCEPTED,COMPLETED' });
    expect(hook['srcnet.notify']).toEqual([{ target: 'https://hooks.example.org/eb', events: ['EXPIRING', 'ACCEPTED', 'COMPLETED'] }]);
    expect(checkDocument('ExecutionRequest', hook)).toEqual([]);
    const mail = request({ notifyTarget: 'astro@example.org', notifyEvents: 'EXPIRING,RUNNING,COMPLETED' });
    expect(mail['srcnet.notify']).toEqual([{ target: 'mailto:astro@example.org', events: ['EXPIRING', 'COMPLETED'] }]);
    expect(readExecutionRequestBody(Buffer.from(JSON.stringify(mail)), 'application/json').subscriptions).toEqual([{ kind: 'mail', target: 'mailto:astro@example.org', events: ['EXPIRING', 'COMPLETED'] }]);
    expect(request({})['srcnet.notify']).toBeUndefined();
  });

  it.each([
    [{ name: '' }, 'name'], [{ image: 'two words' }, 'image'], [{ coresMin: '0' }, 'coresMin'], [{ coresMin: '4', coresMax: '2' }, 'coresMax'],
    [{ memoryMin: 'lots' }, 'memoryMin'], [{ gpuCount: '-1' }, 'gpuCount'], [{ dataUrl: 'ftp://x' }, 'dataUrl'], [{ duration: '0' }, 'duration'],
    [{ startAfter: '2026-12-01T10:00', startBefore: '2026-12-01T09:00' }, 'startBefore'],
    [{ kind: 'jupyter-notebook', notebookUrl: '' }, 'notebookUrl'], [{ kind: 'jupyter-notebook', notebookUrl: 'ftp://x/a.ipynb' }, 'notebookUrl'],
    [{ kind: 'jupyter-notebook', notebookUrl: 'https://x/a.ipynb', notebookMode: 'headless', notebookParameters: 'n = 1\nnot a pair' }, 'notebookParameters'],
    [{ notifyTarget: 'gopher://x' }, 'notifyTarget'], [{ notifyTarget: 'https://hooks.example.org/', notifyEvents: '' }, 'notifyEvents'],
    [{ notifyTarget: 'astro@example.org', notifyEvents: 'RUNNING,ACCEPTED' }, 'notifyEvents'],
  ] as Array<[Partial<RequestFormValues>, keyof RequestFormValues]>)('refuses %j, saying what is wrong with %s', (changes, field) => {
    const built = build(changes);
    expect('errors' in built && built.errors[field]).toEqual(expect.any(String));
  });
});

describe('the web page\'s notebook requests', () => {
  const build = (changes: Partial<RequestFormValues>): Record<string, any> => {
    const built = buildRequest({ ...DEFAULT_FORM, kind: 'jupyter-notebook', ...changes }, Date.parse);
    if (!('request' in built)) throw new Error(`refused: ${JSON.stringify(built.errors)}`);
    return built.request;
  };

  it('builds an interactive jupyter-notebook executable (its location, no mode, no image or command) that the broker reads', () => {
    const document = build({ name: 'nb', notebookUrl: ' https://example.org/demo.ipynb ', image: 'two words', notebookParameters: 'ignored=1' });
    expect(document.executable).toEqual({
      kind: 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds/executable/jupyter-notebook.yaml',
      meta: { name: 'nb' },
      location: 'https://example.org/demo.ipynb',
    });
    expect(checkDocument('ExecutionRequest', document)).toEqual([]);
    const read = readExecutionRequestBody(Buffer.from(JSON.stringify(document)), 'application/json');
    expect(read.messages.filter((message) => message.level === 'ERROR')).toEqual([]);
    expect(read.needs.executable?.kind).toBe('executable/jupyter-notebook');
  });

  it('sends mode: headless and the parameters, read as JSON where they are JSON, only when headless is chosen', () => {
    const document = build({ notebookUrl: 'file:///srv/eb/examples/notebooks/demo.ipynb', notebookMode: 'headless', notebookParameters: 'n = 3\n\nname=M31\nflags=[1, "a"]\nratio=0.5\nquiet=true' });
    expect(document.executable).toMatchObject({ location: 'file:///srv/eb/examples/notebooks/demo.ipynb', mode: 'headless', parameters: { n: 3, name: 'M31', flags: [1, 'a'], ratio: 0.5, quiet: true } });
    expect(build({ notebookUrl: 'https://x/a.ipynb', notebookMode: 'headless' }).executable).not.toHaveProperty('parameters');
    expect(readParameters('2x=1')).toEqual({ error: expect.stringMatching(/^Line 1: /) });
  });
});

describe('the web page\'s reading of the sites\' executable kinds', () => {
  it('gathers the kinds any site lists, whether as names, URIs or objects, leaving out those marked not runnable', () => {
    const kinds = kindsSitesRun([
      { executables: ['docker-container'] },
      { executables: ['executable/singularity-container', { kind: 'jupyter-notebook', runnable: false }, 7, null] },
      { name: 'no list' },
    ]);
    expect([...kinds!].sort()).toEqual(['docker-container', 'singularity-container']);
    expect(kindsSitesRun([{ executables: [{ kind: 'https://www.purl.org/ivoa.net/EB/schema/v1.0/types/executable/jupyter-notebook-1.0' }] }])).toEqual(new Set(['jupyter-notebook']));
    expect(kindsSitesRun([{ executables: [] }])).toEqual(new Set());
  });

  it('cannot tell (undefined) when no site lists its kinds', () => {
    expect(kindsSitesRun([{ name: 'a' }, { name: 'b', executables: 'docker-container' }])).toBeUndefined();
  });
});

describe('the web page\'s connectors', () => {
  it('shows a URL without its user, query or fragment, and nothing for what is no URL', () => {
    expect(shownUrl('http://127.0.0.1:8888/lab/tree/demo.ipynb?token=s3cret#x')).toBe('http://127.0.0.1:8888/lab/tree/demo.ipynb');
    expect(shownUrl('https://me:pw@host.example/?token=s3cret')).toBe('https://host.example/');
    expect(shownUrl('not a url')).toBeUndefined();
  });

  it('opens only an AVAILABLE HTTP(S) connector at an http(s) URL, with its token', () => {
    const location = 'http://127.0.0.1:8888/?token=s3cret';
    expect(openableUrl({ protocol: 'HTTP', status: 'AVAILABLE', location })).toBe(location);
    expect(openableUrl({ protocol: 'https', status: 'AVAILABLE', location: 'https://h/' })).toBe('https://h/');
    expect(openableUrl({ protocol: 'HTTP', status: 'FINISHED', location })).toBeUndefined();
    expect(openableUrl({ protocol: 'TCP', status: 'AVAILABLE', location: 'tcp://127.0.0.1:22' })).toBeUndefined();
    expect(openableUrl({ protocol: 'HTTP', status: 'AVAILABLE', location: 'javascript:alert(1)' })).toBeUndefined();
    expect(openableUrl({ protocol: 'HTTP', status: 'AVAILABLE' })).toBeUndefined();
  });
});

describe('the web page\'s catalogue panel', () => {
  it('asks GET /sites with the filters given, and nothing for empty ones', () => {
    expect(catalogueQuery({})).toBe('');
    expect(catalogueQuery({ kind: 'jupyter-notebook', gpu: 'A100', cores: 4 })).toBe('?kind=jupyter-notebook&gpu=A100&cores=4');
    expect(catalogueQuery({ kind: '', cores: 0 })).toBe('');
    expect(catalogueQuery({ cores: 1.5, hours: 6 })).toBe('?hours=6');
  });

  it('offers the kinds and GPU models the sites name, and draws free cores as shares of the site\'s', () => {
    const sites = [
      { name: 'a', cores: 8, gpus: { A100: 2, K40: 0 }, executables: ['docker-container'], unavailableExecutables: [{ kind: 'jupyter-notebook', reason: 'no' }],
        free: { hours: [{ start: 's0', cores: 8 }, { start: 's1', cores: 2 }, { start: 's2', cores: 0 }] } },
      { name: 'b', cores: 4, gpus: { H100: 1 }, executables: ['singularity-container', 'docker-container'] },
    ];
    expect(filterChoices(sites)).toEqual({ kinds: ['docker-container', 'jupyter-notebook', 'singularity-container'], gpus: ['A100', 'H100'] });
    expect(freeStrip(sites[0]!)).toEqual([{ start: 's0', cores: 8, share: 1 }, { start: 's1', cores: 2, share: 0.25 }, { start: 's2', cores: 0, share: 0 }]);
    expect(freeStrip(sites[1]!)).toEqual([]);
  });
});

describe('the web page\'s costs and metrics', () => {
  const item = (type: string, min: number, max: number, description: string) => ({ kind: 'k', type, min, max, description });
  it('writes a quote as ranges and what was used (min = max) as one figure, with units', () => {
    const offer = {
      costs: [item('urn:ivoa:calycopis:cost:monetary', 0, 1 / 6, 'EUR'), item('urn:ivoa:calycopis:cost:carbon', 0.5, 1234.4, 'gCO2')],
      metrics: [item('urn:ivoa:calycopis:metric:compute-performance', 2, 2, 'reference cores'), item('urn:example:other', 1, 1, 'things')],
    };
    expect(costLines(offer)).toEqual(['price 0–0.167 EUR', 'carbon 0.5–1234 gCO2', 'compute 2 reference cores', 'urn:example:other 1 things']);
    expect(costLines({ costs: [item('urn:ivoa:calycopis:cost:energy', 0.000012, 0.000012, 'kWh')] })).toEqual(['energy 0.000012 kWh']);
    expect(costLines(undefined)).toEqual([]);
  });
});
