/**
 * Canonical JSON: object keys sorted (by UTF-16 code units), no whitespace, arrays in order. The
 * same value always gives the same text, so a hash or signature over it can be recomputed from
 * the parsed document anywhere (e.g. `jq -cS .` prints the same text for our documents).
 * A value with `toJSON` (a Date) is written as JSON.stringify writes it, never as `{}`, so two
 * different dates never give the same text.
 */
export function canonicalJson(value: unknown): string {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return canonicalJson((value as { toJSON: () => unknown }).toJSON());
  }
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}
