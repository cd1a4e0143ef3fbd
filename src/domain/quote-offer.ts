import { breakpoints, intensityHours } from './carbon-intensity.js';
import type { UseLimits } from './execution-needs.js';
import { makeMessage, type Message } from './messages.js';
import type { OfferPlan } from './plan-offers.js';
import type { SiteEconomics } from './site-economics.js';

/** The `type` URIs of the costs and metrics this broker quotes and understands as limits. */
export const COST_TYPES = {
  monetary: 'urn:ivoa:calycopis:cost:monetary',
  energy: 'urn:ivoa:calycopis:cost:energy',
  carbon: 'urn:ivoa:calycopis:cost:carbon',
} as const;
export const METRIC_TYPES = {
  computePerformance: 'urn:ivoa:calycopis:metric:compute-performance',
  ioThroughput: 'urn:ivoa:calycopis:metric:io-throughput',
} as const;
export const KNOWN_COST_TYPES: ReadonlySet<string> = new Set(Object.values(COST_TYPES));
export const KNOWN_METRIC_TYPES: ReadonlySet<string> = new Set(Object.values(METRIC_TYPES));

/** One quoted (or, for an ended session, measured: min = max) cost or metric. */
export interface QuoteItem { type: string; min: number; max: number; unit: string }

/** Costs (monetary, energy, carbon) and metrics (compute performance, io throughput), in that order. */
export interface Quote { costs: QuoteItem[]; metrics: QuoteItem[] }

const HOUR_MS = 3_600_000;
const SCALE = 1e6;
const down = (x: number): number => Math.floor(x * SCALE) / SCALE;
const up = (x: number): number => Math.ceil(x * SCALE) / SCALE;
const near = (x: number): number => Math.round(x * SCALE) / SCALE;

/** The offer's allocation per hour: money, and watts at full use and when idle. */
function rates(plan: Pick<OfferPlan, 'cores' | 'memoryGiB' | 'storageGiB' | 'gpu'>, economics: SiteEconomics) {
  const { prices, power } = economics;
  const gpus = plan.gpu?.count ?? 0;
  const model = plan.gpu?.model ?? '';
  const gpuPrice = prices.gpuHour[model] ?? prices.gpuHourDefault;
  const gpuWatts = (power.gpuWatts[model] ?? power.gpuWattsDefault) * gpus;
  return {
    money: plan.cores * prices.coreHour + plan.memoryGiB * prices.memoryGiBHour + plan.storageGiB * prices.storageGiBHour + gpus * gpuPrice,
    fullWatts: plan.cores * power.coreWatts + gpuWatts,
    idleWatts: plan.cores * Math.min(power.idleCoreWatts, power.coreWatts) + gpuWatts,
  };
}

/** When the held allocation ends at the latest: the end of its releasing. */
export const planEnd = (plan: OfferPlan): number => plan.releasingStart + plan.releasingMs;

function metricsOf(plan: OfferPlan, economics: SiteEconomics): QuoteItem[] {
  const compute = near(plan.cores * economics.performance.compute);
  const io = near(economics.performance.ioMBps);
  return [
    { type: METRIC_TYPES.computePerformance, min: compute, max: compute, unit: 'reference cores' },
    { type: METRIC_TYPES.ioThroughput, min: io, max: io, unit: 'MB/s' },
  ];
}

/**
 * What an offer can cost. The allocation is held from `preparingStart`; a session that completes
 * holds it at least through its preparation (its run starts no sooner than `availableStart`) and at
 * most to the end of its releasing. The minimum is the preparation alone at idle power; the maximum
 * the whole span at full power, each with the grid's intensity over those very hours.
 */
export function quoteOffer(plan: OfferPlan, economics: SiteEconomics): Quote {
  const { money, fullWatts, idleWatts } = rates(plan, economics);
  const shortest = plan.availableStart - plan.preparingStart;
  const longest = planEnd(plan) - plan.preparingStart;
  const carbon = economics.carbon;
  return {
    costs: [
      { type: COST_TYPES.monetary, min: down(money * shortest / HOUR_MS), max: up(money * longest / HOUR_MS), unit: economics.currency },
      { type: COST_TYPES.energy, min: down(idleWatts * shortest / HOUR_MS / 1000), max: up(fullWatts * longest / HOUR_MS / 1000), unit: 'kWh' },
      {
        type: COST_TYPES.carbon,
        min: down(idleWatts / 1000 * intensityHours(carbon, plan.preparingStart, plan.availableStart)),
        max: up(fullWatts / 1000 * intensityHours(carbon, plan.preparingStart, planEnd(plan))),
        unit: 'gCO2',
      },
    ],
    metrics: metricsOf(plan, economics),
  };
}

/** What an ended session used: its end (ms) and, where the executor measured it, the CPU time of its run. */
export interface SessionUse { end: number; cpuSeconds?: number }

/**
 * What a session really cost: the allocation held from `preparingStart` to its end (never past the
 * hold), at a power between idle and full by its measured CPU use (full when not measured).
 * min = max = the actual value.
 */
