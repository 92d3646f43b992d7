import { Transform } from 'node:stream';

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

/**
 * RFC 4180 ends records with CRLF; PostgreSQL's `COPY … (FORMAT csv)` ends them with LF. This
 * transform turns every LF that ends a record into CRLF and leaves LFs inside quoted cells
 * alone. In RFC 4180 output every `"` either opens or closes a quoted cell or is one half of a
 * doubled `""`, so toggling on each one tracks exactly whether we are inside quotes. Quotes and
 * LFs are found with Buffer#indexOf (native), so the loop runs once per quote or record, not once
 * per byte, and no per-row objects are made.
 */
export function lfToCrlfRecords(): Transform {
  let quoted = false;
  const ends: number[] = [];
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      ends.length = 0;
      let q = quoted;
      let i = 0;
      let nextQuote = chunk.indexOf(QUOTE);
      let nextLf = chunk.indexOf(LF);
      for (;;) {
        if (q) {
          const close = chunk.indexOf(QUOTE, i);
          if (close === -1) break; // the cell goes on in the next chunk
          q = false;
          i = close + 1;
          continue;
        }
        if (nextQuote !== -1 && nextQuote < i) nextQuote = chunk.indexOf(QUOTE, i);
        if (nextLf !== -1 && nextLf < i) nextLf = chunk.indexOf(LF, i); // it was inside a cell
        if (nextLf !== -1 && (nextQuote === -1 || nextLf < nextQuote)) {
          ends.push(nextLf);
          i = nextLf + 1;
          nextLf = chunk.indexOf(LF, i);
        } else if (nextQuote !== -1) {
          q = true;
          i = nextQuote + 1;
        } else break;
      }
      quoted = q;
      if (ends.length === 0) return done(null, chunk);
      const out = Buffer.allocUnsafe(chunk.length + ends.length);
      let from = 0;
      let at = 0;
      for (const end of ends) {
        at += chunk.copy(out, at, from, end);
        out[at++] = CR;
        out[at++] = LF;
        from = end + 1;
      }
      chunk.copy(out, at, from);
      done(null, out);
    },
  });
}
