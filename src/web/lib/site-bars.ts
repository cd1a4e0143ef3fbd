import { packLanes, usageSteps, type Step } from './timeline-layout.js';

/** One reservation, ready to draw: instants as numbers, its lane, and the session when the viewer may see it. */
export interface Bar {
  key: string;
  phase: string;
  start: number;
  end: number;
  availableStart: number;
  availableEnd: number;
  cores: number;
  memoryGiB: number;
  gpu?: { model: string; count: number };
  uuid?: string;
  name?: string;
  owner?: string;
  lane: number;
}

export interface SiteBars {
  site: string;
  capacity: { cores: number; memoryGiB: number; gpus: Record<string, number> };
  bars: Bar[];
  lanes: number;
  /** Cores held over time. */
  cores: Step[];
  truncated: boolean;
}

type Doc = Record<string, any>;

/** A timeline document (GET /sites/{name}/timeline) -> bars in lanes and the cores held over time: done once per fetch, not per frame. */
export function siteBars(timeline: Doc): SiteBars {
  const items = (timeline.reservations as Doc[]).map((entry, index) => ({
    key: (entry.session?.uuid as string | undefined) ?? `anonymous-${index}-${entry.start}`,
    phase: entry.phase as string,
    start: Date.parse(entry.start),
    end: Date.parse(entry.end),
    availableStart: Date.parse(entry.available.start),
    availableEnd: Date.parse(entry.available.end),
    cores: Number(entry.cores),
    memoryGiB: Number(entry.memoryGiB),
    ...(entry.gpu ? { gpu: entry.gpu as { model: string; count: number } } : {}),
    ...(entry.session ? { uuid: entry.session.uuid as string, name: entry.session.name as string | undefined, owner: entry.session.owner as string } : {}),
  }));
  const { lanes, placed } = packLanes(items, 30_000);
  return {
    site: timeline.site as string,
    capacity: timeline.capacity as SiteBars['capacity'],
    bars: placed.map(({ item, lane }) => ({ ...item, lane })),
    lanes,
    cores: usageSteps(items, (item) => item.cores),
    truncated: Boolean(timeline.truncated),
  };
}
