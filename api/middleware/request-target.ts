import { isUtf8 } from 'node:buffer';
import type { Middleware } from 'koa';
import { validationFailed, type FieldError } from '../../domain/problems';
import type { AppState } from '../state';

/** C0 and C1 control characters and DEL: no path segment or query value of ours needs one. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// eslint-disable-next-line no-control-regex
const CONTROL_ALL = /[\u0000-\u001f\u007f-\u009f]/g;

/** A name as it may be shown back: control characters written as \uXXXX, never raw. */
const visible = (s: string) => s.replace(CONTROL_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Whether the bytes a query part's %XX escapes stand for, with the characters around them, are UTF-8. */
function escapesAreUtf8(part: string): boolean {
  if (!/%[0-9A-Fa-f]{2}/.test(part)) return true;
  const bytes = Buffer.from(part.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
  // Characters other than escapes are ASCII in a well-formed target; latin1 keeps each escape's byte as it is.
  return isUtf8(bytes);
}

/**
 * The request target (path and query string), decoded, carries no control characters: a NUL
 * cannot be stored in PostgreSQL text, and the others only serve to smuggle content into logs,
 * headers or terminals; and it is UTF-8. Checked once for every route, before routing: `400 validation_failed`
 * naming each offending parameter (the JSON body gets the same rule in json-body.ts).
 */
export function requestTarget(): Middleware<AppState> {
  return async (ctx, next) => {
    const errors: FieldError[] = [];
    if (CONTROL.test(decoded(ctx.path))) errors.push({ field: '(path)', message: 'must not contain control characters' });
    if (ctx.querystring) {
      // Percent-encoded bytes that are not UTF-8 (%FF): the query parser would hand the route
      // U+FFFD in their place, and a file name would be stored so (never silently cleaned).
      // (A '%' that starts no escape, as in "%%%", stays a plain character, as the parser keeps it.)
      for (const pair of ctx.querystring.split('&')) {
        const [name = '', value = ''] = pair.split(/=(.*)/s);
        if (!escapesAreUtf8(name) || !escapesAreUtf8(value)) errors.push({ field: visible(decoded(name)), message: 'must be percent-encoded UTF-8' });
      }
      for (const [name, value] of Object.entries(ctx.query)) {
        const values = Array.isArray(value) ? value : [value ?? ''];
        if (CONTROL.test(name) || values.some((v) => CONTROL.test(v))) errors.push({ field: visible(name), message: 'must not contain control characters' });
      }
    }
    if (errors.length > 0) throw validationFailed(errors);
    await next();
  };
}
