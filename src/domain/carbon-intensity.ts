/**
 * The grid's carbon intensity at a site, in gCO2 per kWh: a constant, an hourly profile (24 values,
 * one per UTC hour, repeated every day) and a forecast (values from given instants, each until the
 * next or for an hour). A forecast wins where it has a value; the profile next; the constant last.
 */
export interface CarbonIntensity {
  gramsPerKWh: number;
  /** 24 values, index = the UTC hour of the day. */
  hourly?: readonly number[];
  /** Sorted by `start` (ms since the epoch); each applies until the next, the last for an hour. */
  forecast?: ReadonlyArray<{ start: number; gramsPerKWh: number }>;
}

const HOUR_MS = 3_600_000;

/** Whether the intensity can differ from one instant to another. */
export const varies = (carbon: CarbonIntensity): boolean => (carbon.hourly?.length ?? 0) > 0 || (carbon.forecast?.length ?? 0) > 0;

function forecastAt(carbon: CarbonIntensity, t: number): number | undefined {
  const forecast = carbon.forecast ?? [];
  let lo = 0;
  let hi = forecast.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (forecast[mid]!.start <= t) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  if (found < 0) return undefined;
  const entry = forecast[found]!;
  const end = forecast[found + 1]?.start ?? entry.start + HOUR_MS;
  return t < end ? entry.gramsPerKWh : undefined;
}

/** The intensity at one instant (ms since the epoch). */
export function intensityAt(carbon: CarbonIntensity, t: number): number {
  const forecast = forecastAt(carbon, t);
  if (forecast !== undefined) return forecast;
  if (carbon.hourly?.length === 24) return carbon.hourly[new Date(t).getUTCHours()]!;
  return carbon.gramsPerKWh;
}

/** The instants in (from, to) where the intensity may change: hour boundaries and the forecast's ends. */
export function breakpoints(carbon: CarbonIntensity, from: number, to: number): number[] {
  const points = new Set<number>();
  if (carbon.hourly?.length || carbon.forecast?.length) {
    for (let t = Math.floor(from / HOUR_MS) * HOUR_MS + HOUR_MS; t < to; t += HOUR_MS) points.add(t);
  }
  for (const entry of carbon.forecast ?? []) {
    if (entry.start > from && entry.start < to) points.add(entry.start);
    if (entry.start + HOUR_MS > from && entry.start + HOUR_MS < to) points.add(entry.start + HOUR_MS);
  }
  return [...points].sort((a, b) => a - b);
}

/** ∫ intensity dt over [from, to], in gCO2/kWh × hours: times a power in kW, grams. */
export function intensityHours(carbon: CarbonIntensity, from: number, to: number): number {
  if (!(to > from)) return 0;
  if (!varies(carbon)) return carbon.gramsPerKWh * (to - from) / HOUR_MS;
  let total = 0;
  let start = from;
  for (const point of [...breakpoints(carbon, from, to), to]) {
    total += intensityAt(carbon, (start + point) / 2) * (point - start) / HOUR_MS;
    start = point;
  }
  return total;
}
