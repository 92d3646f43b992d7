import { Readable } from 'node:stream';
import { lend, ownsItsMemory, pin } from '../lib/socket-chunks';

/**
 * `COPY (…) TO STDOUT WITH (FORMAT csv)` as a readable stream of RFC 4180 bytes: records end in
 * CRLF. PostgreSQL sends each CSV record as one CopyData message ending in LF, so the record
 * ends are the message ends: this reader copies message bodies straight out of the socket's
 * chunks into one buffer per chunk, putting CR before each record's LF — no per-row objects,
 * no scanning of the data for quotes.
 *
 * It is a pg "submittable" (`client.query(new CsvCopyOut(sql))`): while COPY runs it reads the
 * connection's socket itself; on CopyDone, or on an error from the server, it hands the socket
 * and the bytes it has not consumed back to pg, which then finishes the query as usual.
 */
const COPY_DATA = 0x64; // 'd'
const COPY_DONE = 0x63; // 'c'
const COPY_OUT_RESPONSE = 0x48; // 'H'
const ERROR_RESPONSE = 0x45; // 'E'
/** May arrive in the middle of COPY; their bodies are skipped. */
const INTERSPERSED = new Set([0x4e /* N notice */, 0x53 /* S parameter status */, 0x41 /* A notification */, COPY_OUT_RESPONSE]);
const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');

interface PgSocket {
  read(): Buffer | null;
  pause(): void;
  resume(): void;
  listeners(event: 'data'): Array<(chunk: Buffer) => void>;
  removeListener(event: string, fn: (...args: never[]) => void): void;
  on(event: string, fn: (...args: never[]) => void): void;
}

interface PgProtocolConnection {
  stream: PgSocket;
  query(text: string): void;
}

export class CsvCopyOut extends Readable {
  private socket?: PgSocket;
  private pgOnData?: (chunk: Buffer) => void;
  private readonly onReadable = () => this.forward();
  private readonly header = Buffer.alloc(5);
  private headerBytes = 0;
  private code = 0;
  /** Body bytes of the current message still to come. */
  private left = 0;
  private wanted = false;
  private forwarding = false;
  private detached = false;

  constructor(private readonly text: string) {
    super();
  }

  /** Called by pg when this query's turn on the connection comes. */
  submit(connection: PgProtocolConnection): void {
    const socket = connection.stream;
    const listeners = socket.listeners('data');
    if (listeners.length !== 1) throw new Error('CsvCopyOut: expected pg to be the only reader of the connection');
    this.socket = socket;
    this.pgOnData = listeners[0]!;
    socket.removeListener('data', this.pgOnData);
    socket.pause();
    socket.on('readable', this.onReadable);
    connection.query(this.text);
    this.forward();
  }

  handleError(err: Error): void {
    this.destroy(err);
  }

  handleCommandComplete(): void {}

  handleReadyForQuery(): void {}

  override _read(): void {
    this.wanted = true;
    this.forward();
  }

  private forward(): void {
    if (this.forwarding || !this.wanted || !this.socket || this.detached) return;
    this.forwarding = true;
    let chunk: Buffer | null;
    while (this.wanted && !this.detached && (chunk = this.socket.read()) !== null) this.parse(chunk);
    this.forwarding = false;
  }

  /**
   * Rewrites the chunk in place: message headers out, CR before each record's LF. No output
   * buffer is allocated: a fresh 64 KiB one per socket read was garbage outside V8's heap that
   * only a full collection frees, and it showed as the export's addition to the API's RSS. The
   * writes never overtake the reads (each record whose header is in this chunk gives up 5 bytes
   * and gains 1), except for a record begun in an earlier chunk, whose tail is passed on as a
   * slice followed by a shared CRLF. The chunk is this reader's alone (the socket allocates one
   * per read); what is handed back to pg at the end lies past every byte written.
   */
  private parse(chunk: Buffer): void {
    // Pieces of a chunk that is the socket's own are lent (lib/socket-chunks.ts): the response
    // writer frees the chunk once all of them are written.
    const lendable = ownsItsMemory(chunk);
    const pass = (piece: Buffer) => {
      if (lendable && piece.length > 0) lend(piece);
      return this.push(piece);
    };
    let o = 0;
    let i = 0;
    /** Start of the region rewritten in place (after a slice pushed as is). */
    let from = 0;
    while (i < chunk.length) {
      if (this.left === 0) {
        if (this.headerBytes === 0 && chunk[i] === ERROR_RESPONSE) return this.finish(chunk.subarray(from, o), chunk.subarray(i), false);
        const n = Math.min(5 - this.headerBytes, chunk.length - i);
        chunk.copy(this.header, this.headerBytes, i, i + n);
        this.headerBytes += n;
        i += n;
        if (this.headerBytes < 5) break;
        this.headerBytes = 0;
        this.code = this.header[0]!;
        this.left = this.header.readUInt32BE(1) - 4;
        if (this.code === COPY_DONE) return this.finish(chunk.subarray(from, o), chunk.subarray(i + this.left), true);
        if (this.code !== COPY_DATA && !INTERSPERSED.has(this.code)) {
          // Not a COPY message: COPY is over; pg reads it from its start.
          return this.finish(chunk.subarray(from, o), Buffer.concat([this.header, chunk.subarray(i)]), true);
        }
        continue;
      }
      const n = Math.min(this.left, chunk.length - i);
      if (this.code === COPY_DATA) {
        const ends = n === this.left && chunk[i + n - 1] === LF;
        if (ends && o === i) {
          // The tail of a record from the previous chunk, at this chunk's start: no room for the CR.
          pass(chunk.subarray(i, i + n - 1));
          this.push(CRLF);
          o = from = i + n;
        } else if (ends) {
          chunk.copyWithin(o, i, i + n - 1);
          o += n - 1;
          chunk[o++] = CR;
          chunk[o++] = LF;
        } else {
          chunk.copyWithin(o, i, i + n);
          o += n;
        }
      }
      i += n;
      this.left -= n;
    }
    if (o > from) this.wanted = pass(chunk.subarray(from, o));
  }

  /** Hands the socket and the unread bytes back to pg; `ended` when COPY completed. */
  private finish(done: Buffer, rest: Buffer, ended: boolean): void {
    // This chunk's unread bytes go back to pg: its memory must outlive every write.
    pin(done);
    pin(rest);
    if (done.length > 0) this.push(done);
    this.detached = true;
    const socket = this.socket!;
    socket.removeListener('readable', this.onReadable);
    socket.on('data', this.pgOnData!);
    if (rest.length > 0) this.pgOnData!(rest);
    process.nextTick(() => socket.resume());
    if (ended) this.push(null);
  }
}
