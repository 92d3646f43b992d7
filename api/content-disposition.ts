/**
 * `Content-Disposition: attachment` for a download, built here rather than by Koa's
 * `ctx.attachment`, which (through content-disposition 1.0) sent a name of Latin-1 letters ("é.txt",
 * "37.5°C.txt") as raw bytes without `filename*`, so browsers saved it under a broken name, and
 * which also replaced the response's media type with one guessed from the name's extension.
 *
 * A name of plain ASCII goes as `filename` alone; any other, as both parameters (RFC 6266): `filename` with an ASCII stand-in (every other character,
 * and `"` and `\`, as `_`) for old clients, and `filename*` with the exact name in UTF-8,
 * percent-encoded as RFC 8187 asks, which every current browser prefers.
 */
export function attachmentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/gu, '_');
  // A '%' too goes as filename*: some browsers percent-decode a plain filename ("a%C3%A9.txt" saved as "aé.txt").
  if (ascii === name && !name.includes('%')) return `attachment; filename="${name}"`;
  const exact = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${exact}`;
}
