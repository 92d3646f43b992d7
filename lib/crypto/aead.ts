import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * AES-256-GCM. Small values are sealed whole; files are sealed in 64 KiB segments under a key of
 * their own (see format 2 below), each segment with its own tag and nonce (a random prefix plus the
 * segment number and a last-segment flag, both also in the associated data), so a reader never
 * releases unauthenticated bytes and segments can be neither reordered, dropped nor cut off at the
 * end without detection.
 */
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function seal(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ct]);
}

export function open(key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new Error('ciphertext too short');
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES));
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  const plain = decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES));
  const rest = decipher.final(); // authenticates; GCM has nothing left to give, so no copy is made
  return rest.length === 0 ? plain : Buffer.concat([plain, rest]);
}

export const SEGMENT_BYTES = 64 * 1024;
const PREFIX_BYTES = 7; // + 4-byte counter + 1-byte last flag = 12-byte nonce
const SEALED_SEGMENT = SEGMENT_BYTES + TAG_BYTES;

/**
 * File format 2 (written since 2026-12): a header `[0x02 | salt (32) | nonce prefix (7)]`, then
 * `[ciphertext | tag]` per segment under a key of its own, HKDF-SHA256(data key, salt,
 * "forclinic/file/v2" ‖ 0x00 ‖ associated data). The associated data names the clinic and the
 * context (`forclinic/v1/<clinic>/process_files.content:<id>`), so each file's key is bound to
 * where it belongs, and nonces (prefix ‖ segment number ‖ last flag) never repeat under a key
 * however many files the data key seals. Every segment authenticates the header as well.
 *
 * Format 1 (older files, still read): no version byte; a 7-byte random nonce prefix, then the
 * segments under the clinic's data key itself, with the associated data plus segment number and
 * last flag as each segment's AAD. Its first byte is random, so a file starting with 0x02 is
 * tried as format 2 and, if its first segment does not authenticate, as format 1.
 */
export const FILE_FORMAT = 2;
export const FILE_SALT_BYTES = 32;
const HEADER_BYTES = 1 + FILE_SALT_BYTES + PREFIX_BYTES;
const HKDF_INFO = Buffer.from('forclinic/file/v2\u0000', 'utf8');

/** The file's own key: bound to the data key, the file's random salt, the clinic and the context. */
export function fileKey(key: Buffer, salt: Buffer, aad: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', key, salt, Buffer.concat([HKDF_INFO, aad]), 32));
}

function nonce(prefix: Buffer, index: number, last: boolean): Buffer {
  const n = Buffer.alloc(IV_BYTES);
  prefix.copy(n, 0);
  n.writeUInt32BE(index, PREFIX_BYTES);
  n[11] = last ? 1 : 0;
  return n;
}

function segmentAad(aad: Buffer, index: number, last: boolean): Buffer {
  const tail = Buffer.alloc(5);
  tail.writeUInt32BE(index, 0);
  tail[4] = last ? 1 : 0;
  return Buffer.concat([aad, tail]);
}

/** How one file's segments are sealed: the key, nonce prefix and associated data of a format. */
interface SegmentScheme {
  key: Buffer;
  prefix: Buffer;
  aad: Buffer;
}

/**
 * Seals one segment given as consecutive pieces (the chunks that arrived for it): each piece goes
 * through the cipher as it is and `out` receives the ciphertext, then the tag. Joining the pieces
 * first, and the ciphertext with its tag after, copied every byte twice more: garbage outside V8's
 * heap that a data export's archive made by the gigabyte.
 */
function sealSegment(s: SegmentScheme, index: number, last: boolean, pieces: Buffer[], out: (b: Buffer) => void): void {
  const cipher = createCipheriv('aes-256-gcm', s.key, nonce(s.prefix, index, last));
  cipher.setAAD(segmentAad(s.aad, index, last));
  for (const piece of pieces) if (piece.length) out(cipher.update(piece));
  const rest = cipher.final(); // empty for GCM, which has no padding
  if (rest.length) out(rest);
  out(cipher.getAuthTag());
}

