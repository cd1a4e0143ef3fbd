import { readFileSync } from 'node:fs';
import { BUCKET_MS } from '../../src/domain/capacity-calendar.js';
import { downtimeHolds } from '../../src/domain/downtime-holds.js';
import { catalogueSite, readDateRange, withCatalogue, type ScapiNode } from '../../src/domain/site-catalogue.js';
import { loadConfig } from '../../src/config/load-config.js';

const EXAMPLE = JSON.parse(readFileSync(new URL('../fixtures/site-capabilities/example-nodes.json', import.meta.url), 'utf8')) as ScapiNode[];
const demo = loadConfig({}).sites[0]!;
const HOUR = 3_600_000;

describe('the site capabilities catalogue, read', () => {
  it('reads SCAPI\'s date ranges, and refuses what is not one', () => {
    expect(readDateRange('2025-12-01T00:00:00.000Z to 2300-12-02T00:00:00.000Z')).toEqual({ start: Date.parse('2025-12-01T00:00:00Z'), end: Date.parse('2300-12-02T00:00:00Z') });
    expect(readDateRange('2025-12-02T00:00:00Z to 2025-12-01T00:00:00Z')).toBeUndefined();
    expect(readDateRange('tomorrow')).toBeUndefined();
    expect(readDateRange(undefined)).toBeUndefined();
  });

  it('finds a queue\'s downtime, says which declarations it cannot read, and keeps the file\'s GPUs only with the gpu capability', () => {
    const four = catalogueSite(EXAMPLE, 'north', { site: 'TEST_A', compute: 'db1d3ee3-74e4-48aa-afaf-8d7709a2f57c', queue: 'd4e5f678-9abc-4def-ef01-4567890123de' });
    expect(four).toMatchObject({ node: 'TEST', scapiSite: 'TEST_A', queue: 'test-queue-4', downtimes: [{ type: 'Planned', reason: 'System upgrade', of: 'queue test-queue-4' }] });
    expect(four.disabled).toBeUndefined();
    const nodes = structuredClone(EXAMPLE) as any[];
    nodes[0].sites[0].downtime = [{ date_range: 'next week', type: 'Planned', reason: 'x' }];
    nodes[0].sites[0].compute[0].hardware_capabilities = ['gpu', 'high-mem'];
    const entry = catalogueSite(nodes, 'north', { site: 'TEST_A', compute: 'db1d3ee3-74e4-48aa-afaf-8d7709a2f57c' });
    expect(entry.unreadable).toEqual(['site TEST_A: date_range [next week] is not "<ISO 8601> to <ISO 8601>"']);
    expect(withCatalogue(demo, entry)).toMatchObject({ gpus: { K40: 1 }, hardwareCapabilities: ['gpu', 'high-mem'] });
    expect(withCatalogue(demo, four).gpus).toEqual({});
    expect(withCatalogue(demo, undefined)).toBe(demo);
  });

  it('holds a downtime over its buckets from now to as far as an offer made now reaches, the whole site, under the same id every time', () => {
    const now = Date.parse('2026-01-01T12:00:30Z');
    const entry = catalogueSite(EXAMPLE, 'demo', { site: 'TEST_A', compute: 'db1d3ee3-74e4-48aa-afaf-8d7709a2f57c', queue: 'test-queue-4' });
    const [hold, ...rest] = downtimeHolds(entry, demo, now);
    expect(rest).toEqual([]);
    const reach = now + demo.horizonMs + demo.maxDurationMs + demo.releasingMs + 24 * HOUR;
    expect(hold).toEqual({ id: expect.stringMatching(/^downtime-demo-[0-9]+-[0-9]+-[0-9a-z]+$/), from: Math.floor(now / BUCKET_MS), to: Math.ceil(reach / BUCKET_MS) - 1, amounts: { cores: 32, memory: 256, storage: 10_000, 'gpu:K40': 1 } });
    expect(downtimeHolds(entry, demo, now + HOUR)[0]?.id).toBe(hold?.id);
    // Over: no hold. Not begun: held from its start.
    expect(downtimeHolds({ ...entry, downtimes: [{ start: now - 2 * HOUR, end: now - HOUR, type: 'Planned', reason: '', of: 'site x' }] }, demo, now)).toEqual([]);
    const later = downtimeHolds({ ...entry, downtimes: [{ start: now + HOUR, end: now + 2 * HOUR + 1, type: 'Planned', reason: '', of: 'site x' }] }, demo, now);
    expect(later).toEqual([expect.objectContaining({ from: Math.floor((now + HOUR) / BUCKET_MS), to: Math.ceil((now + 2 * HOUR + 1) / BUCKET_MS) - 1 })]);
  });
});
