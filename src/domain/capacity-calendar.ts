/**
 * Capacity over time, as sparse segment trees per resource over fixed time buckets.
 *
 * Each node keeps `add` (an amount added to its whole span) and the max and min of its span
 * including that add; untouched nodes are absent and count as zero. Adding an amount over an
 * interval, and finding the first bucket above (or at or below) a threshold, each visit O(log N)
 * nodes, where N is the size of a block: the cost does not grow with the number of
 * reservations (searches step from block to block within the booking horizon). The Redis ledger
 * (store/calendar-lua.ts) gives the same answers inside Lua, so that searching and holding are one
 * atomic step, from trees of wide nodes (fewer nodes per operation, which is what Lua pays for);
 * this binary twin is the reference the Lua is tested against, and what the planner's property
 * tests run on.
 */

/**
 * Bucket indices are minutes since the Unix epoch. They are grouped in blocks of 2^14 minutes
 * (about 11 days), one tree per block: 14 levels instead of the 26 a single tree over every
 * minute to the year 2090 would need, and blocks nobody uses cost nothing.
 */
export const BUCKET_MS = 60_000;
export const BLOCK_BITS = 14;
export const BLOCK = 2 ** BLOCK_BITS;
const SIZE = BLOCK;

export type ResourceAmounts = Record<string, number>;

interface Node { add: number; max: number; min: number }
const EMPTY: Node = { add: 0, max: 0, min: 0 };

export class SegmentTree {
  private readonly nodes = new Map<number, Node>();

  private node(id: number): Node {
    return this.nodes.get(id) ?? EMPTY;
  }

  /** Adds `amount` to every bucket in [from, to] (inclusive). */
  add(from: number, to: number, amount: number): void {
    this.update(1, 0, SIZE - 1, from, to, amount);
  }

  private update(id: number, lo: number, hi: number, from: number, to: number, amount: number): void {
    if (to < lo || from > hi) return;
    const current = this.node(id);
    if (from <= lo && hi <= to) {
      this.nodes.set(id, { add: current.add + amount, max: current.max + amount, min: current.min + amount });
      return;
    }
    const mid = Math.floor((lo + hi) / 2);
    this.update(2 * id, lo, mid, from, to, amount);
    this.update(2 * id + 1, mid + 1, hi, from, to, amount);
    const left = this.node(2 * id);
    const right = this.node(2 * id + 1);
    this.nodes.set(id, { add: current.add, max: current.add + Math.max(left.max, right.max), min: current.add + Math.min(left.min, right.min) });
  }

  /** The amount in use at one bucket. */
  at(bucket: number): number {
    let id = 1;
    let lo = 0;
    let hi = SIZE - 1;
    let sum = 0;
    while (true) {
      const n = this.nodes.get(id);
      if (!n) return sum;
      sum += n.add;
      if (lo === hi) return sum;
      const mid = Math.floor((lo + hi) / 2);
      if (bucket <= mid) { id = 2 * id; hi = mid; } else { id = 2 * id + 1; lo = mid + 1; }
    }
  }

  /** The first bucket in [from, to] whose amount is above `threshold`, if any. */
  firstAbove(from: number, to: number, threshold: number): number | undefined {
    const search = (id: number, lo: number, hi: number, above: number): number | undefined => {
      if (to < lo || from > hi) return undefined;
      const n = this.nodes.get(id);
      if (!n) return above > threshold ? Math.max(lo, from) : undefined;
      if (above + n.max <= threshold) return undefined;
      if (lo === hi) return lo;
      const mid = Math.floor((lo + hi) / 2);
      return search(2 * id, lo, mid, above + n.add) ?? search(2 * id + 1, mid + 1, hi, above + n.add);
    };
    return search(1, 0, SIZE - 1, 0);
  }

  /** The first bucket at or after `from` whose amount is at or below `threshold`, if any. */
  firstAtOrBelow(from: number, threshold: number): number | undefined {
    const search = (id: number, lo: number, hi: number, above: number): number | undefined => {
      if (hi < from) return undefined;
      const n = this.nodes.get(id);
      if (!n) return above <= threshold ? Math.max(lo, from) : undefined;
      if (above + n.min > threshold) return undefined;
      if (lo === hi) return lo;
      const mid = Math.floor((lo + hi) / 2);
      return search(2 * id, lo, mid, above + n.add) ?? search(2 * id + 1, mid + 1, hi, above + n.add);
    };
    return search(1, 0, SIZE - 1, 0);
  }
}

