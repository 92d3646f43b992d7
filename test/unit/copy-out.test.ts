import { EventEmitter } from 'node:events';
import { CsvCopyOut } from '../../db/copy-out';
import { written } from '../../lib/socket-chunks';

/**
 * CsvCopyOut rewrites the socket's chunks in place; what it emits must not depend on where the
 * chunks happen to be cut. A fake socket feeds the same COPY stream cut at every offset.
 */
const message = (code: string, body: Buffer) => {
  const header = Buffer.alloc(5);
  header.write(code, 0, 'latin1');
  header.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
};

/** A chunk as a socket read gives it: the only view of memory of its own. */
const socketChunk = (c: Buffer) => {
  const own = Buffer.alloc(c.length);
  c.copy(own);
  return own;
};

class FakeSocket extends EventEmitter {
  private queue: Buffer[] = [];
  readonly handedBack: Buffer[] = [];
  constructor(chunks: Buffer[]) {
    super();
    // Copies: the reader owns (and rewrites) each chunk, as it owns a socket's.
    this.queue = chunks.map(socketChunk);
    this.on('data', (c: Buffer) => this.handedBack.push(Buffer.from(c)));
  }
  read(): Buffer | null {
    return this.queue.shift() ?? null;
  }
  pause() {}
  /** pg's reader is back: what is still buffered goes to it. */
  resume() {
    for (let c = this.read(); c; c = this.read()) this.emit('data', c);
  }
}

/** Reads the COPY as the response writer does: each piece is copied out, then reported written. */
async function run(chunks: Buffer[], socket = new FakeSocket(chunks)) {
  const reader = new CsvCopyOut('copy …');
  reader.submit({ stream: socket as never, query: () => undefined });
  const out: Buffer[] = [];
  // Flowing, as a pipe reads: each pushed piece arrives as it is (a paused read() would join them).
  reader.on('data', (b: Buffer) => {
    out.push(Buffer.from(b));
    written(b);
  });
  await new Promise((resolve, reject) => reader.once('end', resolve).once('error', reject));
  await new Promise((r) => setImmediate(r));
  return { csv: Buffer.concat(out).toString('utf8'), rest: Buffer.concat(socket.handedBack) };
}

describe('CsvCopyOut', () => {
  const records = ['1,"a,b",x\n', '2,,"quote ""q"""\n', `3,${'長い'.repeat(40)}\n`, '4,last\n'];
  const notice = message('N', Buffer.from('Snotice\0\0'));
  const after = Buffer.concat([message('C', Buffer.from('COPY 4\0')), message('Z', Buffer.from('I'))]);
  const stream = Buffer.concat([
    message('H', Buffer.from([0, 0, 0])),
    message('d', Buffer.from(records[0]!)),
    message('d', Buffer.from(records[1]!)),
    notice,
    message('d', Buffer.from(records[2]!)),
    message('d', Buffer.from(records[3]!)),
    message('c', Buffer.alloc(0)),
    after,
  ]);
  const expected = records.map((r) => r.replace(/\n$/, '\r\n')).join('');

  it('emits the same CRLF records and hands back the same rest, wherever the chunks are cut', async () => {
    for (let cut = 1; cut < stream.length; cut += 1) {
      expect(await run([stream.subarray(0, cut), stream.subarray(cut)])).toEqual({ csv: expected, rest: after });
    }
    for (const size of [1, 2, 3, 5, 7, 64, 100000]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < stream.length; i += size) chunks.push(stream.subarray(i, i + size));
      expect(await run(chunks)).toEqual({ csv: expected, rest: after });
    }
  });

  it('frees each chunk once its records are written, but never the one whose rest goes back to pg', async () => {
    const chunks = [stream.subarray(0, 40), stream.subarray(40, 80), stream.subarray(80)];
    const socket = new FakeSocket(chunks);
    const read: Buffer[] = [];
    const take = socket.read.bind(socket);
    socket.read = () => {
      const c = take();
      if (c) read.push(c);
      return c;
    };
    expect(await run(chunks, socket)).toEqual({ csv: expected, rest: after });
    expect(read.map((c) => c.buffer.byteLength === 0)).toEqual([true, true, false]);
  });
});
