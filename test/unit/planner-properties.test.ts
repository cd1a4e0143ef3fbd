import fc from 'fast-check';
import { evaluateNegotiation } from '../../src/broker/evaluate-negotiation.js';
import { InMemoryCapacityLedger } from '../../src/broker/in-memory-capacity-ledger.js';
import type { NegotiationRequest } from '../../src/broker/ports.js';
import { BUCKET_MS } from '../../src/domain/capacity-calendar.js';
import { checkNeeds } from '../../src/domain/check-needs.js';
import type { ExecutionNeeds } from '../../src/domain/execution-needs.js';
import { planAsks, siteCapacity } from '../../src/domain/plan-offers.js';
import type { SiteProfile } from '../../src/domain/site-profile.js';
import { plainSite } from '../support/plain-site.js';

/** A fixed clock, on a bucket boundary plus a little, so that offsets inside a bucket are exercised. */
const NOW = Date.UTC(2026, 0, 1, 12, 0, 17);

const site = (cores: number, memoryGiB: number, gpus: number): SiteProfile =>
  plainSite({ cores, memoryGiB, gpus: gpus ? { A100: gpus } : {} });

const requestArb = fc.record({
  coresMin: fc.integer({ min: 1, max: 12 }),
  coresExtra: fc.integer({ min: 0, max: 8 }),
  memoryMin: fc.integer({ min: 1, max: 24 }),
  memoryExtra: fc.integer({ min: 0, max: 16 }),
  gpus: fc.integer({ min: 0, max: 2 }),
  startOffsetMin: fc.integer({ min: 0, max: 240 }),
  windowMin: fc.option(fc.integer({ min: 0, max: 480 }), { nil: undefined }),
  durationMin: fc.integer({ min: 1, max: 180 }),
  deadlineMin: fc.option(fc.integer({ min: 0, max: 900 }), { nil: undefined }),
  slackMin: fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined }),
});
type Req = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

function needsOf(r: Req): ExecutionNeeds {
  const start = NOW + r.startOffsetMin * 60_000;
  return {
    executable: { kind: 'executable/docker-container', privileged: false, ports: [] },
    cores: { min: r.coresMin, max: r.coresMin + r.coresExtra },
    memory: { min: r.memoryMin, max: r.memoryMin + r.memoryExtra },
    ...(r.gpus ? { gpu: { count: r.gpus, model: 'A100' } } : {}),
    storage: [], data: [],
    window: { start, end: r.windowMin === undefined ? start + 24 * 3600_000 : start + r.windowMin * 60_000 },
    durationMs: r.durationMin * 60_000,
    ...(r.deadlineMin === undefined ? {} : { deadline: NOW + r.deadlineMin * 60_000 }),
    ...(r.slackMin === undefined ? {} : { startSlackMs: r.slackMin * 60_000 }),
  };
}

/** An independent audit: usage per bucket recomputed from the holds alone. */
function overbooked(ledger: InMemoryCapacityLedger, s: SiteProfile): string | undefined {
  const usage = new Map<string, number>();
  for (const { ask, start } of ledger.holds.values()) {
    for (let b = start; b < start + ask.length; b++) {
      for (const [resource, amount] of Object.entries(ask.amounts)) {
        usage.set(`${resource}@${b}`, (usage.get(`${resource}@${b}`) ?? 0) + amount);
      }
    }
  }
  const capacity = siteCapacity(s);
  for (const [key, used] of usage) {
    const resource = key.split('@')[0]!;
    if (used > (capacity[resource] ?? 0)) return `${key}: ${used} > ${capacity[resource]}`;
  }
  return undefined;
}

/** Brute force: the first start bucket in [earliest, latest] where the amounts fit for length buckets. */
function bruteForceEarliest(ledger: InMemoryCapacityLedger, s: SiteProfile, amounts: Record<string, number>, earliest: number, latest: number, length: number): number | undefined {
  const capacity = siteCapacity(s);
  const calendar = ledger.calendar(s.name);
  for (let start = earliest; start <= latest; start++) {
    let fits = true;
    for (let b = start; fits && b < start + length; b++) {
      for (const [resource, amount] of Object.entries(amounts)) {
        if (calendar.usage(resource, b) + amount > (capacity[resource] ?? 0)) { fits = false; break; }
      }
    }
    if (fits) return start;
  }
  return undefined;
}