export function actualUse(plan: OfferPlan, economics: SiteEconomics, use: SessionUse): Quote {
  const { money, fullWatts, idleWatts } = rates(plan, economics);
  const end = Math.min(Math.max(use.end, plan.preparingStart), planEnd(plan));
  const held = end - plan.preparingStart;
  const coreSeconds = plan.cores * held / 1000;
  const use01 = use.cpuSeconds === undefined || coreSeconds <= 0 ? 1 : Math.min(1, Math.max(0, use.cpuSeconds / coreSeconds));
  const watts = Math.min(fullWatts, idleWatts + (fullWatts - idleWatts) * use01);
  const item = (type: string, value: number, unit: string): QuoteItem => ({ type, min: near(value), max: near(value), unit });
  return {
    costs: [
      item(COST_TYPES.monetary, money * held / HOUR_MS, economics.currency),
      item(COST_TYPES.energy, watts * held / HOUR_MS / 1000, 'kWh'),
      item(COST_TYPES.carbon, watts / 1000 * intensityHours(economics.carbon, plan.preparingStart, end), 'gCO2'),
    ],
    metrics: metricsOf(plan, economics),
  };
}

const WHAT: Record<string, string> = {
  [COST_TYPES.monetary]: 'price', [COST_TYPES.energy]: 'energy', [COST_TYPES.carbon]: 'carbon',
  [METRIC_TYPES.computePerformance]: 'compute performance', [METRIC_TYPES.ioThroughput]: 'io throughput',
};

/**
 * Why a quote does not meet the request's limits (all must hold): a cost whose maximum is over the
 * limit (`urn:cost-limit`), a metric whose minimum is under it (`urn:metric-limit`). Empty: it fits.
 */
export function limitBreaches(quote: Quote, limits: UseLimits | undefined, site: string): Message[] {
  if (!limits) return [];
  const out: Message[] = [];
  for (const limit of limits.costs) {
    const item = quote.costs.find((c) => c.type === limit.type);
    if (item && item.max > limit.max) {
      out.push(makeMessage('urn:cost-limit', 'ERROR', 'Site {site}: the {what} could reach {max} {unit}, over the limit of {limit}',
        { site, what: WHAT[limit.type] ?? limit.type, max: item.max, unit: item.unit, limit: limit.max }));
    }
  }
  for (const limit of limits.metrics) {
    const item = quote.metrics.find((m) => m.type === limit.type);
    if (item && item.min < limit.min) {
      out.push(makeMessage('urn:metric-limit', 'ERROR', 'Site {site}: the {what} is {min} {unit}, under the minimum of {limit}',
        { site, what: WHAT[limit.type] ?? limit.type, min: item.min, unit: item.unit, limit: limit.min }));
    }
  }
  return out;
}

/** The value a ranking orders by: the most the offer can cost in money, or in carbon. */
export function quoted(quote: Quote | undefined, type: string): number {
  return quote?.costs.find((c) => c.type === type)?.max ?? Number.POSITIVE_INFINITY;
}

/**
 * What the terminal step needs to charge a session without the site's configuration (the store's
 * Lua step computes it as chargeOf() does): the hold's start and end, money per hour, watts at full
 * use, and the carbon emitted at full use since the start, at each change of intensity (ms, grams);
 * with the watts at idle and the cores held, a run's measured CPU time scales energy and carbon
 * between the two (absent in tariffs written before: full use).
 */
export interface Tariff { start: number; end: number; moneyPerHour: number; watts: number; idleWatts?: number; cores?: number; carbon: Array<[number, number]> }

export function tariffOf(plan: OfferPlan, economics: SiteEconomics): Tariff {
  const { money, fullWatts, idleWatts } = rates(plan, economics);
  const start = plan.preparingStart;
  const end = planEnd(plan);
  const points = [start, ...breakpoints(economics.carbon, start, end), end];
  let grams = 0;
  const carbon = points.map((at, index): [number, number] => {
    if (index > 0) grams += fullWatts / 1000 * intensityHours(economics.carbon, points[index - 1]!, at);
    return [at, grams];
  });
  return { start, end, moneyPerHour: money, watts: fullWatts, idleWatts, cores: plan.cores, carbon };
}

/**
 * What a session ending at `end` used, by its tariff: at full power, or, when the executor measured
 * the run's CPU time, at the power that use of the cores held draws (as actualUse() does).
 */
export function chargeOf(tariff: Tariff, end: number, cpuSeconds?: number): { monetary: number; energy: number; carbon: number } {
  const stop = Math.min(Math.max(end, tariff.start), tariff.end);
  const hours = (stop - tariff.start) / HOUR_MS;
  const share = powerShare(tariff, hours, cpuSeconds);
  let grams = 0;
  for (let i = 1; i < tariff.carbon.length; i++) {
    const [a, ga] = tariff.carbon[i - 1]!;
    const [b, gb] = tariff.carbon[i]!;
    if (stop <= b) { grams = ga + (gb - ga) * (stop - a) / Math.max(1, b - a); break; }
    grams = gb;
  }
  return { monetary: near(tariff.moneyPerHour * hours), energy: near(tariff.watts * share * hours / 1000), carbon: near(grams * share) };
}

/** The share of full power a run drew: idle plus its CPU time's use of the cores held, at most 1. */
function powerShare(tariff: Tariff, hours: number, cpuSeconds: number | undefined): number {
  const coreSeconds = (tariff.cores ?? 0) * hours * 3600;
  if (cpuSeconds === undefined || tariff.idleWatts === undefined || coreSeconds <= 0 || tariff.watts <= 0) return 1;
  const use = Math.min(1, Math.max(0, cpuSeconds / coreSeconds));
  return Math.min(1, (tariff.idleWatts + (tariff.watts - tariff.idleWatts) * use) / tariff.watts);
}
