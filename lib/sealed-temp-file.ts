import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, type Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * A local scratch file written through a cipher (the vault's encryptStream): clinic data that
 * must leave a database transaction before it may go to object storage waits here, encrypted,
 * never in clear on disk. Text is gathered into blocks of about 256 KiB before it is encrypted
 * (the cipher pays per chunk). The caller removes the file (`remove`, also after a failure).
 */
const BLOCK = 256 * 1024;

export class SealedTempFile {
  private pending: string[] = [];
  private pendingLength = 0;
  private plainBytes = 0;
  private readonly written: Promise<void>;

  private constructor(
    readonly path: string,
    private readonly cipher: Transform,
  ) {
    this.written = pipeline(cipher, createWriteStream(path, { mode: 0o600 }));
    // Surfaced by write()/close(); without a listener here an early failure would be unhandled.
    this.written.catch(() => undefined);
  }

  static async create(cipher: Transform, dir = path.join(os.tmpdir(), 'forclinic-exports')): Promise<SealedTempFile> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return new SealedTempFile(path.join(dir, randomUUID()), cipher);
  }

  async write(text: string): Promise<void> {
    this.pending.push(text);
    this.pendingLength += text.length;
    if (this.pendingLength >= BLOCK) await this.flush();
  }

  /** Ends the file; resolves with the bytes written before encryption. */
  async close(): Promise<{ bytes: number }> {
    await this.flush();
    this.cipher.end();
    await this.written;
    return { bytes: this.plainBytes };
  }

  /** The closed file's contents through `decipher` (the vault's decryptStream for the same context). */
  readBack(decipher: Transform): Readable {
    const out = new PassThrough();
    void pipeline(createReadStream(this.path), decipher, out).catch((err: Error) => out.destroy(err));
    return out;
  }

  async remove(): Promise<void> {
    if (!this.cipher.writableEnded) this.cipher.destroy();
    await rm(this.path, { force: true });
  }

  private async flush(): Promise<void> {
    if (this.pendingLength === 0) return;
    const block = Buffer.from(this.pending.join(''), 'utf8');
    this.pending = [];
    this.pendingLength = 0;
    this.plainBytes += block.length;
    if (!this.cipher.write(block)) await Promise.race([once(this.cipher, 'drain'), this.written]);
  }
}
