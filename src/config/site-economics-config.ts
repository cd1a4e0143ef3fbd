import { readFileSync, statSync } from 'node:fs';
import type { CarbonIntensity } from '../domain/carbon-intensity.js';
import { parseInstant } from '../domain/iso8601.js';
import { defaultEconomics, type SiteEconomics } from '../domain/site-economics.js';
import { ConfigError } from './config-error.js';

/** The sites file's `pricing`, `power`, `carbon` and `performance` of one site, as written. */
export interface EconomicsEntry {
  pricing?: { currency?: string; coreHour?: number; memoryGiBHour?: number; storageGiBHour?: number; gpuHour?: number | Record<string, number> };
  power?: { coreWatts?: number; idleCoreWatts?: number; gpuWatts?: number | Record<string, number> };
  carbon?: { gramsPerKWh?: number; hourly?: number[]; forecastFile?: string };
  performance?: { compute?: number; ioMBps?: number };
}

/** A per-model map (`*` for any other model) or one number for every model. */
function perModel(value: number | Record<string, number> | undefined, fallback: number): { byModel: Record<string, number>; other: number } {
  if (value === undefined) return { byModel: {}, other: fallback };
  if (typeof value === 'number') return { byModel: {}, other: value };
  const { '*': other, ...byModel } = value;
  return { byModel, other: other ?? fallback };
}

/**
 * A carbon forecast file: JSON `[{"start": "<ISO 8601 instant>", "gramsPerKWh": n}, ...]`, or CSV
 * lines `<instant>,<gramsPerKWh>` (a header line and `#` comments are skipped). Sorted by start.
 */
export function readCarbonForecast(path: string, site: string): NonNullable<CarbonIntensity['forecast']> {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (error) {
    throw new ConfigError(`site ${site}: carbon.forecastFile ${path} cannot be read: ${(error as Error).message}`);
  }
  const rows: Array<{ start: unknown; gramsPerKWh: unknown }> = [];
  if (/^\s*\[/.test(text)) {
    let parsed: unknown;
    try { parsed = JSON.parse(text); } catch (error) { throw new ConfigError(`site ${site}: carbon.forecastFile ${path} is not valid JSON: ${(error as Error).message}`); }
    if (Array.isArray(parsed)) for (const row of parsed) rows.push(typeof row === 'object' && row !== null ? row as { start: unknown; gramsPerKWh: unknown } : { start: undefined, gramsPerKWh: undefined });
  } else {
    for (const line of text.split(/\r?\n/)) {
      const trimmed = line.trim();
      if (!trimmed || trimmed.startsWith('#') || /^start\b/i.test(trimmed)) continue;
      const [start, grams] = trimmed.split(',').map((part) => part.trim());
      rows.push({ start, gramsPerKWh: grams === undefined || grams === '' ? undefined : Number(grams) });
    }
  }
  const forecast = rows.map((row, index) => {
    const start = typeof row.start === 'string' ? parseInstant(row.start) : undefined;
    const grams = row.gramsPerKWh;
    if (start === undefined || typeof grams !== 'number' || !Number.isFinite(grams) || grams < 0) {
      throw new ConfigError(`site ${site}: carbon.forecastFile ${path}: entry ${index + 1} needs a start (an ISO 8601 instant) and gramsPerKWh (a number of at least 0)`);
    }
    return { start, gramsPerKWh: grams };
  });
  return forecast.sort((a, b) => a.start - b.start);
}

/** The site's economics from the sites file: what it sets over the defaults, checked. */
export function siteEconomics(site: string, entry: EconomicsEntry, ioMBps: number): SiteEconomics {
  const base = defaultEconomics(ioMBps);
  const gpuHour = perModel(entry.pricing?.gpuHour, base.prices.gpuHourDefault);
  const gpuWatts = perModel(entry.power?.gpuWatts, base.power.gpuWattsDefault);
  const coreWatts = entry.power?.coreWatts ?? base.power.coreWatts;
  const idleCoreWatts = entry.power?.idleCoreWatts ?? coreWatts;
  if (idleCoreWatts > coreWatts) throw new ConfigError(`site ${site}: power.idleCoreWatts (${idleCoreWatts}) must not be more than power.coreWatts (${coreWatts})`);
  const carbon: CarbonIntensity = {
    gramsPerKWh: entry.carbon?.gramsPerKWh ?? base.carbon.gramsPerKWh,
    ...(entry.carbon?.hourly ? { hourly: [...entry.carbon.hourly] } : {}),
    ...(entry.carbon?.forecastFile ? { forecast: readCarbonForecast(entry.carbon.forecastFile, site) } : {}),
  };
  return {
    currency: entry.pricing?.currency ?? base.currency,
    prices: {
      coreHour: entry.pricing?.coreHour ?? base.prices.coreHour,
      memoryGiBHour: entry.pricing?.memoryGiBHour ?? base.prices.memoryGiBHour,
      storageGiBHour: entry.pricing?.storageGiBHour ?? base.prices.storageGiBHour,
      gpuHour: gpuHour.byModel,
      gpuHourDefault: gpuHour.other,
    },
    power: { coreWatts, idleCoreWatts, gpuWatts: gpuWatts.byModel, gpuWattsDefault: gpuWatts.other },
    carbon,
    ...(entry.carbon?.forecastFile ? { forecastFile: entry.carbon.forecastFile } : {}),
    performance: { compute: entry.performance?.compute ?? base.performance.compute, ioMBps: entry.performance?.ioMBps ?? ioMBps },
  };
}

/**
 * The site's economics now: its forecast file read again when it has changed since (the operator
 * updates it in place; a file that cannot be read now keeps the last good forecast).
 */
export function economicsReader(): (site: { name: string; economics?: SiteEconomics }) => SiteEconomics | undefined {
  const seen = new Map<string, { mtimeMs: number; forecast: NonNullable<CarbonIntensity['forecast']> }>();
  return (site) => {
    const file = site.economics?.forecastFile;
    if (!site.economics || !file) return site.economics;
    try {
      const { mtimeMs } = statSync(file);
      const last = seen.get(site.name);
      const forecast = last && last.mtimeMs === mtimeMs ? last.forecast : readCarbonForecast(file, site.name);
      seen.set(site.name, { mtimeMs, forecast });
      return { ...site.economics, carbon: { ...site.economics.carbon, forecast } };
    } catch {
      return seen.has(site.name) ? { ...site.economics, carbon: { ...site.economics.carbon, forecast: seen.get(site.name)!.forecast } } : site.economics;
    }
  };
}
