import { gpuModel, nextDowntime, runsKind, siteFree } from '../../src/broker/list-sites.js';
import type { CapacityOutlook } from '../../src/broker/ports.js';
import { readSiteQuery } from '../../src/protocol/listing-query.js';
import { demoSite } from '../support/test-broker.js';

const HOUR = 3600_000;

/** The catalogue's pure parts: its query, its matching, the downtime it names and the free amounts it works out. */
describe('the catalogue of sites (pure parts)', () => {
  const site = demoSite({ name: 'north', cores: 10, memoryGiB: 20, gpus: { A100: 2, K40: 0 }, executableKinds: ['executable/docker-container', 'executable/jupyter-notebook'] });

  it('reads its query: defaults, bounds, and refusals naming the parameter', () => {
    expect(readSiteQuery({})).toEqual({ hours: 24 });
    expect(readSiteQuery({ kind: 'jupyter-notebook', gpu: 'A100', cores: '4', memoryGiB: '2.5', hours: '0' })).toEqual({ kind: 'jupyter-notebook', gpu: 'A100', cores: 4, memoryGiB: 2.5, hours: 0 });
    for (const [query, name] of [[{ hours: '73' }, 'hours'], [{ cores: '0' }, 'cores'], [{ memoryGiB: '1e3' }, 'memoryGiB'], [{ kind: ['a', 'b'] }, 'kind'], [{ site: 'x' }, 'site']] as const) {
      expect(() => readSiteQuery(query as Record<string, unknown>)).toThrow(expect.objectContaining({ code: 'invalid-query', values: expect.objectContaining({ name }) }));
    }
  });

  it('matches kinds with or without executable/, and GPU models it has some of, case ignored', () => {
    expect(runsKind({ site }, 'jupyter-notebook')).toBe(true);
    expect(runsKind({ site }, 'executable/Docker-Container')).toBe(true);
    expect(runsKind({ site, abilities: [{ kind: 'executable/jupyter-notebook', runnable: false, reason: 'no Jupyter' }] }, 'jupyter-notebook')).toBe(false);
    expect(gpuModel(site, 'a100')).toBe('A100');
    expect(gpuModel(site, 'K40')).toBeUndefined(); // none of them
  });

  it('names the downtime under way before a later one, and none once all have ended', () => {
    const catalogued = { site: 'north', limits: {}, hardwareCapabilities: [], storageAreas: [], services: [], unreadable: [], downtimes: [
      { start: 5 * HOUR, end: 6 * HOUR, type: 'Planned', reason: 'later', of: 'site N' },
      { start: 0, end: 2 * HOUR, type: 'Unplanned', reason: 'now', of: 'compute C' },
    ] };
    const withDowntimes = { ...site, catalogued };
    expect(nextDowntime(withDowntimes, HOUR)?.reason).toBe('now');
    expect(nextDowntime(withDowntimes, 3 * HOUR)?.reason).toBe('later');
    expect(nextDowntime(withDowntimes, 7 * HOUR)).toBeUndefined();
    expect(nextDowntime(site, 0)).toBeUndefined();
  });

  it('turns what the calendar holds into what is free, never below nothing, hour by hour from this minute', async () => {
    const asked: unknown[] = [];
    const outlook: CapacityOutlook = {
      async outlook(name, resources, now, step, steps) {
        asked.push({ name, resources, now, step, steps });
        return { cores: { now: 4, peaks: [4, 12] }, memory: { now: 0.5, peaks: [1, 0] }, 'gpu:A100': { now: 1, peaks: [2, 0] } };
      },
    };
    const now = 1_000 * HOUR + 90_500;
    const free = await siteFree(outlook, site, now, 2);
    expect(asked).toEqual([{ name: 'north', resources: ['cores', 'memory', 'gpu:A100', 'gpu:K40'], now: Math.floor(now / 60_000), step: 60, steps: 2 }]);
    const minute = Math.floor(now / 60_000) * 60_000;
    expect(free).toEqual({
      at: now,
      now: { cores: 6, memoryGiB: 19.5, gpus: { A100: 1, K40: 0 } },
      hours: [
        { start: minute, end: minute + HOUR, cores: 6, memoryGiB: 19, gpus: { A100: 0, K40: 0 } },
        { start: minute + HOUR, end: minute + 2 * HOUR, cores: 0, memoryGiB: 20, gpus: { A100: 2, K40: 0 } },
      ],
    });
  });
});
