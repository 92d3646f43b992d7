import { createHash } from 'node:crypto';
import { PassThrough, type Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants, crc32, createDeflateRaw } from 'node:zlib';

/**
 * A streaming ZIP writer (PKWARE APPNOTE 6.3): entries are deflated one after another straight
 * into `output`, so nothing but the central directory (about 100 bytes per entry) is ever held in
 * memory. Sizes and CRC follow each entry in a data descriptor; ZIP64 records are written only
 * where a size, an offset or the number of entries needs them (a clinic with 100,000 patients has
 * more than 65,535 entries), so small archives stay plain ZIP for every tool.
 *
 * Written here rather than taken from npm: yazl (the streaming writer on the registry) scans its
 * whole entry list from the start on every step, quadratic in the number of entries, and fflate
 * writes no ZIP64. The reader side is tested with yauzl, an independent implementation.
 *
 * Each entry's SHA-256 and size are computed over its uncompressed bytes on the way through, for
 * the archive's manifest.
 */
const LOCAL_HEADER = 0x04034b50;
const DATA_DESCRIPTOR = 0x08074b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL = 0x06054b50;
const ZIP64_END = 0x06064b50;
const ZIP64_LOCATOR = 0x07064b50;
const FLAG_DESCRIPTOR = 0x0008;
const FLAG_UTF8 = 0x0800;
const DEFLATE = 8;
const MAX32 = 0xffffffff;
const FINAL_EMPTY_BLOCK = Buffer.from([0x03, 0x00]);
/** Below this many bytes an entry's deflated size cannot reach 4 GiB (deflate adds < 0.1%). */
const SMALL_ENOUGH = 0xf0000000;

export interface ZipEntryResult {
  path: string;
  bytes: number;
  sha256: string;
}

interface CentralRecord {
  path: string;
  flags: number;
  crc: number;
  compressed: number;
  size: number;
  offset: number;
  zip64: boolean;
}

export class ZipWriter {
  readonly output = new PassThrough({ highWaterMark: 256 * 1024 });
  private readonly central: CentralRecord[] = [];
  private offset = 0;
  private busy = false;
  private readonly engines = new Map<number, { stream: ReturnType<typeof createDeflateRaw>; out: Buffer[] }>();
  private readonly dosTime: number;
  private readonly dosDate: number;

  /**
   * `modified`: the wall-clock time every entry carries (ZIP stores no zone: pass local time parts).
   * `zip64End`: write the ZIP64 end records even when nothing needs them (tests reach that path
   * without 65,536 entries).
   */
  constructor(
    modified: { year: number; month: number; day: number; hour: number; minute: number; second: number },
    private readonly opts: { zip64End?: boolean } = {},
  ) {
    this.dosTime = (modified.hour << 11) | (modified.minute << 5) | Math.floor(modified.second / 2);
    this.dosDate = ((Math.max(1980, modified.year) - 1980) << 9) | (modified.month << 5) | modified.day;
  }

  get entries(): number {
    return this.central.length;
  }

  get bytesWritten(): number {
    return this.offset;
  }

