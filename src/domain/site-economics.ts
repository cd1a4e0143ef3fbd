import type { CarbonIntensity } from './carbon-intensity.js';

/**
 * What a site charges and draws (the sites file's `pricing`, `power`, `carbon` and `performance`):
 * what offers quote and ended sessions report. Money is in the site's `currency` (a label only: the
 * broker compares the numbers as they are, so sites compared by price should share one).
 */
export interface SiteEconomics {
  currency: string;
  prices: {
    coreHour: number;
    memoryGiBHour: number;
    storageGiBHour: number;
    /** Per GPU-hour, by model; a model not named costs `gpuHourDefault`. */
    gpuHour: Record<string, number>;
    gpuHourDefault: number;
  };
  power: {
    /** Watts one core draws at full use, and when idle (a run measured at low use draws less). */
    coreWatts: number;
    idleCoreWatts: number;
    /** Watts per GPU, by model; a model not named draws `gpuWattsDefault`. */
    gpuWatts: Record<string, number>;
    gpuWattsDefault: number;
  };
  carbon: CarbonIntensity;
  /** The file the carbon forecast comes from, read again when it changes (config/site-economics-config.ts). */
  forecastFile?: string;
  /** Relative speed of one core (1 = the reference core), and the io throughput in MB/s. */
  performance: { compute: number; ioMBps: number };
}

/** A site that says nothing: free, 10 W a core, 300 W a GPU, 400 gCO2/kWh, reference cores, 100 MB/s. */
export function defaultEconomics(ioMBps = 100): SiteEconomics {
  return {
    currency: 'EUR',
    prices: { coreHour: 0, memoryGiBHour: 0, storageGiBHour: 0, gpuHour: {}, gpuHourDefault: 0 },
    power: { coreWatts: 10, idleCoreWatts: 10, gpuWatts: {}, gpuWattsDefault: 300 },
    carbon: { gramsPerKWh: 400 },
    performance: { compute: 1, ioMBps },
  };
}

/** The site's economics, or the defaults (io at its default bandwidth) when the sites file says none. */
export function economicsOf(site: { economics?: SiteEconomics; defaultBandwidthMBps: number }): SiteEconomics {
  return site.economics ?? defaultEconomics(site.defaultBandwidthMBps);
}
