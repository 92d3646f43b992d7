import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

/** A pass-through that hashes and counts what flows by, and reports progress (for heartbeats). */
export function measure(onBytes?: (n: number) => void): Transform & { sha256(): string; bytes(): number } {
  const hash = createHash('sha256');
  let bytes = 0;
  let digest: string | undefined;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      onBytes?.(chunk.length);
      cb(null, chunk);
    },
  });
  return Object.assign(t, { sha256: () => (digest ??= hash.digest('hex')), bytes: () => bytes });
}

/** Calls `beat` at most once per `everyMs` (activity heartbeats on a busy stream). */
export function throttled(everyMs: number, beat: () => void): () => void {
  let last = 0;
  return () => {
    const now = Date.now();
    if (now - last >= everyMs) {
      last = now;
      beat();
    }
  };
}

/**
 * Gathers small chunks into blocks of about `size` bytes. COPY sends one message per row, so a
 * million rows arrive as a million tiny chunks; every later stage (hash, gzip, cipher) pays per
 * chunk, and batching first made the pipeline several times cheaper.
 */
export function batch(size = 256 * 1024): Transform {
  let parts: Buffer[] = [];
  let held = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      parts.push(chunk);
      held += chunk.length;
      if (held >= size) {
        this.push(parts.length === 1 ? parts[0] : Buffer.concat(parts, held));
        parts = [];
        held = 0;
      }
      cb();
    },
    flush(cb) {
      if (held) this.push(Buffer.concat(parts, held));
      cb();
    },
  });
}
