/** Something drawn from `start` to `end` (ms since the epoch). */
export interface Interval { start: number; end: number }

/**
 * Places bars in lanes so that none overlaps another in its lane: each bar, in order of start, in
 * the lowest lane free by then (`gapMs` apart). O(n·lanes); lanes stay few on a real site.
 */
export function packLanes<T extends Interval>(items: readonly T[], gapMs = 0): { lanes: number; placed: Array<{ item: T; lane: number }> } {
  const sorted = [...items].sort((a, b) => a.start - b.start || a.end - b.end);
  const laneEnds: number[] = [];
  const placed = sorted.map((item) => {
    let lane = laneEnds.findIndex((end) => end + gapMs <= item.start);
    if (lane < 0) lane = laneEnds.push(item.end) - 1;
    else laneEnds[lane] = item.end;
    return { item, lane };
  });
  return { lanes: laneEnds.length, placed };
}

/** A step function: `value` from `at` until the next step. */
export interface Step { at: number; value: number }

/** The total of `amount` over time from overlapping intervals (what is held at each instant). */
export function usageSteps<T extends Interval>(items: readonly T[], amount: (item: T) => number): Step[] {
  const deltas = new Map<number, number>();
  for (const item of items) {
    const value = amount(item);
    if (!value || item.end <= item.start) continue;
    deltas.set(item.start, (deltas.get(item.start) ?? 0) + value);
    deltas.set(item.end, (deltas.get(item.end) ?? 0) - value);
  }
  let total = 0;
  const steps: Step[] = [];
  for (const at of [...deltas.keys()].sort((a, b) => a - b)) {
    total += deltas.get(at) ?? 0;
    const last = steps[steps.length - 1];
    if (last && last.value === total) continue;
    steps.push({ at, value: total });
  }
  return steps;
}

/** The highest value a step function reaches within [from, to]. */
export function peakWithin(steps: readonly Step[], from: number, to: number): number {
  let peak = 0;
  let current = 0;
  for (const step of steps) {
    if (step.at > to) break;
    if (step.at <= from) current = step.value;
    else peak = Math.max(peak, step.value);
  }
  return Math.max(peak, current);
}

/** Maps instants in [from, to] onto [0, width] pixels (clamped a little outside, so bars stay drawable). */
export function timeScale(from: number, to: number, width: number): (at: number) => number {
  const perMs = width / Math.max(1, to - from);
  return (at) => Math.min(width + 10, Math.max(-10, (at - from) * perMs));
}

/** Round instants for the axis: a step of 15 min, 30 min, 1 h, ... so that about `count` ticks fit. */
export function axisTicks(from: number, to: number, count: number): number[] {
  const steps = [5, 10, 15, 30, 60, 120, 180, 360, 720, 1440].map((minutes) => minutes * 60_000);
  const step = steps.find((candidate) => (to - from) / candidate <= count) ?? steps[steps.length - 1]!;
  const ticks: number[] = [];
  for (let at = Math.ceil(from / step) * step; at <= to; at += step) ticks.push(at);
  return ticks;
}
