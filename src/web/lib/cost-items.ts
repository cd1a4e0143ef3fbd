/** How the page writes a component's costs and metrics (the quote on an offer, what was used on an ended session). */
type Doc = Record<string, any>;

const NAMES: Record<string, string> = {
  'urn:ivoa:calycopis:cost:monetary': 'price',
  'urn:ivoa:calycopis:cost:energy': 'energy',
  'urn:ivoa:calycopis:cost:carbon': 'carbon',
  'urn:ivoa:calycopis:metric:compute-performance': 'compute',
  'urn:ivoa:calycopis:metric:io-throughput': 'io',
};

/** 0.1666667 -> "0.167", 1234.5 -> "1235", 0.000012 -> "0.000012". */
export function figure(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 100) return String(Math.round(value));
  return String(Number(value.toPrecision(3)));
}

/**
 * One line per item: "price 0–0.167 EUR", or "price 0.05 EUR" when min = max (a metric, or what an
 * ended session used). Items of unknown types by their type URI.
 */
export function costLines(component: Doc | undefined): string[] {
  const items = [...((component?.costs as Doc[] | undefined) ?? []), ...((component?.metrics as Doc[] | undefined) ?? [])];
  return items.filter((item) => typeof item.min === 'number' || typeof item.max === 'number').map((item) => {
    const name = NAMES[item.type as string] ?? String(item.type ?? 'cost');
    const unit = typeof item.description === 'string' ? ` ${item.description}` : '';
    const { min, max } = item as { min?: number; max?: number };
    const value = min !== undefined && max !== undefined && min !== max ? `${figure(min)}–${figure(max)}` : figure((max ?? min)!);
    return `${name} ${value}${unit}`;
  });
}
