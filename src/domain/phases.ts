/** Session phases of ExecutionBroker v1.0 and the updates a client may ask for in each. */
export const SESSION_PHASES = [
  'INITIAL', 'OFFERED', 'ACCEPTED', 'REJECTED', 'EXPIRED',
  'WAITING', 'PREPARING', 'AVAILABLE', 'RUNNING', 'RELEASING',
  'COMPLETED', 'FAILED', 'CANCELLED',
] as const;
export type SessionPhase = (typeof SESSION_PHASES)[number];

export const COMPONENT_PHASES = [
  'INITIALIZING', 'WAITING', 'PREPARING', 'AVAILABLE', 'RUNNING', 'RELEASING',
  'COMPLETED', 'FAILED', 'CANCELLED',
] as const;
export type ComponentPhase = (typeof COMPONENT_PHASES)[number];

const TERMINAL: ReadonlySet<SessionPhase> = new Set(['REJECTED', 'EXPIRED', 'COMPLETED', 'FAILED', 'CANCELLED']);

export const isTerminal = (phase: SessionPhase): boolean => TERMINAL.has(phase);

export const isSessionPhase = (value: string): value is SessionPhase =>
  (SESSION_PHASES as readonly string[]).includes(value);

/** The phases a client may move a session to from `phase` (advertised in `meta.options`). */
export function clientTransitions(phase: SessionPhase): SessionPhase[] {
  if (phase === 'OFFERED') return ['ACCEPTED', 'REJECTED', 'CANCELLED'];
  if (phase === 'INITIAL' || isTerminal(phase)) return [];
  return ['CANCELLED'];
}

/** Phases in which a session's capacity is held on its site (every non-terminal one from OFFERED). */
export const holdsCapacity = (phase: SessionPhase): boolean => phase !== 'INITIAL' && !isTerminal(phase);