describe('the offer planner on a capacity calendar (fixed clock)', () => {
  it('never exceeds capacity at any instant, respects min/max, the window, the deadline and the site limits, and finds the earliest slot', async () => {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 4, max: 24 }), fc.integer({ min: 8, max: 48 }), fc.integer({ min: 0, max: 3 }),
      fc.array(requestArb, { minLength: 1, maxLength: 25 }),
      async (cores, memory, gpus, requests) => {
        const s = site(cores, memory, gpus);
        const ledger = new InMemoryCapacityLedger();
        for (const [index, r] of requests.entries()) {
          const checked = checkNeeds(needsOf(r), NOW);
          expect(checked.resolved).toBeDefined();
          const needs = checked.resolved!;
          const { asks } = planAsks(needs, s, NOW);
          const first = asks[0];
          const expectedStart = first ? bruteForceEarliest(ledger, s, first.amounts, first.earliest, first.latest, first.length) : undefined;
          const request: NegotiationRequest = {
            offerSetUuid: `set-${index}`, site: s.name, needs, offerIds: [`o-${index}-a`, `o-${index}-b`],
            now: NOW, answerBy: NOW + 1000, expiresAt: NOW + 300_000, maxOffers: 2,
          };
          const answer = await evaluateNegotiation({ ledger, now: () => NOW }, s, request);
          expect(overbooked(ledger, s)).toBeUndefined();
          for (const { plan } of answer.offers) {
            expect(plan.cores).toBeGreaterThanOrEqual(needs.cores.min);
            expect(plan.cores).toBeLessThanOrEqual(Math.min(needs.cores.max, s.cores));
            expect(plan.memoryGiB).toBeGreaterThanOrEqual(needs.memory.min);
            expect(plan.memoryGiB).toBeLessThanOrEqual(Math.min(needs.memory.max, s.memoryGiB));
            expect(plan.availableStart).toBeGreaterThanOrEqual(Math.max(needs.window.start, NOW + s.preparationMs));
            expect(plan.availableStart).toBeLessThanOrEqual(Math.min(needs.window.end ?? Infinity, NOW + s.horizonMs));
            expect(plan.durationMs).toBe(needs.durationMs);
            // A start anywhere in the slack stays in the window, ends by the deadline and is held.
            const latestStart = plan.availableStart + plan.startSlackMs;
            expect(plan.startSlackMs).toBe(needs.startSlackMs ?? 0);
            expect(latestStart).toBeLessThanOrEqual(needs.window.end ?? Infinity);
            if (needs.deadline !== undefined) expect(latestStart + plan.durationMs).toBeLessThanOrEqual(needs.deadline);
            const hold = [...ledger.holds.entries()].find(([id]) => answer.offers.some((o) => o.id === id && o.plan === plan))?.[1];
            expect((hold!.start + hold!.ask.length) * BUCKET_MS).toBeGreaterThanOrEqual(latestStart + plan.durationMs + s.releasingMs);
            expect(plan.preparingStart).toBeGreaterThanOrEqual(NOW);
            if (needs.gpu) expect(plan.gpu).toEqual({ model: 'A100', count: needs.gpu.count });
          }
          // The first alternative (the minimum, soonest) starts in the earliest bucket that fits.
          const earliestOffer = answer.offers.find((o) => o.id === `o-${index}-a`);
          if (expectedStart === undefined) expect(earliestOffer).toBeUndefined();
          else expect(Math.floor(earliestOffer!.plan.preparingStart / BUCKET_MS)).toBe(expectedStart);
          if (answer.offers.length === 0) expect(answer.messages.some((m) => m.level === 'ERROR')).toBe(true);
        }
      },
    ), { numRuns: 150 });
  });

  it('gives the capacity back when holds are released', async () => {
    const s = site(8, 16, 0);
    const ledger = new InMemoryCapacityLedger();
    const needs = checkNeeds(needsOf({ coresMin: 8, coresExtra: 0, memoryMin: 16, memoryExtra: 0, gpus: 0, startOffsetMin: 0, windowMin: 60, durationMin: 60, deadlineMin: undefined, slackMin: undefined }), NOW).resolved!;
    const request = (id: string): NegotiationRequest => ({ offerSetUuid: id, site: 'prop', needs, offerIds: [`${id}-a`, `${id}-b`], now: NOW, answerBy: NOW + 1000, expiresAt: NOW + 1, maxOffers: 2 });
    expect((await evaluateNegotiation({ ledger, now: () => NOW }, s, request('one'))).offers).toHaveLength(1);
    const full = await evaluateNegotiation({ ledger, now: () => NOW }, s, request('two'));
    expect(full.offers).toHaveLength(0);
    expect(full.messages[0]?.message).toMatch(/^Site prop has no room for 8 cores and 16 GiB for PT1H starting between/);
    ledger.release('one-a');
    expect((await evaluateNegotiation({ ledger, now: () => NOW }, s, request('three'))).offers).toHaveLength(1);
  });

  it('offers a bigger allocation a little later when only the minimum fits now', async () => {
    const s = site(16, 64, 0);
    const ledger = new InMemoryCapacityLedger();
    const busy = checkNeeds(needsOf({ coresMin: 12, coresExtra: 0, memoryMin: 1, memoryExtra: 0, gpus: 0, startOffsetMin: 0, windowMin: 60, durationMin: 60, deadlineMin: undefined, slackMin: undefined }), NOW).resolved!;
    await evaluateNegotiation({ ledger, now: () => NOW }, s, { offerSetUuid: 'busy', site: 'prop', needs: busy, offerIds: ['busy-a'], now: NOW, answerBy: NOW + 1000, expiresAt: NOW + 1, maxOffers: 1 });
    const needs = checkNeeds(needsOf({ coresMin: 2, coresExtra: 10, memoryMin: 1, memoryExtra: 0, gpus: 0, startOffsetMin: 0, windowMin: undefined, durationMin: 30, deadlineMin: undefined, slackMin: undefined }), NOW).resolved!;
    const answer = await evaluateNegotiation({ ledger, now: () => NOW }, s, { offerSetUuid: 'x', site: 'prop', needs, offerIds: ['x-a', 'x-b'], now: NOW, answerBy: NOW + 1000, expiresAt: NOW + 1, maxOffers: 2 });
    const [soon, big] = answer.offers.map((o) => o.plan);
    expect(soon).toMatchObject({ cores: 2, availableStart: NOW + 30_000 });
    expect(big!.cores).toBe(12);
    expect(big!.availableStart).toBeGreaterThan(soon!.availableStart + 60 * 60_000 - BUCKET_MS);
  });
});
