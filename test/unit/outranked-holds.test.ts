import fc from 'fast-check';
import { evaluateNegotiation } from '../../src/broker/evaluate-negotiation.js';
import { InMemoryCapacityLedger } from '../../src/broker/in-memory-capacity-ledger.js';
import { OutrankedHolds } from '../../src/broker/outranked-holds.js';
import type { NegotiationRequest, SiteOffer } from '../../src/broker/ports.js';
import { BUCKET_MS } from '../../src/domain/capacity-calendar.js';
import { checkNeeds } from '../../src/domain/check-needs.js';
import type { OfferPlan } from '../../src/domain/plan-offers.js';
import { rankBy, type RankedOffer } from '../../src/domain/rank-offers.js';
import type { SiteProfile } from '../../src/domain/site-profile.js';
import { plainSite } from '../support/plain-site.js';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 17);
const order = rankBy(undefined);

const offerAt = (site: string, availableStart: number, cores = 1): RankedOffer => ({
  site, locality: 1,
  plan: { cores, memoryGiB: 1, storageGiB: 0, preparingStart: availableStart, preparingMs: 0, availableStart, startSlackMs: 0, durationMs: 60_000, releasingStart: availableStart + 60_000, releasingMs: 0 } as OfferPlan,
});

describe('OutrankedHolds: the holds of one offer set in one job', () => {
  it('lets the best `keep` candidates asked in one turn through first, and skips the rest once those are made at their best', async () => {
    const gate = new OutrankedHolds(2, order);
    // Asked worst first: the order of asking does not matter, only the order of the offers.
    const asked = ['d', 'c', 'b', 'a'].map((site) => ({ site, decision: gate.admit(offerAt(site, 1000)) }));
    const first = await Promise.race(asked.map(async ({ site, decision }) => ({ site, settle: await decision })));
    expect(first.site).toBe('a');
    const a = await asked[3]!.decision;
    const b = await asked[2]!.decision;
    expect(a).toBeDefined();
    expect(b).toBeDefined();
    a!(offerAt('a', 1000));
    b!(offerAt('b', 1000));
    // c and d would come after a and b whatever start they found.
    expect(await asked[1]!.decision).toBeUndefined();
    expect(await asked[0]!.decision).toBeUndefined();
  });

  it('lets a waiting candidate through when a hold ahead of it makes no offer', async () => {
    const gate = new OutrankedHolds(1, order);
    const a = gate.admit(offerAt('a', 1000));
    const b = gate.admit(offerAt('b', 1000));
    const settleA = await a;
    expect(settleA).toBeDefined();
    let bDecided = false;
    void b.then(() => { bDecided = true; });
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    // b waits while a's hold is in flight: a might outrank it.
    expect(bDecided).toBe(false);
    settleA!(undefined); // no room at a
    expect(await b).toBeDefined();
  });

  it('lets a waiting candidate through when the holds ahead of it were made later than their best', async () => {
    const gate = new OutrankedHolds(1, order);
    const a = gate.admit(offerAt('a', 1000));
    const b = gate.admit(offerAt('b', 1500));
    const settleA = await a;
    // a found room only at 2000: b, at 1500 or later, may still come first.
    settleA!(offerAt('a', 2000));
    expect(await b).toBeDefined();
  });

  it('never skips a candidate that ranks ahead of what was made, however many were', async () => {
    const gate = new OutrankedHolds(1, order);
    const settleA = await gate.admit(offerAt('a', 1000));
    settleA!(offerAt('a', 1000));
    // More cores at the same start rank first: b may replace a.
    expect(await gate.admit(offerAt('b', 1000, 4))).toBeDefined();
    expect(await gate.admit(offerAt('c', 1000))).toBeUndefined();
  });
});

const site = (name: string, cores: number, preparationMs: number): SiteProfile =>
  plainSite({ name, cores, memoryGiB: 64, preparationMs });

const siteArb = fc.record({
  cores: fc.integer({ min: 2, max: 16 }),
  preparationS: fc.integer({ min: 0, max: 600 }),
  // Holds already on the site: [cores, start minute, minutes].
  busy: fc.array(fc.tuple(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 120 }), fc.integer({ min: 1, max: 120 })), { maxLength: 6 }),
});

describe('a job\'s sites evaluated with OutrankedHolds', () => {
  it('keeps offers as good as without it (the same ones when a site has one alternative), with no more holds', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(siteArb, { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 8 }), fc.integer({ min: 1, max: 90 }), fc.integer({ min: 1, max: 4 }),
      async (siteSpecs, coresMin, coresExtra, durationMin, keep) => {
        const sites = siteSpecs.map((spec, index) => site(`s${index}`, spec.cores, spec.preparationS * 1000));
        const needs = checkNeeds({
          executable: { kind: 'executable/docker-container', privileged: false, ports: [] },
          cores: { min: coresMin, max: coresMin + coresExtra }, memory: { min: 1, max: 1 }, storage: [], data: [],
          window: { start: NOW, end: NOW + 24 * 3600_000 }, durationMs: durationMin * 60_000,
        }, NOW).resolved!;
        /** Every site answered at once, as one job does; the offers an offer set of `keep` keeps, and the holds made. */
        const run = async (gated: boolean): Promise<{ kept: SiteOffer[]; holds: number }> => {
          const ledger = new InMemoryCapacityLedger();
          for (const [index, spec] of siteSpecs.entries()) {
            for (const [n, [cores, from, length]] of spec.busy.entries()) {
              const start = Math.floor(NOW / BUCKET_MS) + from;
              await ledger.findAndHold(sites[index]!, { id: `busy-${index}-${n}`, amounts: { cores: Math.min(cores, spec.cores) }, earliest: start, latest: start + 600, length }, NOW, NOW + 1);
            }
          }
          const before = ledger.holds.size;
          const gate = gated ? new OutrankedHolds(keep, order) : undefined;
          const answers = await Promise.all(sites.map((s) => {
            const request: NegotiationRequest = {
              offerSetUuid: 'set', site: s.name, needs, offerIds: [`${s.name}-a`, `${s.name}-b`, `${s.name}-c`, `${s.name}-d`],
              now: NOW, answerBy: NOW + 1000, expiresAt: NOW + 300_000, maxOffers: 4, keep,
            };
            return evaluateNegotiation({ ledger, now: () => NOW }, s, request, gate);
          }));
          return { kept: answers.flatMap((a) => a.offers).sort(order).slice(0, keep), holds: ledger.holds.size - before };
        };
        const without = await run(false);
        const withGate = await run(true);
        expect(withGate.holds).toBeLessThanOrEqual(without.holds);
        expect(withGate.kept).toHaveLength(without.kept.length);
        // Place by place, the kept offers are at least as good: a skipped hold only leaves room.
        withGate.kept.forEach((offer, index) => expect(order(offer, without.kept[index]!)).toBeLessThanOrEqual(0));
        if (coresExtra === 0) expect(withGate.kept.map((o) => [o.site, o.plan])).toEqual(without.kept.map((o) => [o.site, o.plan]));
      },
    ), { numRuns: 200 });
  });
});