  /**
   * Adds one entry and resolves once all of it is in `output` (entries never interleave).
   * `expectedBytes`, when known, lets an entry under 3.75 GiB skip the ZIP64 local fields.
   */
  async add(path: string, content: Readable | Buffer | string, opts: { expectedBytes?: number; level?: number } = {}): Promise<ZipEntryResult> {
    if (this.busy) throw new Error('ZipWriter: entries are added one at a time');
    if (path.startsWith('/') || path.split('/').includes('..') || path.includes('\\')) throw new Error(`ZipWriter: unsafe path ${path}`);
    this.busy = true;
    try {
      // The central directory keeps the path as a string: a small Buffer is a slice of Node's
      // shared 8 KiB pool, and keeping one per entry kept every pool slab alive with it.
      const name = Buffer.from(path, 'utf8');
      const flags = FLAG_DESCRIPTOR | (/^[\x20-\x7e]*$/.test(path) ? 0 : FLAG_UTF8);
      const expected = opts.expectedBytes ?? (typeof content === 'string' ? Buffer.byteLength(content) : Buffer.isBuffer(content) ? content.length : undefined);
      const zip64 = expected === undefined || expected >= SMALL_ENOUGH;
      const offset = this.offset;
      const extra = zip64 ? zip64Extra([0, 0]) : Buffer.alloc(0);
      const header = Buffer.alloc(30);
      header.writeUInt32LE(LOCAL_HEADER, 0);
      header.writeUInt16LE(zip64 ? 45 : 20, 4);
      header.writeUInt16LE(flags, 6);
      header.writeUInt16LE(DEFLATE, 8);
      header.writeUInt16LE(this.dosTime, 10);
      header.writeUInt16LE(this.dosDate, 12);
      // CRC and sizes follow in the data descriptor (flag bit 3).
      header.writeUInt32LE(0, 14);
      header.writeUInt32LE(zip64 ? MAX32 : 0, 18);
      header.writeUInt32LE(zip64 ? MAX32 : 0, 22);
      header.writeUInt16LE(name.length, 26);
      header.writeUInt16LE(extra.length, 28);
      const head = Buffer.concat([header, name, extra]);

      let crc = 0;
      let size = 0;
      let compressed = 0;
      const hash = createHash('sha256');
      const level = opts.level ?? constants.Z_DEFAULT_COMPRESSION;
      let inline: Buffer | undefined;
      if (typeof content === 'string' || Buffer.isBuffer(content)) {
        // Small documents (one per patient): deflated whole, and header, data and descriptor go
        // out as one write.
        const plain = Buffer.from(content);
        crc = crc32(plain);
        size = plain.length;
        hash.update(plain);
        inline = await this.deflateSmall(plain, level);
        compressed = inline.length;
      } else {
        await this.write(head);
        const inspect = new Transform({
          transform(chunk: Buffer, _enc, done) {
            crc = crc32(chunk, crc);
            size += chunk.length;
            hash.update(chunk);
            done(null, chunk);
          },
        });
        const sink = new Writable({
          write: (chunk: Buffer, _enc, done) => {
            compressed += chunk.length;
            this.write(chunk).then(() => done(), done);
          },
        });
        await pipeline(content, inspect, createDeflateRaw({ level }), sink);
      }
      // (write() counts every byte it writes into the offset.)
      if (!zip64 && compressed > MAX32) throw new Error(`ZipWriter: ${path} grew past 4 GiB without ZIP64`);

      const descriptor = Buffer.alloc(zip64 ? 24 : 16);
      descriptor.writeUInt32LE(DATA_DESCRIPTOR, 0);
      descriptor.writeUInt32LE(crc >>> 0, 4);
      if (zip64) {
        descriptor.writeBigUInt64LE(BigInt(compressed), 8);
        descriptor.writeBigUInt64LE(BigInt(size), 16);
      } else {
        descriptor.writeUInt32LE(compressed, 8);
        descriptor.writeUInt32LE(size, 12);
      }
      await this.write(inline ? Buffer.concat([head, inline, descriptor]) : descriptor);
      this.central.push({ path, flags, crc: crc >>> 0, compressed, size, offset, zip64 });
      return { path, bytes: size, sha256: hash.digest('hex') };
    } finally {
      this.busy = false;
    }
  }

