import { lend, ownsItsMemory, pin, written } from '../../lib/socket-chunks';

/** A chunk as a socket read gives it: the only view of its own memory (never Buffer's pool). */
const socketChunk = (text: string) => {
  const chunk = Buffer.alloc(Buffer.byteLength(text));
  chunk.write(text);
  return chunk;
};
const detached = (b: Buffer) => b.buffer.byteLength === 0;

describe('socket chunks lent to a response', () => {
  it('frees a chunk only when every lent piece of it is written', () => {
    const chunk = socketChunk('record one\r\nrecord two\r\n');
    const [a, b] = [chunk.subarray(0, 12), chunk.subarray(12)];
    lend(a);
    lend(b);
    written(a);
    expect(detached(chunk)).toBe(false);
    expect(b.toString()).toBe('record two\r\n');
    written(b);
    expect(detached(chunk)).toBe(true);
  });

  it('never frees what was not lent, or what the producer pinned', () => {
    const notLent = socketChunk('plain');
    written(notLent);
    expect(detached(notLent)).toBe(false);

    const handedBack = socketChunk('last records, then what pg reads');
    lend(handedBack.subarray(0, 12));
    pin(handedBack.subarray(12));
    lend(handedBack.subarray(0, 4)); // a piece lent after the pin is not counted either
    written(handedBack.subarray(0, 12));
    written(handedBack.subarray(0, 4));
    expect(detached(handedBack)).toBe(false);
    expect(handedBack.toString()).toBe('last records, then what pg reads');
  });

  it('recognises only chunks that are the sole view of their memory', () => {
    expect(ownsItsMemory(socketChunk('x'.repeat(100)))).toBe(true);
    expect(ownsItsMemory(Buffer.from('pooled'))).toBe(false); // a slice of Buffer's shared pool
    expect(ownsItsMemory(socketChunk('x'.repeat(100)).subarray(1))).toBe(false);
  });
});
