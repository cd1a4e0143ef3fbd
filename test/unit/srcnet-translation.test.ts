import { randomUUID } from 'node:crypto';
import type { OfferSetRecord, SessionRecord } from '../../src/broker/ports.js';
import { makeMessage } from '../../src/domain/messages.js';
import { readSrcnetJob, readSrcnetQuery } from '../../src/protocol/srcnet/read-srcnet-body.js';
import { statusAnswer, unavailableAnswer } from '../../src/protocol/srcnet/srcnet-answers.js';
import { jobId, provisionId, sessionOfProvision } from '../../src/protocol/srcnet/srcnet-ids.js';
import { datasetFileName, renderParams, translateJob, translateQuery } from '../../src/protocol/srcnet/srcnet-translation.js';

const bytes = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));
const NOW = Date.UTC(2026, 10, 30, 12);

describe('SRCNet bodies', () => {
  const query = { data_location: 'democity', data_size: 60000, output_data_size: 8000, memory: 196, cpu_cores: 16, runtime: 72, gpu_model: 'K40', deadline: '2026-12-10T12:00:00' };

  it('reads the prototype\'s example query, a naive deadline as UTC', () => {
    expect(readSrcnetQuery(bytes(query))).toEqual({ ok: true, value: { ...query, deadline: Date.UTC(2026, 11, 10, 12) } });
  });

  it('reads a deadline given as Unix seconds or milliseconds, as pydantic does, and with a space for the T', () => {
    const at = Date.UTC(2026, 11, 10, 12);
    for (const deadline of [at / 1000, at, '2026-12-10 12:00:00+00:00', '2026-12-10T13:00:00+01:00']) {
      expect(readSrcnetQuery(bytes({ ...query, deadline })).ok && (readSrcnetQuery(bytes({ ...query, deadline })) as { value: { deadline: number } }).value.deadline).toBe(at);
    }
    expect(readSrcnetQuery(bytes({ ...query, deadline: '2026-02-30T00:00:00' })).ok).toBe(false);
    expect(readSrcnetQuery(bytes({ ...query, deadline: true }))).toEqual({ ok: false, detail: [{ type: 'datetime_type', loc: ['body', 'deadline'], msg: 'Input should be a valid datetime' }] });
  });

  it('ignores fields it does not know, as pydantic does, and refuses a null where a number belongs', () => {
    expect(readSrcnetQuery(bytes({ ...query, priority: 'high' })).ok).toBe(true);
    expect(readSrcnetQuery(bytes({ ...query, memory: null }))).toEqual({ ok: false, detail: [{ type: 'int_type', loc: ['body', 'memory'], msg: 'Input should be a valid integer' }] });
  });

  it('reads a job with params null, missing, or an object', () => {
    const job = { container: 'c', dataset: 'https://x.example/a.ms' };
    expect(readSrcnetJob(bytes({ ...job, params: null }))).toEqual({ ok: true, value: job });
    expect(readSrcnetJob(bytes(job))).toEqual({ ok: true, value: job });
    expect(readSrcnetJob(bytes({ ...job, params: { '--fail': true } }))).toEqual({ ok: true, value: { ...job, params: { '--fail': true } } });
  });
});

describe('the translation', () => {
  it('asks for a run of runtime hours ending by the deadline, the outputs as storage, and the data at its location', () => {
    const read = readSrcnetQuery(bytes({ data_location: 'democity', data_size: 60000, output_data_size: 8000, memory: 196, cpu_cores: 16, runtime: 72, gpu_model: 'K40', deadline: '2026-12-10T12:00:00Z' }));
    if (!read.ok) throw new Error('unread');
    const { needs, components } = translateQuery(read.value, NOW, 'q');
    expect(needs).toMatchObject({
      cores: { min: 16, max: 16 }, memory: { min: 196, max: 196 }, gpu: { count: 1, model: 'K40' },
      storage: [{ name: 'outputs', size: { min: 8000, max: 8000 } }],
      data: [{ name: 'dataset', places: ['democity'], sizeGiB: 60000 }],
      window: { start: NOW, end: Date.UTC(2026, 11, 7, 12) }, durationMs: 72 * 3_600_000, deadline: Date.UTC(2026, 11, 10, 12),
    });
    expect(components.compute).toMatchObject({ cores: { min: 16, max: 16 }, 'srcnet.gpu': { count: 1, model: 'K40' } });
    expect(translateQuery({ ...read.value, gpu_model: 'none' }, NOW, 'q').needs.gpu).toBeUndefined();
  });

  it('renders params as command-line options, in order', () => {
    expect(renderParams({ threshold: 5, '--verbose': true, '-q': false, band: ['L', 'S'], skip: null, shape: { a: 1 }, name: 'x y' }))
      .toEqual(['--threshold', '5', '--verbose', '--band', 'L', '--band', 'S', '--shape', '{"a":1}', '--name', 'x y']);
    expect(renderParams(undefined)).toEqual([]);
  });

  it('mounts the dataset read-only under its file name, and takes its place from the URL\'s host', () => {
    const binding = translateJob({ container: 'reg.example/finder:1', dataset: 'https://Data.Example/surveys/cat%20one.csv?x=1', params: { n: 2 } });
    expect(binding.components.volumes).toEqual([expect.objectContaining({ path: '/data/cat_one.csv', mode: 'READONLY', resource: 'dataset' })]);
    expect(binding.data).toEqual([expect.objectContaining({ name: 'dataset', scheme: 'https', places: ['data.example'] })]);
    expect(binding.components.executable).toMatchObject({ image: { locations: ['reg.example/finder:1'] }, command: ['--n', '2'] });
    expect(datasetFileName('https://x.example/')).toBe('dataset');
    expect(datasetFileName('https://x.example/a/..')).toBe('dataset');
  });
});

