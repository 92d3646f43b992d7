import type { Transform } from 'node:stream';
import { constants, createGunzip, createGzip, createZstdCompress, createZstdDecompress } from 'node:zlib';
import type { Compression, TableEntry } from './manifest';

/**
 * The compression of backup objects. New generations use zstd at level 1: on the bench's binary
 * COPY it took about two thirds of gzip level 1's CPU time and wrote ~20% smaller objects (README:
 * Backups). The work runs on libuv's threads either way. Reading still understands gzip, the
 * format of every generation written before, for as long as those are kept.
 */
export const WRITE_COMPRESSION: Compression = 'zstd';

/**
 * Output buffers of 256 KiB instead of zlib's 16 KiB: every buffer is one trip to libuv's thread
 * pool and back, and a restore decompressing 36 MiB in 16 KiB pieces made ~2,300 of them.
 */
const CHUNK = 256 * 1024;

export function compressor(kind: Compression = WRITE_COMPRESSION): Transform {
  // Level 1 for both: higher levels made no smaller objects of this data, only slower ones.
  return kind === 'gzip' ? createGzip({ level: 1, chunkSize: CHUNK }) : createZstdCompress({ chunkSize: CHUNK, params: { [constants.ZSTD_c_compressionLevel]: 1 } });
}

/** The decompressor of a stored table object: its manifest entry says which (none said: gzip). */
export function decompressor(t: Pick<TableEntry, 'compression'>): Transform {
  const kind = t.compression ?? 'gzip';
  if (kind === 'zstd') return createZstdDecompress({ chunkSize: CHUNK });
  if (kind === 'gzip') return createGunzip({ chunkSize: CHUNK });
  throw new Error(`unknown compression ${String(kind)} in the manifest`);
}
