import fc from 'fast-check';
import { BLOCK, CapacityCalendar } from '../../src/domain/capacity-calendar.js';

/** The calendar against the obvious model (an array of amounts), across block boundaries. */
describe('the capacity calendar', () => {
  const ORIGIN = BLOCK * 1800 - 100; // ranges straddle the boundary at ORIGIN + 100
  const SPAN = 400;

  it('adds, reads and searches exactly as an array of amounts would', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ from: fc.integer({ min: 0, max: SPAN - 1 }), length: fc.integer({ min: 1, max: 200 }), amount: fc.integer({ min: -3, max: 5 }) }), { maxLength: 30 }),
      fc.integer({ min: 0, max: SPAN - 1 }), fc.integer({ min: 0, max: 120 }), fc.integer({ min: 0, max: 12 }),
      (adds, from, length, threshold) => {
        const calendar = new CapacityCalendar();
        const model = new Array<number>(SPAN + 300).fill(0);
        for (const add of adds) {
          const to = Math.min(add.from + add.length - 1, SPAN + 299);
          calendar.reserve({ cores: add.amount }, ORIGIN + add.from, ORIGIN + to);
          for (let b = add.from; b <= to; b++) model[b]! += add.amount;
        }
        for (let b = 0; b < model.length; b += 7) expect(calendar.usage('cores', ORIGIN + b)).toBe(model[b]);
        // earliestFit with one resource: the first start whose window stays at or below capacity.
        const capacity = threshold + 2;
        const fit = calendar.earliestFit({ amounts: { cores: 2 }, capacity: { cores: capacity }, earliest: ORIGIN + from, latest: ORIGIN + from + 50, length: length + 1 });
        let expected: number | 'none' = 'none';
        for (let s = from; s <= from + 50 && expected === 'none'; s++) {
          let ok = true;
          for (let b = s; b <= s + length; b++) if ((b < model.length ? model[b]! : 0) + 2 > capacity) { ok = false; break; }
          if (ok) expected = ORIGIN + s;
        }
        if (fit !== 'gave-up') expect(fit).toBe(expected);
      },
    ), { numRuns: 300 });
  });
});
