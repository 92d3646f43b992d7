import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Context } from 'koa';
import { written } from '../lib/socket-chunks';

/**
 * Sends `body` as the response (status and headers already set on `ctx`), telling
 * lib/socket-chunks.ts when each chunk has been written so that chunks lent by their producer
 * are freed at once. Koa's own streaming (`ctx.body = stream`) pipes without write callbacks,
 * so it cannot know; here the response is written by hand (`ctx.respond = false`).
 *
 * As with Koa: a HEAD request gets the headers only (the body is dropped unread); a client that
 * goes away, or a body that fails, ends the pipeline — the body is destroyed (its producer
 * stops) and so is the response, so that a client never mistakes a cut-off body for a whole
 * one. The producer reports its own failures.
 */
export interface StreamDeadlines {
  /** A client that takes none of the body for this long is cut off (it holds the producer's resources). */
  stallMs: number;
  /** The whole body must be sent within this, however slowly the client reads. */
  totalMs: number;
}

/**
 * A database export holds a connection (and an export slot) for as long as its client takes:
 * PostgreSQL's statement_timeout does not fire while its backend is blocked writing to us, so a
 * client that stops reading would hold both for as long as it keeps the socket open. These
 * deadlines end the response instead, which ends the export (README: Operation log).
 */
export const EXPORT_STREAM_DEADLINES: StreamDeadlines = { stallMs: 60_000, totalMs: 600_000 };

export function sendStream(ctx: Context, body: Readable, deadlines: StreamDeadlines = EXPORT_STREAM_DEADLINES): void {
  const res = ctx.res;
  ctx.respond = false;
  if (ctx.method === 'HEAD') {
    body.destroy();
    res.end();
    return;
  }
  const cutOff = (why: string) => () => {
    if (!res.writableFinished) res.destroy(new Error(why));
  };
  const total = setTimeout(cutOff(`the body was not taken within ${deadlines.totalMs} ms`), deadlines.totalMs);
  const socket = new Writable({
    write(chunk: Buffer, _encoding, done) {
      // The write's callback runs once the socket has the bytes (or failed): only then is the
      // chunk no one's any more. On failure it is left to the collector.
      const more = res.write(chunk, (err) => {
        if (!err) written(chunk);
      });
      if (more) return done();
      const stalled = setTimeout(cutOff(`the client took nothing for ${deadlines.stallMs} ms`), deadlines.stallMs);
      const go = () => {
        clearTimeout(stalled);
        res.off('drain', go);
        res.off('close', go);
        done(res.destroyed && !res.writableFinished ? new Error('the client closed the connection') : null);
      };
      res.on('drain', go);
      res.on('close', go);
    },
    final(done) {
      res.end(() => done());
    },
  });
  const closedEarly = () => {
    if (!res.writableFinished) socket.destroy(new Error('the client closed the connection'));
  };
  res.once('close', closedEarly);
  // Koa's pipeline listened for the response's errors; so does this one (an unheard 'error' would end the process).
  res.on('error', (err) => socket.destroy(err));
  pipeline(body, socket)
    .catch(() => {
      if (!res.destroyed) res.destroy();
    })
    .finally(() => {
      clearTimeout(total);
      res.off('close', closedEarly);
    });
}
