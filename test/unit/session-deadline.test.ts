import { phaseDeadline } from '../../src/domain/session-deadline.js';

const slot = {
  preparing: { start: 1_000 },
  available: { start: 2_000, end: 5_000, latestStart: 2_500 },
  releasing: { end: 6_000 },
};

describe('the deadline of a session\'s phase, by its own schedule', () => {
  it.each([
    ['OFFERED', 900],
    ['ACCEPTED', 1_000],
    ['WAITING', 1_000],
    ['PREPARING', 2_500],
    ['AVAILABLE', 2_500],
    ['RUNNING', 5_500],
    ['RELEASING', 6_500],
  ] as const)('%s must be left by %d', (phase, deadline) => {
    expect(phaseDeadline({ phase, expires: 900, slot })).toBe(deadline);
  });

  it('gives an accepted provision until its binding deadline, and ended sessions none', () => {
    expect(phaseDeadline({ phase: 'ACCEPTED', expires: 900, slot, unboundUntil: 4_000 })).toBe(4_000);
    for (const phase of ['COMPLETED', 'FAILED', 'CANCELLED', 'REJECTED', 'EXPIRED'] as const) expect(phaseDeadline({ phase, expires: 900, slot })).toBeUndefined();
    expect(phaseDeadline({ phase: 'RUNNING', expires: 900 })).toBeUndefined();
  });
});