export interface FitQuery {
  /** What must be free at once, per resource, and how much of each the site has. */
  amounts: ResourceAmounts;
  capacity: ResourceAmounts;
  /** Earliest and latest bucket the reservation may start in. */
  earliest: number;
  latest: number;
  /** How many buckets the reservation covers. */
  length: number;
}

/** How many blocked stretches a search may step over before it gives up (bounds the work). */
export const MAX_SEARCH_STEPS = 256;

/** One resource over all time: a tree per block, created when first used. */
class BlockedTree {
  private readonly blocks = new Map<number, SegmentTree>();

  private block(index: number): SegmentTree {
    let tree = this.blocks.get(index);
    if (!tree) { tree = new SegmentTree(); this.blocks.set(index, tree); }
    return tree;
  }

  add(from: number, to: number, amount: number): void {
    for (let b = Math.floor(from / BLOCK); b <= Math.floor(to / BLOCK); b++) {
      const lo = b * BLOCK;
      this.block(b).add(Math.max(from, lo) - lo, Math.min(to, lo + BLOCK - 1) - lo, amount);
    }
  }

  at(bucket: number): number {
    const b = Math.floor(bucket / BLOCK);
    return this.blocks.get(b)?.at(bucket - b * BLOCK) ?? 0;
  }

  firstAbove(from: number, to: number, threshold: number): number | undefined {
    for (let b = Math.floor(from / BLOCK); b <= Math.floor(to / BLOCK); b++) {
      const lo = b * BLOCK;
      const tree = this.blocks.get(b);
      const found = tree
        ? tree.firstAbove(Math.max(from, lo) - lo, Math.min(to, lo + BLOCK - 1) - lo, threshold)
        : (threshold < 0 ? Math.max(from, lo) - lo : undefined);
      if (found !== undefined) return found + lo;
    }
    return undefined;
  }

  /** Ends: a block nobody used is all zero, and thresholds are never negative. */
  firstAtOrBelow(from: number, threshold: number): number | undefined {
    if (threshold < 0) return undefined;
    for (let b = Math.floor(from / BLOCK); ; b++) {
      const lo = b * BLOCK;
      const tree = this.blocks.get(b);
      if (!tree) return Math.max(from, lo);
      const found = tree.firstAtOrBelow(Math.max(from, lo) - lo, threshold);
      if (found !== undefined) return found + lo;
    }
  }
}

/** Capacity of one site over time: one blocked tree per resource. */
export class CapacityCalendar {
  private readonly trees = new Map<string, BlockedTree>();

  private tree(resource: string): BlockedTree {
    let tree = this.trees.get(resource);
    if (!tree) { tree = new BlockedTree(); this.trees.set(resource, tree); }
    return tree;
  }

  reserve(amounts: ResourceAmounts, from: number, to: number, sign: 1 | -1 = 1): void {
    for (const [resource, amount] of Object.entries(amounts)) {
      if (amount !== 0) this.tree(resource).add(from, to, sign * amount);
    }
  }

  usage(resource: string, bucket: number): number {
    return this.trees.get(resource)?.at(bucket) ?? 0;
  }

  /**
   * The earliest start bucket in [earliest, latest] where every resource fits for `length`
   * buckets, or 'none', or 'gave-up' after MAX_SEARCH_STEPS blocked stretches.
   */
  earliestFit(query: FitQuery): number | 'none' | 'gave-up' {
    for (const [resource, amount] of Object.entries(query.amounts)) {
      if (amount > (query.capacity[resource] ?? 0)) return 'none';
    }
    let start = query.earliest;
    for (let step = 0; step < MAX_SEARCH_STEPS; step++) {
      if (start > query.latest) return 'none';
      let blockedUntil: number | undefined;
      for (const [resource, amount] of Object.entries(query.amounts)) {
        if (amount <= 0) continue;
        const threshold = (query.capacity[resource] ?? 0) - amount;
        const tree = this.tree(resource);
        const blocker = tree.firstAbove(start, start + query.length - 1, threshold);
        if (blocker === undefined) continue;
        const next = tree.firstAtOrBelow(blocker + 1, threshold);
        if (next === undefined) return 'none';
        blockedUntil = Math.max(blockedUntil ?? next, next);
      }
      if (blockedUntil === undefined) return start;
      start = blockedUntil;
    }
    return 'gave-up';
  }
}

/** The buckets an interval of time [startMs, endMs) touches. */
export function bucketsOf(startMs: number, endMs: number): { from: number; to: number } {
  return { from: Math.floor(startMs / BUCKET_MS), to: Math.max(Math.floor(startMs / BUCKET_MS), Math.ceil(endMs / BUCKET_MS) - 1) };
}
