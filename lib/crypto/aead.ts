import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * AES-256-GCM. Small values are sealed whole; files are sealed in 64 KiB segments, each with its
 * own tag and nonce (a fixed random prefix plus the segment number, with a last-segment flag in
 * the associated data), so a reader never releases unauthenticated bytes and segments can be
 * neither reordered, dropped nor cut off at the end without detection.
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
  return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
}

export const SEGMENT_BYTES = 64 * 1024;
const PREFIX_BYTES = 7; // + 4-byte counter + 1-byte last flag = 12-byte nonce

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

/** Encrypting stream: writes the nonce prefix, then [ciphertext | tag] per segment. */
export function sealStream(key: Buffer, aad: Buffer): Transform {
  const prefix = randomBytes(PREFIX_BYTES);
  let pending: Buffer = Buffer.alloc(0);
  let index = 0;
  const emit = (t: Transform, chunk: Buffer, last: boolean) => {
    const cipher = createCipheriv('aes-256-gcm', key, nonce(prefix, index, last));
    cipher.setAAD(segmentAad(aad, index, last));
    t.push(Buffer.concat([cipher.update(chunk), cipher.final(), cipher.getAuthTag()]));
    index += 1;
  };
  return new Transform({
    construct(cb) {
      this.push(prefix);
      cb();
    },
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      // Keep at least one byte back: only the flush knows which segment is the last.
      while (pending.length > SEGMENT_BYTES) {
        emit(this, pending.subarray(0, SEGMENT_BYTES), false);
        pending = pending.subarray(SEGMENT_BYTES);
      }
      cb();
    },
    flush(cb) {
      emit(this, pending, true);
      cb();
    },
  });
}

/** Decrypting stream for sealStream's output; fails on any tampering, truncation or reordering. */
export function openStream(key: Buffer, aad: Buffer): Transform {
  let prefix: Buffer | undefined;
  let pending: Buffer = Buffer.alloc(0);
  let index = 0;
  const SEALED = SEGMENT_BYTES + TAG_BYTES;
  const decrypt = (segment: Buffer, last: boolean) => {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce(prefix!, index, last));
    decipher.setAAD(segmentAad(aad, index, last));
    decipher.setAuthTag(segment.subarray(segment.length - TAG_BYTES));
    const out = Buffer.concat([decipher.update(segment.subarray(0, segment.length - TAG_BYTES)), decipher.final()]);
    index += 1;
    return out;
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      try {
        pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        if (!prefix) {
          if (pending.length < PREFIX_BYTES) return cb();
          prefix = Buffer.from(pending.subarray(0, PREFIX_BYTES));
          pending = pending.subarray(PREFIX_BYTES);
        }
        while (pending.length > SEALED) {
          this.push(decrypt(pending.subarray(0, SEALED), false));
          pending = pending.subarray(SEALED);
        }
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
    flush(cb) {
      try {
        if (!prefix || pending.length < TAG_BYTES) throw new Error('ciphertext truncated');
        this.push(decrypt(pending, true));
        cb();
      } catch (err) {
        cb(err as Error);
      }
    },
  });
}
