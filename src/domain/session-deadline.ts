import type { SessionPhase } from './phases.js';

/** What a session's deadline depends on: its schedule (ms) and, for a provision, its binding. */
export interface DeadlineFacts {
  phase: SessionPhase;
  /** When an offer lapses. */
  expires: number;
  slot?: { preparing: { start: number }; available: { start: number; end: number; latestStart: number }; releasing: { end: number } };
  /** A provision waiting for its executable until then (absent once one is bound). */
  unboundUntil?: number;
}

/**
 * By when a session in a phase that does not end by itself should have left it, by its own
 * schedule: an offer by its expiry, an accepted or waiting session by the start of its preparation
 * (a provision by its binding deadline), a preparing or available one by the latest start of its
 * run, a running one by the end of the run begun at its latest start, a releasing one by the end
 * of the capacity held. Undefined for a phase with no deadline (terminal) or an unknown schedule.
 */
export function phaseDeadline(facts: DeadlineFacts): number | undefined {
  const { slot } = facts;
  const slack = slot ? slot.available.latestStart - slot.available.start : 0;
  switch (facts.phase) {
    case 'OFFERED': return facts.expires;
    case 'ACCEPTED': return facts.unboundUntil ?? slot?.preparing.start;
    case 'WAITING': return slot?.preparing.start;
    case 'PREPARING': case 'AVAILABLE': return slot?.available.latestStart;
    case 'RUNNING': return slot ? slot.available.end + slack : undefined;
    case 'RELEASING': return slot ? slot.releasing.end + slack : undefined;
    default: return undefined;
  }
}
