import type { SessionActuals } from '../broker/ports.js';
import { COST_TYPES, type Quote, type QuoteItem } from '../domain/quote-offer.js';
import { kindUri } from './kind-uris.js';

type Doc = Record<string, unknown>;

/** One quote item as a v1.0 SimpleMinMaxFloatCost or SimpleMinMaxFloatMetric; the unit is its description. */
function item(folder: 'costs' | 'metrics', quote: QuoteItem): Doc {
  const kind = folder === 'costs' ? 'costs/simple-minmax-float-cost' : 'metrics/simple-minmax-float-metric';
  return { kind: kindUri(kind), type: quote.type, description: quote.unit, min: quote.min, max: quote.max };
}

/** A quote as a component's `costs` and `metrics` lists. */
export function quoteItems(quote: Quote): { costs: Doc[]; metrics: Doc[] } {
  return { costs: quote.costs.map((q) => item('costs', q)), metrics: quote.metrics.map((q) => item('metrics', q)) };
}

/** The session's cost items with what it used as min and max (items of other types as they are). */
export function actualItems(quoted: readonly Doc[], actuals: SessionActuals): Doc[] {
  const used: Record<string, number> = { [COST_TYPES.monetary]: actuals.monetary, [COST_TYPES.energy]: actuals.energy, [COST_TYPES.carbon]: actuals.carbon };
  return quoted.map((item) => {
    const value = typeof item.type === 'string' ? used[item.type] : undefined;
    return value === undefined ? item : { ...item, min: value, max: value };
  });
}
