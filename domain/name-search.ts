/**
 * How names are normalised before blind indexing (see README, "Searching encrypted names"):
 * NFKC (half-width kana and full-width letters fold to their usual forms), katakana → hiragana
 * (ヤマダ and やまだ match), spaces of any width removed, Latin letters lower-cased.
 */
export function normaliseName(raw: string): string {
  return raw
    .normalize('NFKC')
    .replace(/[\u30a1-\u30f6]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 0x60))
    .replace(/[\s\u3000]+/g, '')
    .toLowerCase();
}

/** The prefixes stored as blind-index tokens for prefix search (1 … max characters). */
export function searchPrefixes(normalised: string, max = 10): string[] {
  const chars = [...normalised];
  return Array.from({ length: Math.min(max, chars.length) }, (_, i) => chars.slice(0, i + 1).join(''));
}