describe('provision and job ids', () => {
  it('are opaque tokens for the session, read back only as provision ids', () => {
    const uuid = randomUUID();
    expect(provisionId(uuid)).toMatch(/^[A-Za-z0-9_-]{22}\.prov$/);
    expect(sessionOfProvision(provisionId(uuid))).toBe(uuid);
    expect(sessionOfProvision(jobId(uuid))).toBeUndefined();
    for (const id of ['', 'x.prov', `${provisionId(uuid)}x`, 'demo.city-12.prov', `${'A'.repeat(21)}B.prov`]) expect(sessionOfProvision(id)).toBeUndefined();
  });
});

describe('the answers', () => {
  const set = (...messages: Array<[string, 'ERROR' | 'WARN']>): OfferSetRecord => ({
    uuid: 'u', created: NOW, family: 'v1.0', result: 'NO', owner: 'anonymous', sessionUuids: [],
    messages: messages.map(([kind, level]) => makeMessage(kind, level, kind)),
  });

  it('says not bookable when any site has it but not in time, else a backend failure when a site that might did not answer, else not available', () => {
    expect(unavailableAnswer(set(['urn:resource-limit', 'ERROR'], ['urn:no-capacity', 'ERROR'], ['urn:site-unavailable', 'WARN'])).response_code).toBe(2);
    expect(unavailableAnswer(set(['urn:resource-limit', 'ERROR'], ['urn:site-unavailable', 'WARN'], ['urn:no-offers', 'ERROR'])).response_code).toBe(3);
    expect(unavailableAnswer(set(['urn:resource-limit', 'ERROR'], ['urn:not-supported', 'ERROR']))).toEqual({ response_code: 1, response_text: 'Not available: urn:resource-limit; urn:not-supported' });
    expect(unavailableAnswer(set()).response_code).toBe(255);
  });

  it('takes a job stopped at the end of its runtime for an execution error, and any other end but an exit status for a system error', () => {
    const session = (phase: SessionRecord['phase'], kind: string, template: string, values: Record<string, string> = {}): SessionRecord => ({
      uuid: 'u', offerSetUuid: 'o', site: 'demo', phase, created: NOW, modified: NOW, expires: NOW, family: 'v1.0', document: {}, owner: 'anonymous',
      messages: [makeMessage(kind, kind === 'urn:session-failed' ? 'ERROR' : 'INFO', template, values)],
      provision: { bindBy: NOW, boundAt: NOW, needs: {} as never, plan: {} as never },
    });
    const out = 'https://broker.example/sessions/u/outputs';
    expect(statusAnswer(session('COMPLETED', 'urn:session-completed', 'The offered duration ended and the executable was stopped; outputs are in {outputs} on site {site}'), '', out).response_code).toBe(5);
    expect(statusAnswer(session('COMPLETED', 'urn:session-completed', 'The executable exited with status 0; outputs are in {outputs} on site {site}'), 'log', out))
      .toEqual({ response_code: 0, response_text: 'OK', logging: 'log', output_data: out });
    expect(statusAnswer(session('FAILED', 'urn:session-failed', 'Site {site} lost the run: {why}', { site: 'demo', why: 'rebooted' }), '', out))
      .toMatchObject({ response_code: 6, response_text: 'System error: Site demo lost the run: rebooted' });
  });
});
