import { Readable } from 'node:stream';
import { lfToCrlfRecords } from '../../lib/csv';

/** The record-ending LF → CRLF transform against a byte-by-byte reference, on awkward chunkings. */
const reference = (text: string) => {
  let out = '';
  let quoted = false;
  for (const c of text) {
    if (c === '"') quoted = !quoted;
    out += c === '\n' && !quoted ? '\r\n' : c;
  }
  return out;
};

async function through(chunks: Buffer[]): Promise<string> {
  const out: Buffer[] = [];
  for await (const c of Readable.from(chunks).pipe(lfToCrlfRecords())) out.push(c as Buffer);
  return Buffer.concat(out).toString('utf8');
}

/** Splits `buf` at every position in `cuts`. */
const split = (buf: Buffer, cuts: number[]) => [...cuts, buf.length].reduce<{ at: number; parts: Buffer[] }>((acc, cut) => ({ at: cut, parts: [...acc.parts, buf.subarray(acc.at, cut)] }), { at: 0, parts: [] }).parts;

describe('lfToCrlfRecords', () => {
  const sample = [
    '1,plain,"[""admin""]","{""n"": 1}",abc\n',
    '2,"line one\nline two","say ""hi""\n",,\n',
    '3,"","""",x\n',
    '4,"ends with quote """,\n',
    '5,日本語,"改行\nあり"\n',
  ].join('');

  it('ends records with CRLF and keeps LFs inside quoted cells', async () => {
    expect(await through([Buffer.from(sample)])).toBe(reference(sample));
    expect(reference(sample)).toContain('"line one\nline two"');
  });

  it('gives the same bytes however the input is cut into chunks', async () => {
    const buf = Buffer.from(sample);
    for (let a = 1; a < buf.length; a += 1) {
      expect(await through(split(buf, [a]))).toBe(reference(sample));
    }
    // Every byte its own chunk.
    expect(await through(Array.from(buf, (b) => Buffer.from([b])))).toBe(reference(sample));
  });

  it('matches the reference on random CSV-like input', async () => {
    let seed = 42;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let round = 0; round < 200; round += 1) {
      const text = Array.from({ length: 200 }, () => ['a', ',', '"', '\n', 'x', '"', 'é'][rand(7)]).join('');
      const buf = Buffer.from(text);
      const cuts = [...new Set(Array.from({ length: 5 }, () => rand(buf.length)))].sort((x, y) => x - y).filter((c) => c > 0);
      expect(await through(split(buf, cuts))).toBe(reference(text));
    }
  });
});