function openSegment(s: SegmentScheme, index: number, last: boolean, segment: Buffer): Buffer {
  if (segment.length < TAG_BYTES) throw new Error('ciphertext truncated');
  const decipher = createDecipheriv('aes-256-gcm', s.key, nonce(s.prefix, index, last));
  decipher.setAAD(segmentAad(s.aad, index, last));
  decipher.setAuthTag(segment.subarray(segment.length - TAG_BYTES));
  const plain = decipher.update(segment.subarray(0, segment.length - TAG_BYTES));
  // final() throws unless the tag authenticates: nothing of `plain` is returned before it did.
  const rest = decipher.final();
  return rest.length ? Buffer.concat([plain, rest]) : plain;
}

/** Format 2's scheme for a file with this header. */
function formatTwo(key: Buffer, aad: Buffer, header: Buffer): SegmentScheme {
  return { key: fileKey(key, header.subarray(1, 1 + FILE_SALT_BYTES), aad), prefix: header.subarray(1 + FILE_SALT_BYTES, HEADER_BYTES), aad: header };
}

/**
 * Encrypting stream (format 2): writes the header, then [ciphertext | tag] per segment. The salt
 * and nonce prefix are random; `fixed` sets them only for test vectors.
 */
export function sealStream(key: Buffer, aad: Buffer, fixed?: { salt: Buffer; noncePrefix: Buffer }): Transform {
  const salt = fixed?.salt ?? randomBytes(FILE_SALT_BYTES);
  const prefix = fixed?.noncePrefix ?? randomBytes(PREFIX_BYTES);
  if (salt.length !== FILE_SALT_BYTES || prefix.length !== PREFIX_BYTES) throw new Error('bad salt or nonce prefix length');
  const header = Buffer.concat([Buffer.from([FILE_FORMAT]), salt, prefix]);
  const scheme = formatTwo(key, aad, header);
  // Chunks wait in a list until more than a segment has arrived (only the flush knows which
  // segment is the last, and the last flag is part of its nonce); a segment is then sealed from
  // the list's front, piece by piece, without joining.
  const held: Buffer[] = [];
  let first = 0;
  let heldBytes = 0;
  let index = 0;
  /** The next `n` held bytes, as pieces (the last piece may be part of a chunk). */
  const take = (n: number): Buffer[] => {
    const pieces: Buffer[] = [];
    heldBytes -= n;
    while (n > 0) {
      const chunk = held[first]!;
      if (chunk.length <= n) {
        pieces.push(chunk);
        held[first] = undefined as never;
        first += 1;
        n -= chunk.length;
      } else {
        pieces.push(chunk.subarray(0, n));
        held[first] = chunk.subarray(n);
        n = 0;
      }
    }
    if (first === held.length) {
      held.length = 0;
      first = 0;
    } else if (first > 1024) {
      // A chunk partly taken stays at the front: drop the consumed slots now and then, or a
      // long stream (a backup) would grow the list by a slot per chunk.
      held.splice(0, first);
      first = 0;
    }
    return pieces;
  };
  return new Transform({
    construct(cb) {
      this.push(header);
      cb();
    },
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      held.push(chunk);
      heldBytes += chunk.length;
      // Keep at least one byte back: only the flush knows which segment is the last.
      while (heldBytes > SEGMENT_BYTES) {
        sealSegment(scheme, index, false, take(SEGMENT_BYTES), (b) => this.push(b));
        index += 1;
      }
      cb();
    },
    flush(cb) {
      sealSegment(scheme, index, true, take(heldBytes), (b) => this.push(b));
      cb();
    },
  });
}

/**
 * Decrypting stream for both file formats; fails on any tampering, truncation or reordering and
 * never releases bytes of a segment that did not authenticate. The format is settled on the first
 * segment: it is buffered whole (or to the end of a shorter file) before anything is released.
 */
