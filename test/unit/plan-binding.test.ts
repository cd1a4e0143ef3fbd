import type { DataNeeds, ResolvedNeeds } from '../../src/domain/execution-needs.js';
import { planBinding } from '../../src/domain/plan-binding.js';
import type { OfferPlan } from '../../src/domain/plan-offers.js';
import { demoSite } from '../support/test-broker.js';

const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
const MINUTE = 60_000;
const site = demoSite({ preparationMs: 5_000 });
const docker = { kind: 'executable/docker-container', privileged: false, ports: [] };

const heldNeeds: ResolvedNeeds = {
  executable: docker, cores: { min: 4, max: 4 }, memory: { min: 8, max: 8 }, storageGiB: [{ min: 10, max: 10 }],
  data: [{ name: 'dataset', kind: 'data/simple-data-resource', places: ['democity'], sizeGiB: 2000 }],
  window: { start: NOW }, durationMs: 60 * MINUTE, startSlackMs: 10 * MINUTE,
};
const heldPlan: OfferPlan = {
  cores: 4, memoryGiB: 8, storageGiB: 10, preparingStart: NOW, preparingMs: 5_000, availableStart: NOW + 5_000,
  startSlackMs: 10 * MINUTE, durationMs: 60 * MINUTE, releasingStart: NOW + 5_000 + 70 * MINUTE, releasingMs: 5_000,
};
const data = (location: string, host: string): DataNeeds => ({
  name: 'dataset', kind: 'data/simple-data-resource', location, scheme: location.split(':')[0], places: [host],
});

describe('binding an executable to held capacity', () => {
  it('schedules the run from the binding, with no slack left, inside the held window', () => {
    const bound = planBinding({ needs: heldNeeds, plan: heldPlan }, { executable: docker, data: [data('http://localhost/d.csv', 'localhost')] }, site, NOW + 2 * MINUTE);
    expect('plan' in bound && bound.plan).toMatchObject({
      preparingStart: NOW + 2 * MINUTE, preparingMs: 5_000, availableStart: NOW + 2 * MINUTE + 5_000,
      startSlackMs: 0, durationMs: 60 * MINUTE, releasingStart: NOW + 62 * MINUTE + 5_000, cores: 4, memoryGiB: 8,
    });
  });

  it('does not prepare before the held start', () => {
    const later = { ...heldPlan, preparingStart: NOW + 30 * MINUTE, availableStart: NOW + 30 * MINUTE + 5_000 };
    const bound = planBinding({ needs: heldNeeds, plan: later }, { executable: docker, data: [] }, site, NOW);
    expect('plan' in bound && bound.plan.availableStart).toBe(NOW + 30 * MINUTE + 5_000);
  });

  it('refuses data that takes longer to stage than the held start window allows, with the size the capacity was planned for', () => {
    // 2000 GiB from elsewhere at the demo site's default 100 MB/s: about 5.7 hours.
    const bound = planBinding({ needs: heldNeeds, plan: heldPlan }, { executable: docker, data: [data('https://elsewhere.example/d.csv', 'elsewhere.example')] }, site, NOW);
    expect('messages' in bound && bound.messages.map((m) => [m.kind, m.level])).toEqual([['urn:schedule-unavailable', 'ERROR']]);
    expect('messages' in bound && bound.messages[0]?.message).toMatch(/^Site demo needs PT5H4\dM\d+(\.\d+)?S to prepare this/);
  });

  it('takes data from elsewhere when it can be staged in time', () => {
    const small = { ...heldNeeds, data: [{ ...heldNeeds.data[0]!, sizeGiB: 1 }] };
    const bound = planBinding({ needs: small, plan: heldPlan }, { executable: docker, data: [data('https://elsewhere.example/d.csv', 'elsewhere.example')] }, site, NOW);
    expect('plan' in bound && bound.plan.preparingMs).toBe(5_000 + Math.ceil(1024 / 100 * 1000));
  });

  it('refuses data the site cannot fetch', () => {
    const bound = planBinding({ needs: heldNeeds, plan: heldPlan }, { executable: docker, data: [data('rucio://scope/name', 'scope')] }, site, NOW);
    expect('messages' in bound && bound.messages[0]).toMatchObject({ kind: 'urn:not-supported', message: 'Site demo cannot fetch data [dataset] from a [rucio] location' });
  });
});
