import { createHash } from 'node:crypto';
import { PassThrough, type Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants, crc32, createDeflateRaw, deflateRawSync } from 'node:zlib';

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
/** Below this many bytes an entry's deflated size cannot reach 4 GiB (deflate adds < 0.1%). */
const SMALL_ENOUGH = 0xf0000000;
const DIRECTORY_BLOCK = 1024 * 1024;

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
  /**
   * The central directory, serialised as each entry ends, in blocks of 1 MiB: about 100 bytes
   * per entry, instead of an object per entry on the JavaScript heap.
   */
  private readonly directory: Buffer[] = [];
  private directoryUsed = 0;
  private count = 0;
  private offset = 0;
  private busy = false;
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
    return this.count;
  }

  get bytesWritten(): number {
    return this.offset;
  }

  /**
   * Adds one entry and resolves once all of it is in `output` (entries never interleave).
   * `expectedBytes`, when known, lets an entry under 3.75 GiB skip the ZIP64 local fields.
   */
  async add(path: string, content: Readable | Buffer | string, opts: { expectedBytes?: number; level?: number } = {}): Promise<ZipEntryResult> {
    const expected = opts.expectedBytes ?? (typeof content === 'string' ? Buffer.byteLength(content) : Buffer.isBuffer(content) ? content.length : undefined);
    return this.entry(path, expected, async (head) => {
      let crc = 0;
      let size = 0;
      let compressed = 0;
      const hash = createHash('sha256');
      const level = opts.level ?? constants.Z_DEFAULT_COMPRESSION;
      if (typeof content === 'string' || Buffer.isBuffer(content)) {
        const plain = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
        crc = crc32(plain);
        size = plain.length;
        hash.update(plain);
        const deflated = this.deflateSmall(plain, level);
        compressed = deflated.length;
        return { crc, size, compressed, sha256: hash.digest('hex'), inline: [head, deflated] };
      }
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
      return { crc, size, compressed, sha256: hash.digest('hex') };
    });
  }

  /**
   * Adds an entry whose data was deflated ahead (SealedTempFile with `deflate`): its raw deflate
   * bytes are copied as they are, and `info` (taken over the plain bytes when they were deflated)
   * fills the data descriptor. The copied length must equal `info.compressedBytes`.
   */
  async addDeflated(path: string, deflated: Readable, info: { bytes: number; compressedBytes: number; crc: number; sha256: string }): Promise<ZipEntryResult> {
    return this.entry(path, info.bytes, async (head) => {
      await this.write(head);
      let copied = 0;
      await pipeline(
        deflated,
        new Writable({
          write: (chunk: Buffer, _enc, done) => {
            copied += chunk.length;
            this.write(chunk).then(() => done(), done);
          },
        }),
      );
      if (copied !== info.compressedBytes) throw new Error(`ZipWriter: ${path}: ${copied} deflated bytes, expected ${info.compressedBytes}`);
      return { crc: info.crc, size: info.bytes, compressed: copied, sha256: info.sha256 };
    });
  }

  /**
   * One entry: its local header, the data `body` writes (or returns inline, with the header, in
   * one write), the data descriptor, its central record. Entries never interleave.
   */
  private async entry(
    path: string,
    expected: number | undefined,
    body: (head: Buffer) => Promise<{ crc: number; size: number; compressed: number; sha256: string; inline?: Buffer[] }>,
  ): Promise<ZipEntryResult> {
    if (this.busy) throw new Error('ZipWriter: entries are added one at a time');
    if (path.startsWith('/') || path.split('/').includes('..') || path.includes('\\')) throw new Error(`ZipWriter: unsafe path ${path}`);
    this.busy = true;
    try {
      const name = Buffer.from(path, 'utf8');
      const flags = FLAG_DESCRIPTOR | (/^[\x20-\x7e]*$/.test(path) ? 0 : FLAG_UTF8);
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
      header.writeUInt32LE(0, 14);
      header.writeUInt32LE(zip64 ? MAX32 : 0, 18);
      header.writeUInt32LE(zip64 ? MAX32 : 0, 22);
      header.writeUInt16LE(name.length, 26);
      header.writeUInt16LE(extra.length, 28);
      const head = Buffer.concat([header, name, extra]);

      const { crc, size, compressed, sha256, inline } = await body(head);
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
      // Header, data and descriptor joined once (not the data onto the header first), in one write.
      await this.write(inline ? Buffer.concat([...inline, descriptor]) : descriptor);
      this.remember(centralRecord({ path, flags, crc: crc >>> 0, compressed, size, offset, zip64 }, this.dosTime, this.dosDate));
      return { path, bytes: size, sha256 };
    } finally {
      this.busy = false;
    }
  }

  /** Writes the central directory and ends `output`. */
  async finish(): Promise<void> {
    const start = this.offset;
    for (const [i, block] of this.directory.entries()) await this.write(i === this.directory.length - 1 ? block.subarray(0, this.directoryUsed) : block);
    const size = this.offset - start;
    const count = this.count;
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
    this.output.end();
  }

  private remember(record: Buffer): void {
    let block = this.directory[this.directory.length - 1];
    if (!block || this.directoryUsed + record.length > block.length) {
      // The full block keeps only what was written into it (never uninitialised bytes).
      if (block) this.directory[this.directory.length - 1] = block.subarray(0, this.directoryUsed);
      block = Buffer.allocUnsafe(Math.max(DIRECTORY_BLOCK, record.length));
      this.directory.push(block);
      this.directoryUsed = 0;
    }
    record.copy(block, this.directoryUsed);
    this.directoryUsed += record.length;
    this.count += 1;
  }

  /**
   * Small entries are deflated synchronously, each with a context of its own that zlib frees at
   * once: a record page takes about 20–30 µs that way, while a round trip through the thread
   * pool per entry (an async stream, flushed per entry) took 80–130 µs, most of it waiting.
   */
  private deflateSmall(plain: Buffer, level: number): Buffer {
    // The result is a view of zlib's output chunk: a default 16 KiB chunk per page was 470 MiB of
    // buffers for 30,000 record pages of about 2.5 KiB deflated each; half the text's size fits them.
    return deflateRawSync(plain, { level, chunkSize: Math.min(16 * 1024, Math.max(1024, plain.length >> 1)) });
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
