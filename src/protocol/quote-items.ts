import type { Quote, QuoteItem } from '../domain/quote-offer.js';
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
