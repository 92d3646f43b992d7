import type { ParameterizedContext } from 'koa';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const MAX_CHARS = 512;

/**
 * The client's User-Agent as it is stored (operation log, sessions): Node hands header bytes over
 * as Latin-1, so a browser's UTF-8 (a Japanese device name) arrived as mojibake; it is read as
 * UTF-8 when it is valid UTF-8. Control characters (which could smuggle lines into a log or a CSV
 * viewer) become U+FFFD, and the length is bounded.
 */
export function userAgentOf(ctx: Pick<ParameterizedContext, 'get'>): string | undefined {
  const raw = ctx.get('User-Agent');
  if (!raw) return undefined;
  const utf8 = Buffer.from(raw, 'latin1').toString('utf8');
  const text = utf8.includes('\uFFFD') ? raw : utf8;
  return [...text.replace(CONTROL, '\uFFFD')].slice(0, MAX_CHARS).join('');
}