/**
 * Sealed bytes that do not open: damaged, cut short, or sealed for another context or key. Its
 * own type, so that a reader can tell a stored object that will never open (retrying is useless)
 * from a storage or network failure (worth retrying).
 */
export class CiphertextIntegrityError extends Error {
  override name = 'CiphertextIntegrityError';
}

const integrity = (err: unknown) => new CiphertextIntegrityError(`the sealed bytes do not open: ${(err as Error).message}`);

export function openStream(key: Buffer, aad: Buffer): Transform {
  let scheme: SegmentScheme | undefined;
  let pending: Buffer = Buffer.alloc(0);
  let index = 0;
  const formatOne = (bytes: Buffer): SegmentScheme => ({ key, prefix: Buffer.from(bytes.subarray(0, PREFIX_BYTES)), aad });

  /** Decides the format from the first segment; returns its plaintext and the bytes after it. */
  const first = (bytes: Buffer, ended: boolean): { plain: Buffer; rest: Buffer; last: boolean } => {
    const attempt = (s: SegmentScheme, headerBytes: number) => {
      const body = bytes.subarray(headerBytes);
      const last = ended && body.length <= SEALED_SEGMENT;
      if (!last && body.length <= SEALED_SEGMENT) throw new Error('ciphertext truncated');
      const segment = last ? body : body.subarray(0, SEALED_SEGMENT);
      const plain = openSegment(s, 0, last, segment);
      scheme = s;
      return { plain, rest: body.subarray(segment.length), last };
    };
    if (bytes.length < PREFIX_BYTES) throw new Error('ciphertext truncated');
    if (bytes[0] === FILE_FORMAT && bytes.length >= HEADER_BYTES) {
      try {
        return attempt(formatTwo(key, aad, Buffer.from(bytes.subarray(0, HEADER_BYTES))), HEADER_BYTES);
      } catch {
        // A format-1 file whose random prefix starts with 0x02, or a damaged file: format 1 decides.
      }
    }
    return attempt(formatOne(bytes), PREFIX_BYTES);
  };

  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      try {
        if (!scheme) {
          pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
          // Enough for format 2's header and a whole segment followed by more: not the last one in either format.
          if (pending.length <= HEADER_BYTES + SEALED_SEGMENT) return cb();
          const { plain, rest } = first(pending, false);
          this.push(plain);
          pending = Buffer.alloc(0);
          chunk = rest;
          index = 1;
        }
        // `pending` (at most one sealed segment, kept because it might be the last) is completed
        // from the chunk's head; the chunk's whole segments are opened where they lie. Joining
        // each chunk onto what was pending copied every byte read once more.
        let at = 0;
        if (pending.length + chunk.length <= SEALED_SEGMENT) {
          pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
          return cb();
        }
        if (pending.length) {
          at = SEALED_SEGMENT - pending.length;
          this.push(openSegment(scheme!, index, false, at ? Buffer.concat([pending, chunk.subarray(0, at)]) : pending));
          index += 1;
        }
        while (chunk.length - at > SEALED_SEGMENT) {
          this.push(openSegment(scheme!, index, false, chunk.subarray(at, at + SEALED_SEGMENT)));
          index += 1;
          at += SEALED_SEGMENT;
        }
        pending = chunk.subarray(at);
        cb();
      } catch (err) {
        cb(integrity(err));
      }
    },
    flush(cb) {
      try {
        if (!scheme) {
          const { plain, rest, last } = first(pending, true);
          this.push(plain);
          if (last) return cb();
          // Format 1 only: its shorter header leaves a short last segment after a whole first one.
          pending = rest;
          index = 1;
        }
        this.push(openSegment(scheme!, index, true, pending));
        cb();
      } catch (err) {
        cb(integrity(err));
      }
    },
  });
}
