import { Transform } from 'node:stream';

/**
 * RFC 4180 ends records with CRLF; PostgreSQL's `COPY … (FORMAT csv)` ends them with LF. This
 * transform turns every LF that ends a record into CRLF and leaves LFs inside quoted cells
 * alone. In RFC 4180 output every `"` either opens or closes a quoted cell or is one half of a
 * doubled `""`, so toggling on each one tracks exactly whether we are inside quotes — one tight
 * pass over the bytes, no per-row objects.
 */
export function lfToCrlfRecords(): Transform {
  let quoted = false;
  const ends: number[] = [];
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      let q = quoted;
      ends.length = 0;
      for (let i = 0; i < chunk.length; i += 1) {
        const b = chunk[i];
        if (b === 0x22) q = !q;
        else if (b === 0x0a && !q) ends.push(i);
      }
      quoted = q;
      if (ends.length === 0) return done(null, chunk);
      const out = Buffer.allocUnsafe(chunk.length + ends.length);
      let from = 0;
      let at = 0;
      for (const end of ends) {
        at += chunk.copy(out, at, from, end);
        out[at++] = 0x0d;
        out[at++] = 0x0a;
        from = end + 1;
      }
      chunk.copy(out, at, from);
      done(null, out);
    },
  });
}