  /** Writes the central directory and ends `output`. */
  async finish(): Promise<void> {
    const start = this.offset;
    // Written in blocks: one write per record would be 100,000 writes for a large clinic.
    let block: Buffer[] = [];
    let held = 0;
    for (const e of this.central) {
      const record = centralRecord(e, this.dosTime, this.dosDate);
      block.push(record);
      held += record.length;
      if (held >= 256 * 1024) {
        await this.write(Buffer.concat(block));
        block = [];
        held = 0;
      }
    }
    if (held) await this.write(Buffer.concat(block));
    const size = this.offset - start;
    const count = this.central.length;
    const needs64 = this.opts.zip64End === true || count >= 0xffff || start >= MAX32 || size >= MAX32;
    if (needs64) {
      const end64At = this.offset;
      const end64 = Buffer.alloc(56);
      end64.writeUInt32LE(ZIP64_END, 0);
      end64.writeBigUInt64LE(44n, 4);
      end64.writeUInt16LE(45 | (3 << 8), 12);
      end64.writeUInt16LE(45, 14);
      end64.writeUInt32LE(0, 16);
      end64.writeUInt32LE(0, 20);
      end64.writeBigUInt64LE(BigInt(count), 24);
      end64.writeBigUInt64LE(BigInt(count), 32);
      end64.writeBigUInt64LE(BigInt(size), 40);
      end64.writeBigUInt64LE(BigInt(start), 48);
      const locator = Buffer.alloc(20);
      locator.writeUInt32LE(ZIP64_LOCATOR, 0);
      locator.writeUInt32LE(0, 4);
      locator.writeBigUInt64LE(BigInt(end64At), 8);
      locator.writeUInt32LE(1, 16);
      await this.write(Buffer.concat([end64, locator]));
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(END_OF_CENTRAL, 0);
    end.writeUInt16LE(0, 4);
    end.writeUInt16LE(0, 6);
    end.writeUInt16LE(needs64 ? 0xffff : count, 8);
    end.writeUInt16LE(needs64 ? 0xffff : count, 10);
    end.writeUInt32LE(needs64 ? MAX32 : size, 12);
    end.writeUInt32LE(needs64 ? MAX32 : start, 16);
    end.writeUInt16LE(0, 20);
    await this.write(end);
    for (const { stream } of this.engines.values()) stream.destroy();
    this.output.end();
  }

  /**
   * Small entries share one long-lived deflate engine instead of one zlib context each (100,000
   * record pages made ~100 MiB of contexts waiting for a collection). A full flush ends each entry
   * byte-aligned with the dictionary reset, so no entry refers to another's bytes; an empty final
   * block (fixed Huffman: 0x03 0x00) then closes it as a complete deflate stream of its own.
   */
  private async deflateSmall(plain: Buffer, level: number): Promise<Buffer> {
    let engine = this.engines.get(level);
    if (!engine) {
      // Output buffers of 4 KiB, not zlib's 16 KiB: a page deflates to a few KiB, and every buffer
      // the engine hands out is garbage outside V8's heap until the next collection.
      const created = createDeflateRaw({ level, chunkSize: 4 * 1024 });
      const out: Buffer[] = [];
      created.on('data', (c: Buffer) => out.push(c));
      engine = { stream: created, out };
      this.engines.set(level, engine);
    }
    const { stream, out } = engine;
    stream.write(plain);
    await new Promise<void>((resolve) => stream.flush(constants.Z_FULL_FLUSH, () => resolve()));
    // 'data' for the flushed bytes is emitted before the flush's callback runs.
    const packed = Buffer.concat([...out, FINAL_EMPTY_BLOCK]);
    out.length = 0;
    return packed;
  }

  private async write(buf: Buffer): Promise<void> {
    if (this.output.destroyed) throw new Error('ZipWriter: output closed');
    this.offset += buf.length;
    if (!this.output.write(buf)) await new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        this.output.off('drain', onDrain).off('error', done).off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => done();
      // A reader that went away (the upload failed) closes the output without draining it.
      const onClose = () => done(new Error('ZipWriter: output closed'));
      this.output.once('drain', onDrain).once('error', done).once('close', onClose);
    });
  }
}

/** The ZIP64 extended information field with the given 8-byte values, in the APPNOTE's order. */
function zip64Extra(values: number[]): Buffer {
  const buf = Buffer.alloc(4 + 8 * values.length);
  buf.writeUInt16LE(0x0001, 0);
  buf.writeUInt16LE(8 * values.length, 2);
  values.forEach((v, i) => buf.writeBigUInt64LE(BigInt(v), 4 + 8 * i));
  return buf;
}

function centralRecord(e: CentralRecord, dosTime: number, dosDate: number): Buffer {
  const name = Buffer.from(e.path, 'utf8');
  // A value that does not fit goes into the ZIP64 field (uncompressed, compressed, offset order).
  const big: number[] = [];
  const sizeBig = e.zip64 || e.size >= MAX32;
  const compressedBig = e.zip64 || e.compressed >= MAX32;
  const offsetBig = e.offset >= MAX32;
  if (sizeBig) big.push(e.size);
  if (compressedBig) big.push(e.compressed);
  if (offsetBig) big.push(e.offset);
  const extra = big.length ? zip64Extra(big) : Buffer.alloc(0);
  const h = Buffer.alloc(46);
  h.writeUInt32LE(CENTRAL_HEADER, 0);
  h.writeUInt16LE((big.length ? 45 : 20) | (3 << 8), 4); // made by: Unix, so the mode below is read
  h.writeUInt16LE(big.length || e.zip64 ? 45 : 20, 6);
  h.writeUInt16LE(e.flags, 8);
  h.writeUInt16LE(DEFLATE, 10);
  h.writeUInt16LE(dosTime, 12);
  h.writeUInt16LE(dosDate, 14);
  h.writeUInt32LE(e.crc, 16);
  h.writeUInt32LE(compressedBig ? MAX32 : e.compressed, 20);
  h.writeUInt32LE(sizeBig ? MAX32 : e.size, 24);
  h.writeUInt16LE(name.length, 28);
  h.writeUInt16LE(extra.length, 30);
  h.writeUInt16LE(0, 32);
  h.writeUInt16LE(0, 34);
  h.writeUInt16LE(0, 36);
  h.writeUInt32LE((0o100644 << 16) >>> 0, 38); // a regular file, rw-r--r--
  h.writeUInt32LE(offsetBig ? MAX32 : e.offset, 42);
  return Buffer.concat([h, name, extra]);
}
