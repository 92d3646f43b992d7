/**
 * Memory of socket chunks handed on to a response, given back the moment the response has
 * written them instead of at V8's next full collection.
 *
 * Each read from a socket allocates its own buffer outside V8's heap. When a stream passes those
 * chunks on (the operation log's CSV goes from PostgreSQL's COPY straight to the HTTP response),
 * they become garbage as soon as they are written, but V8 frees such memory only when it collects
 * the small objects that hold it, and under a steady stream it collects old objects only after
 * about 64 MiB of outside memory has piled up: a 1,000,000-row export added 77 MiB to the API's
 * RSS that way. Detaching a chunk's ArrayBuffer (`transfer(0)`) frees it at once.
 *
 * That is only safe when nothing can read the chunk any more, so the bookkeeping is strict:
 * - the producer lends each piece it pushes (`lend`), and only for a chunk that owns its whole
 *   ArrayBuffer (never Buffer's shared pool);
 * - the writer reports each piece once the socket has taken it (`written`, from the write's
 *   success callback: by then libuv no longer reads it);
 * - the ArrayBuffer is detached when every lent piece of it has been written, and never if
 *   the producer pinned it (`pin`: part of it went elsewhere, e.g. back to a driver).
 * A writer that copies or joins chunks, or a producer that lends nothing, makes `written` a
 * no-op: memory is then freed by the collector as usual. Counts are kept per ArrayBuffer in a
 * WeakMap, so a stream that ends early leaves nothing behind.
 */
const lent = new WeakMap<ArrayBufferLike, number>();
const pinned = new WeakSet<ArrayBufferLike>();

/** Whether a chunk is the sole view of its memory (as a socket read's chunk is). */
export function ownsItsMemory(chunk: Buffer): boolean {
  return chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength && chunk.buffer instanceof ArrayBuffer;
}

/** One more piece of `chunk`'s memory is on its way to a writer. */
export function lend(piece: Buffer): void {
  if (pinned.has(piece.buffer)) return;
  lent.set(piece.buffer, (lent.get(piece.buffer) ?? 0) + 1);
}

/** The memory under `piece` is used elsewhere too: it is never detached. */
export function pin(piece: Buffer): void {
  pinned.add(piece.buffer);
  lent.delete(piece.buffer);
}

/** A writer has handed `piece` to the socket; the last written piece of a lent chunk frees it. */
export function written(piece: Buffer): void {
  const memory = piece.buffer;
  const n = lent.get(memory);
  if (n === undefined) return;
  if (n > 1) {
    lent.set(memory, n - 1);
    return;
  }
  lent.delete(memory);
  (memory as ArrayBuffer & { transfer(length: number): ArrayBuffer }).transfer(0);
}
