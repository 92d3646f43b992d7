import { Transform } from 'node:stream';
import { z } from 'zod';
import { DECEPTIVE_MESSAGE, hasDeceptiveCharacters } from './fields';
import { payloadTooLarge, badRequest, Problem, validationFailed } from './problems';

/**
 * Rules for uploaded files. Types are an allow-list, and what the bytes say must agree with what
 * the client declared: a "PDF" that is really an HTML page or a script is refused.
 */
export const ALLOWED_TYPES: Record<string, (head: Buffer) => boolean> = {
  'application/pdf': (h) => h.subarray(0, 5).toString('latin1') === '%PDF-',
  'image/png': (h) => h.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  'image/jpeg': (h) => h[0] === 0xff && h[1] === 0xd8 && h[2] === 0xff,
  'image/gif': (h) => /^GIF8[79]a/.test(h.subarray(0, 6).toString('latin1')),
  'image/webp': (h) => h.subarray(0, 4).toString('latin1') === 'RIFF' && h.subarray(8, 12).toString('latin1') === 'WEBP',
  'application/dicom': (h) => h.subarray(128, 132).toString('latin1') === 'DICM',
  'application/zip': isZip,
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': isZip,
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': isZip,
  'text/plain': isText,
  'text/csv': isText,
};

function isZip(h: Buffer) {
  return h[0] === 0x50 && h[1] === 0x4b && (h[2] === 0x03 || h[2] === 0x05) && (h[3] === 0x04 || h[3] === 0x06);
}

/** UTF-8 text without NUL bytes or markup that a browser would render as a page. */
function isText(h: Buffer) {
  if (h.includes(0)) return false;
  const s = h.toString('utf8').trimStart().slice(0, 64).toLowerCase();
  return !s.startsWith('<!doctype') && !s.startsWith('<html') && !s.startsWith('<script') && !s.startsWith('<svg');
}

/** Bytes needed to judge a file's type (DICOM's marker sits at offset 128). */
const SNIFF_BYTES = 132;

export function normaliseContentType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

export function assertAllowedType(contentType: string): void {
  if (!ALLOWED_TYPES[contentType]) {
    throw new Problem(415, 'unsupported_media_type', 'Unsupported Media Type', `Files of type "${contentType || '(none)'}" are not accepted. Allowed: ${Object.keys(ALLOWED_TYPES).join(', ')}.`);
  }
}

function assertContentMatches(contentType: string, head: Buffer): void {
  if (!ALLOWED_TYPES[contentType]!(head)) {
    throw new Problem(415, 'content_type_mismatch', 'Unsupported Media Type', `The file's contents are not ${contentType}.`);
  }
}


/**
 * A display name, never a path: anything that could climb directories, or hide in a terminal or a
 * download dialog (400 validation_failed, field `name`), is refused rather than silently changed.
 */
export function validFileName(raw: string | undefined): string {
  if (raw !== undefined && hasDeceptiveCharacters(raw)) throw validationFailed([{ field: 'name', message: DECEPTIVE_MESSAGE }]);
  const name = (raw ?? '').normalize('NFC').trim();
  if (!name) throw badRequest('invalid_file_name', 'Give the file a name (query parameter "name").');
  if ([...name].length > 255) throw badRequest('invalid_file_name', 'The file name is longer than 255 characters.');
  if (/[/\\]/.test(name) || name === '.' || name === '..' || name.split(/[\\/]/).includes('..')) {
    throw badRequest('invalid_file_name', 'The file name must not contain path separators or "..".');
  }
  return name;
}

/** A body announced larger than the limit is refused before a byte is read. */
export function assertDeclaredSize(contentLength: number, limit: number): void {
  if (contentLength > limit) throw payloadTooLarge(limit);
}

/**
 * The rules applied while an upload streams through: counts bytes (failing past the limit) and
 * checks the declared type against the first bytes, so nothing unchecked reaches storage whole.
 */
export function uploadGuard(limit: number, contentType: string): { stream: Transform; bytes: () => number } {
  let size = 0;
  let head: Buffer | null = Buffer.alloc(0);
  const judge = (final: boolean) => {
    if (head && (head.length >= SNIFF_BYTES || final)) {
      assertContentMatches(contentType, head);
      head = null;
    }
  };
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      try {
        size += chunk.length;
        if (size > limit) throw payloadTooLarge(limit);
        if (head) head = Buffer.concat([head, chunk.subarray(0, SNIFF_BYTES)]);
        judge(false);
        cb(null, chunk);
      } catch (err) {
        cb(err as Error);
      }
    },
    flush(cb) {
      try {
        judge(true);
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
  return { stream, bytes: () => size };
}
