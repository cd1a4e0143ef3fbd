/** Time as milliseconds since the epoch. The domain never reads the system clock itself. */
export interface Clock {
  now(): number;
}

/** A clock that stands still until moved: for tests and for planning "as of" an instant. */
export function fixedClock(at: number): Clock & { set(to: number): void; advance(by: number): void } {
  let current = at;
  return {
    now: () => current,
    set: (to) => { current = to; },
    advance: (by) => { current += by; },
  };
}
