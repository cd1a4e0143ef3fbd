/** Each phase's colour and its group; the colours always come with the phase's name in text. */
export const PHASE_STYLE: Record<string, { fill: string; text: string }> = {
  OFFERED: { fill: '#f2c14e', text: '#3d2e00' },
  ACCEPTED: { fill: '#8fb8e8', text: '#0d2740' },
  WAITING: { fill: '#5b8fd1', text: '#ffffff' },
  PREPARING: { fill: '#3fa7a0', text: '#ffffff' },
  AVAILABLE: { fill: '#7cc47f', text: '#0f3311' },
  RUNNING: { fill: '#2e8b3e', text: '#ffffff' },
  RELEASING: { fill: '#9a78c8', text: '#ffffff' },
  COMPLETED: { fill: '#6c757d', text: '#ffffff' },
  FAILED: { fill: '#c0392b', text: '#ffffff' },
  CANCELLED: { fill: '#a0522d', text: '#ffffff' },
  EXPIRED: { fill: '#c8c8c8', text: '#333333' },
  REJECTED: { fill: '#dddddd', text: '#333333' },
  INITIAL: { fill: '#eeeeee', text: '#333333' },
};

export const styleOf = (phase: string): { fill: string; text: string } => PHASE_STYLE[phase] ?? { fill: '#999999', text: '#000000' };

/** The phases that hold capacity, in order: what the timeline draws (and its legend lists). */
export const HOLDING_PHASES = ['OFFERED', 'ACCEPTED', 'WAITING', 'PREPARING', 'AVAILABLE', 'RUNNING', 'RELEASING'];

export const TERMINAL_PHASES = ['COMPLETED', 'FAILED', 'CANCELLED', 'EXPIRED', 'REJECTED'];

/** The list's filters: which phases each choice asks the API for (undefined: every phase). */
export const PHASE_FILTERS: Array<{ id: string; label: string; phases?: string[] }> = [
  { id: 'current', label: 'Sessions (no lapsed offers)', phases: [...HOLDING_PHASES, 'COMPLETED', 'FAILED', 'CANCELLED'] },
  { id: 'live', label: 'Live: offered to releasing', phases: HOLDING_PHASES },
  { id: 'running', label: 'Running', phases: ['RUNNING'] },
  { id: 'ended', label: 'Ended', phases: ['COMPLETED', 'FAILED', 'CANCELLED'] },
  { id: 'all', label: 'Everything, lapsed offers too' },
];
