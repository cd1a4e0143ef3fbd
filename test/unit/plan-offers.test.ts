import { checkNeeds } from '../../src/domain/check-needs.js';
import type { ExecutionNeeds } from '../../src/domain/execution-needs.js';
import { planOffers } from '../../src/domain/plan-offers.js';
import type { SiteProfile } from '../../src/domain/site-profile.js';

const NOW = Date.UTC(2026, 0, 1, 12);
const site: SiteProfile = {
  name: 'unit', cores: 16, memoryGiB: 64, scratchGiB: 100, executableKinds: ['executable/docker-container'],
  architectures: ['amd64'], operatingSystems: ['linux'], dataSchemes: ['https'], fileRoots: ['/data'],
  maxDurationMs: 86_400_000, horizonMs: 7 * 86_400_000, preparationMs: 10_000, releasingMs: 5_000,
};
const needs = (overrides: Partial<ExecutionNeeds> = {}): ExecutionNeeds => ({
  executable: { kind: 'executable/docker-container', privileged: false, ports: [] },
  cores: { min: 2, max: 8 }, memory: { min: 4, max: 16 }, storage: [], data: [], durationMs: 3_600_000, ...overrides,
});
const plan = (n: ExecutionNeeds, free = { cores: 16, memoryGiB: 64 }) => {
  const checked = checkNeeds(n, NOW);
  if (!checked.resolved) return { offers: [], messages: checked.messages };
  return planOffers({ needs: checked.resolved, site, free, now: NOW, maxOffers: 4 });
};

describe('the offer planner', () => {
  it('offers the largest allocation, then the minimum, starting after preparation', () => {
    const result = plan(needs());
    expect(result.offers.map((o) => [o.cores, o.memoryGiB])).toEqual([[8, 16], [2, 4]]);
    expect(result.offers[0]).toMatchObject({ preparingStart: NOW, availableStart: NOW + 10_000, releasingStart: NOW + 10_000 + 3_600_000 });
  });

  it('never offers below min or above max, or more than is free', () => {
    for (let free = 0; free <= 16; free++) {
      const result = plan(needs({ cores: { min: 3, max: 6 } }), { cores: free, memoryGiB: 64 });
      const total = result.offers.reduce((sum, o) => sum + o.cores, 0);
      expect(total).toBeLessThanOrEqual(free);
      for (const offer of result.offers) expect(offer.cores >= 3 && offer.cores <= 6).toBe(true);
      expect(result.offers.length > 0).toBe(free >= 3);
    }
  });

  it('starts inside the requested window, or says NO when the window closes too soon', () => {
    const later = { start: NOW + 3_600_000, end: NOW + 7_200_000 };
    expect(plan(needs({ window: later })).offers[0]?.availableStart).toBe(later.start);
    const tooSoon = plan(needs({ window: { start: NOW, end: NOW + 5_000 } }));
    expect(tooSoon.offers).toEqual([]);
    expect(tooSoon.messages[0]?.kind).toBe('urn:schedule-unavailable');
  });

  it('applies defaults: a missing max is the min, a missing min is one', () => {
    expect(plan(needs({ cores: { min: 4 }, memory: {} })).offers.map((o) => [o.cores, o.memoryGiB])).toEqual([[4, 1]]);
    expect(plan(needs({ cores: { max: 3 }, memory: {} })).offers.map((o) => o.cores)).toEqual([3, 1]);
  });

  it('refuses file data outside the allowed roots, and paths that climb out of them', () => {
    const file = (location: string) => plan(needs({ data: [{ name: 'd', kind: 'data/simple-data-resource', scheme: 'file', location }] }));
    expect(file('file:///data/a.fits').offers).toHaveLength(2);
    expect(file('file:///etc/passwd').offers).toEqual([]);
    expect(file('file:///data/../etc/passwd').offers).toEqual([]);
  });
});
