import { isUtf8 } from 'node:buffer';
import type { Middleware } from 'koa';
import { invalidJson, payloadTooLarge, unsupportedMediaType, validationFailed } from '../../domain/problems';
import { LONE_SURROGATE, LONE_SURROGATE_MESSAGE } from '../../domain/fields';
import type { AppState } from '../state';

/** No request of ours nests anywhere near this deep; a body that does is an attack on the stack. */
export const MAX_JSON_DEPTH = 32;

/**
 * Reads a JSON body with a hard size limit and a bounded nesting depth. A declared Content-Length over the limit is refused
 * before a byte is read; a chunked body is cut off as soon as it crosses the limit.
 */
export function jsonBody(limitBytes: number, skip: (ctx: { method: string; path: string }) => boolean = () => false): Middleware<AppState> {
  return async (ctx, next) => {
    if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(ctx.method) || skip(ctx)) return next();
    const declared = Number(ctx.get('Content-Length') || '0');
    if (declared > limitBytes) {
      ctx.req.resume();
      ctx.set('Connection', 'close');
      throw payloadTooLarge(limitBytes);
    }
    const hasBody = declared > 0 || ctx.get('Transfer-Encoding') !== '';
    if (!hasBody) return next();
    // A compressed body is not read as JSON (it would only fail as invalid_json): 415, like any type we do not take.
    const encoding = ctx.get('Content-Encoding').trim().toLowerCase();
    if (!ctx.is('application/json', 'application/*+json') || (encoding !== '' && encoding !== 'identity')) {
      ctx.req.resume();
      throw unsupportedMediaType(encoding !== '' && encoding !== 'identity' ? 'Send the body as application/json, uncompressed (no Content-Encoding).' : undefined);
    }
    // JSON is UTF-8 (RFC 8259 §8.1); a body declared in another charset would only be misread as
    // invalid_json or, worse, as other text: 415, like a type we do not take.
    const charset = ctx.request.charset.toLowerCase();
    if (charset !== '' && charset !== 'utf-8' && charset !== 'utf8') {
      ctx.req.resume();
      throw unsupportedMediaType('Send the body as application/json in UTF-8 (charset=utf-8, or no charset).');
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limitBytes) {
        ctx.set('Connection', 'close');
        ctx.req.unpipe();
        throw payloadTooLarge(limitBytes);
      }
      chunks.push(chunk);
    }
    // Bytes that are not UTF-8 are refused, not replaced by U+FFFD and stored (input is never silently cleaned).
    // (Overlong forms, stray continuation bytes, encoded surrogates; a leading BOM stays in the text, where JSON.parse refuses it.)
    const bytes = Buffer.concat(chunks);
    if (!isUtf8(bytes)) throw invalidJson('The request body is not valid UTF-8.');
    const text = bytes.toString('utf8');
    if (text.trim() === '') return next();
    // Checked before parsing: everything after the parser (the NUL check, zod) walks the value recursively.
    if (nestingExceeds(text, MAX_JSON_DEPTH)) throw invalidJson(`The request body nests deeper than ${MAX_JSON_DEPTH} levels.`);
    try {
      ctx.state.body = JSON.parse(text);
    } catch {
      throw invalidJson();
    }
    // Refused here, by field: NUL (PostgreSQL text cannot hold it, and no legitimate field needs it), unpaired surrogates,
    // numbers beyond a double's range, and a member named __proto__ (JSON.parse keeps it as data, but copying the object into a new
    // one, as validation does for free-form maps like a questionnaire's answers, sets the copy's
    // prototype instead: the answer would vanish, and two different bodies would look alike).
    const refused = refusedFields(ctx.state.body, '');
    if (refused.length > 0) throw validationFailed(refused.map(({ field, message }) => ({ field: field || '(body)', message })));
    return next();
  };
}

const NUL_MESSAGE = 'must not contain NUL characters';

/**
 * What no text of ours may hold, in a value or a member's name: NUL, and half of a UTF-16 pair
 * without its other half (a JSON escape such as \ud83d alone is valid JSON in valid UTF-8). The
 * vault seals text as UTF-8 and PostgreSQL stores it so, and either turns the half into U+FFFD: a
 * clinical note, a prescription or a questionnaire answer would have been changed without a word.
 */
function refusedText(s: string): string | undefined {
  if (s.includes('\u0000')) return NUL_MESSAGE;
  return LONE_SURROGATE.test(s) ? LONE_SURROGATE_MESSAGE : undefined;
}

function refusedFields(value: unknown, path: string): Array<{ field: string; message: string }> {
  if (typeof value === 'string') {
    const message = refusedText(value);
    return message ? [{ field: path, message }] : [];
  }
  // A number too large for a double (1e999) parses as Infinity, which JSON cannot hold: stored in a
  // free-form map (a questionnaire's answers) it came back as null. Refused, not cleaned.
  if (typeof value === 'number') return Number.isFinite(value) ? [] : [{ field: path, message: 'must be a number a double can hold (at most about 1.8e308)' }];
  if (Array.isArray(value)) return value.flatMap((v, i) => refusedFields(v, path ? `${path}.${i}` : String(i)));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => {
      const here = path ? `${path}.${k}` : k;
      const refusedName = refusedText(k);
      if (refusedName) return [{ field: here, message: refusedName }];
      if (k === '__proto__') return [{ field: here, message: 'is a name no field may have' }];
      return refusedFields(v, here);
    });
  }
  return [];
}

/**
 * Does the JSON text open more than `max` arrays or objects inside one another? A linear scan that
 * skips strings; malformed text may fool it, but the parser refuses such text anyway.
 */
export function nestingExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
