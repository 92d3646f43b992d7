import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, type Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32, createDeflateRaw } from 'node:zlib';

/**
 * A local scratch file written through a cipher (the vault's encryptStream): clinic data that
 * must leave a database transaction before it may go to object storage waits here, encrypted,
 * never in clear on disk. Text is gathered into blocks of about 256 KiB before it is encrypted
 * (the cipher pays per chunk), encoded straight into a buffer. The caller removes the file (`remove`, also after a failure).
 *
 * With `deflate`, the text is deflated (raw, as a ZIP entry's data) before the cipher, and the
 * plain text's CRC-32, SHA-256 and size are taken on the way: the file is then a ZIP entry
 * prepared ahead, which `ZipWriter.addDeflated` copies into an archive without compressing it a
 * second time. Deflating runs on libuv's thread pool, beside the thread producing the text.
 */
const BLOCK = 256 * 1024;

export interface SealedTempFileSummary {
  /** Bytes written, before compression and encryption. */
  bytes: number;
  /** With `deflate`: the deflated size, CRC-32 and SHA-256 of the plain text. */
  compressedBytes?: number;
  crc?: number;
  sha256?: string;
}

export class SealedTempFile {
  /** Text is encoded straight into this block (no joined strings); handed on when full. */
  private block: Buffer = Buffer.allocUnsafe(BLOCK);
  private used = 0;
  /**
   * Deflated files only: blocks zlib has consumed (it copies its input into its own window), to
   * be filled again. A new 256 KiB block per flush was garbage outside V8's heap, and a records
   * pass writes a few thousand of them.
   */
  private readonly spare: Buffer[] = [];
  private plainBytes = 0;
  private crc = 0;
  private compressed = 0;
  private readonly hash;
  private readonly head: Transform;
  private readonly written: Promise<void>;

  private constructor(
    readonly path: string,
    private readonly cipher: Transform,
    deflateLevel: number | undefined,
  ) {
    const sink = createWriteStream(path, { mode: 0o600 });
    if (deflateLevel === undefined) {
      this.hash = undefined;
      this.head = cipher;
      this.written = pipeline(cipher, sink);
    } else {
      this.hash = createHash('sha256');
      this.head = createDeflateRaw({ level: deflateLevel, chunkSize: 64 * 1024 });
      const count = new Transform({
        transform: (chunk: Buffer, _enc, done) => {
          this.compressed += chunk.length;
          done(null, chunk);
        },
      });
      this.written = pipeline(this.head, count, cipher, sink);
    }
    // Surfaced by write()/close(); without a listener here an early failure would be unhandled.
    this.written.catch(() => undefined);
  }

  static async create(cipher: Transform, opts: { dir?: string; deflate?: number } = {}): Promise<SealedTempFile> {
    const dir = opts.dir ?? path.join(os.tmpdir(), 'forclinic-exports');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return new SealedTempFile(path.join(dir, randomUUID()), cipher, opts.deflate);
  }

  /**
   * Adds text; returns a promise only when a block went out and must be waited for. An export
   * writes millions of rows, and an async function per row cost more than the row itself.
   */
  write(text: string): Promise<void> | undefined {
    // UTF-8 needs at most 3 bytes per UTF-16 unit: if that might not fit, the block goes first.
    if (this.used + text.length * 3 <= BLOCK) {
      this.used += this.block.write(text, this.used, 'utf8');
      return undefined;
    }
    const sent = this.flush();
    if (text.length * 3 > BLOCK) return sent.then(() => this.send(Buffer.from(text, 'utf8')));
    this.used = this.block.write(text, 0, 'utf8');
    return sent;
  }

  /** Ends the file; resolves with the bytes written before compression and encryption (and, deflated, its checksums). */
  async close(): Promise<SealedTempFileSummary> {
    await this.flush();
    this.head.end();
    await this.written;
    if (!this.hash) return { bytes: this.plainBytes };
    return { bytes: this.plainBytes, compressedBytes: this.compressed, crc: this.crc >>> 0, sha256: this.hash.digest('hex') };
  }

  /** Writes everything `source` yields (instead of write()), then ends the file. */
  async drain(source: Readable): Promise<SealedTempFileSummary> {
    // A writable, not `for await`: the iterator reads whatever is buffered as one joined chunk,
    // which copied the whole archive once more (57 MiB of a 30,000-patient export's buffers).
    await pipeline(source, new Writable({ write: (chunk: Buffer, _enc, done) => void this.send(chunk).then(() => done(), done) }));
    return this.close();
  }

  /** The closed file's contents through `decipher` (the vault's decryptStream for the same context); deflated files stay deflated. */
  readBack(decipher: Transform): Readable {
    const out = new PassThrough();
    void pipeline(createReadStream(this.path, { highWaterMark: BLOCK }), decipher, out).catch((err: Error) => out.destroy(err));
    return out;
  }

  async remove(): Promise<void> {
    if (!this.head.writableEnded) this.head.destroy();
    if (!this.cipher.writableEnded) this.cipher.destroy();
    await rm(this.path, { force: true });
  }

  /** Hands the filled part of the block on and starts a new block. */
  private flush(): Promise<void> {
    if (this.used === 0) return Promise.resolve();
    const full = this.block;
    const filled = full.subarray(0, this.used);
    this.block = this.spare.pop() ?? Buffer.allocUnsafe(BLOCK);
    this.used = 0;
    // Not without deflate: the cipher keeps the tail of a chunk (up to a segment) past its write's callback.
    return this.send(filled, this.hash ? () => this.spare.push(full) : undefined);
  }

  /** `consumed` runs once the head has taken all of `chunk` and holds no reference to it. */
  private async send(chunk: Buffer, consumed?: () => void): Promise<void> {
    this.plainBytes += chunk.length;
    if (this.hash) {
      this.crc = crc32(chunk, this.crc);
      this.hash.update(chunk);
    }
    const ok = this.head.write(chunk, consumed && ((err) => !err && consumed()));
    if (!ok) await Promise.race([once(this.head, 'drain'), this.written]);
  }
}
