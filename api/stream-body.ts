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
export function sendStream(ctx: Context, body: Readable): void {
  const res = ctx.res;
  ctx.respond = false;
  if (ctx.method === 'HEAD') {
    body.destroy();
    res.end();
    return;
  }
  const socket = new Writable({
    write(chunk: Buffer, _encoding, done) {
      // The write's callback runs once the socket has the bytes (or failed): only then is the
      // chunk no one's any more. On failure it is left to the collector.
      const more = res.write(chunk, (err) => {
        if (!err) written(chunk);
      });
      if (more) return done();
      const go = () => {
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
    .finally(() => res.off('close', closedEarly));
}
