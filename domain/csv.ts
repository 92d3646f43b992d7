/**
 * CSV for people who open it in Excel: RFC 4180 cells, and the one formula-injection guard of
 * the product. A text cell starting like a spreadsheet formula (= + - @, tab, CR) gets a leading
 * `'`, so Excel shows it as text instead of running it. The operation-log CSV (made by
 * PostgreSQL's COPY, db/audit.ts) applies the same rule in SQL through FORMULA_LEAD_CODES; the
 * data export (made in Node) through guardFormula. Change the rule here and both follow.
 */
export const FORMULA_LEAD_CHARS = ['=', '+', '-', '@', '\t', '\r'] as const;
export const FORMULA_LEAD_CODES: readonly number[] = FORMULA_LEAD_CHARS.map((c) => c.charCodeAt(0));

const LEADS = new Set<string>(FORMULA_LEAD_CHARS);

export function guardFormula(text: string): string {
  return text.length > 0 && LEADS.has(text[0]!) ? `'${text}` : text;
}

/** UTF-8 byte order mark: Excel on Japanese Windows reads BOM-less CSV as Shift_JIS. */
export const CSV_BOM = '\uFEFF';

const NEEDS_QUOTES = /[",\r\n]/;

/**
 * One cell: null and undefined are empty, numbers and booleans as written, text guarded and
 * quoted when it holds a quote, comma or line break; objects and arrays as their JSON text.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  const text = guardFormula(typeof value === 'string' ? value : JSON.stringify(value));
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One record with its CRLF. */
export function csvLine(values: readonly unknown[]): string {
  let line = '';
  for (let i = 0; i < values.length; i++) line += (i ? ',' : '') + csvCell(values[i]);
  return `${line}\r\n`;
}
