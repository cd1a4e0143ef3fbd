import type { ResolvedNeeds } from '../../src/domain/execution-needs.js';
import { dataLocality, stagingMs, withLocationElements } from '../../src/domain/plan-offers.js';
import type { SiteProfile } from '../../src/domain/site-profile.js';
import { demoSite } from '../support/test-broker.js';

const demo: SiteProfile = demoSite();
const north: SiteProfile = demoSite({
  name: 'north', locations: ['northcity'],
  storageElements: [{ name: 'DEMOCITY-RSE', hosts: [], bandwidthMBps: 400, local: false }],
  defaultBandwidthMBps: 100,
});

function needsWith(places: string[], sizeGiB: number): ResolvedNeeds {
  return {
    executable: { kind: 'executable/docker-container', privileged: false, ports: [] },
    cores: { min: 1, max: 1 }, memory: { min: 1, max: 1 }, storageGiB: [],
    data: [{ name: 'dataset', kind: 'data/simple-data-resource', places, sizeGiB }],
    window: { start: 0 }, durationMs: 3_600_000,
  };
}

describe('data at an SRCNet location', () => {
  it('is local, needing no staging, on the site that serves the location (names compare without case)', () => {
    const needs = withLocationElements(needsWith(['DemoCity'], 1000), [demo, north]);
    expect(stagingMs(needs, demo)).toBe(0);
    expect(dataLocality(needs, demo)).toBe(1);
  });

  it('comes to another site at its bandwidth to the storage elements of the sites serving the location', () => {
    const needs = withLocationElements(needsWith(['democity'], 1000), [demo, north]);
    expect(needs.data[0]?.places).toEqual(['democity', 'DEMOCITY-RSE']);
    expect(stagingMs(needs, north)).toBe(Math.ceil((1000 * 1024 / 400) * 1000));
    expect(dataLocality(needs, north)).toBe(0);
  });

  it('comes at the default bandwidth from a location no site serves', () => {
    const needs = withLocationElements(needsWith(['nowhere'], 10), [demo, north]);
    expect(needs.data[0]?.places).toEqual(['nowhere']);
    expect(stagingMs(needs, north)).toBe(Math.ceil((10 * 1024 / 100) * 1000));
  });
});
