import { styleOf } from '../lib/phases.js';

/** A phase in words, on its colour (the word is what counts; the colour only helps). */
export function PhaseBadge({ phase }: { phase: string }) {
  const style = styleOf(phase);
  return <span class="phase" data-phase={phase} style={{ background: style.fill, color: style.text }}>{phase}</span>;
}
