import type { Middleware } from 'koa';
import { invalidJson, payloadTooLarge, unsupportedMediaType, validationFailed } from '../../domain/problems';
import type { AppState } from '../state';

/**
 * Reads a JSON body with a hard size limit. A declared Content-Length over the limit is refused
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
    if (!ctx.is('application/json', 'application/*+json')) {
      ctx.req.resume();
      throw unsupportedMediaType();
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
    const text = Buffer.concat(chunks).toString('utf8');
    if (text.trim() === '') return next();
    try {
      ctx.state.body = JSON.parse(text);
    } catch {
      throw invalidJson();
    }
    // PostgreSQL text cannot hold NUL, and no legitimate field needs it: refuse it here, by field.
    const nulFields = fieldsWithNul(ctx.state.body, '');
    if (nulFields.length > 0) throw validationFailed(nulFields.map((field) => ({ field: field || '(body)', message: 'must not contain NUL characters' })));
    return next();
  };
}

function fieldsWithNul(value: unknown, path: string): string[] {
  if (typeof value === 'string') return value.includes('\u0000') ? [path] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => fieldsWithNul(v, path ? `${path}.${i}` : String(i)));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => {
      const here = path ? `${path}.${k}` : k;
      return k.includes('\u0000') ? [here] : fieldsWithNul(v, here);
    });
  }
  return [];
}
