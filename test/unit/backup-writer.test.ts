import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { compressor, decompressor } from '../../lib/backup/compression';
import { childExecArgv, lowerPriority } from '../../lib/backup/write-process';
import { copiedRows } from '../../db/backup-snapshot';

async function through(input: Buffer, ...stages: NodeJS.ReadWriteStream[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from([input]), ...(stages as [NodeJS.ReadWriteStream]), new Writable({ write: (c: Buffer, _e, cb) => (out.push(c), cb()) }));
  return Buffer.concat(out);
}

describe('backup object compression', () => {
  const data = Buffer.from('PGCOPY\n\xff\r\n\0'.repeat(5_000), 'latin1');

  it('reads an entry that names no compression as gzip: every generation written before zstd', async () => {
    expect(await through(gzipSync(data), decompressor({}))).toEqual(data);
  });

  it('round-trips zstd (the default) and gzip, each read by what its manifest entry names', async () => {
    for (const kind of ['zstd', 'gzip'] as const) {
      const packed = await through(data, compressor(kind));
      expect(packed.length).toBeLessThan(data.length / 10);
      expect(await through(packed, decompressor({ compression: kind }))).toEqual(data);
    }
    // zstd's frame magic number: the default writer is zstd.
    expect((await through(data, compressor())).subarray(0, 4)).toEqual(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
  });

  it('refuses a compression it does not know instead of guessing', () => {
    expect(() => decompressor({ compression: 'brotli' as never })).toThrow(/unknown compression brotli/);
  });
});

describe("the backup process's Node.js options", () => {
  it('keeps the V8 flags and loaders of the worker, and drops a script, a debugger or a REPL', () => {
    expect(childExecArgv(['--max-semi-space-size=4', '--import', 'tsx', '-e', 'fork()', '--inspect=9229', '--print', 'x', '--eval=y', '-i', '--require', 'a.js'])).toEqual([
      '--max-semi-space-size=4',
      '--import',
      'tsx',
      '--require',
      'a.js',
    ]);
  });
});

describe("the backup process's priority", () => {
  it('lowers a priority and never raises one: a worker started at a higher nice value keeps it', async () => {
    const { spawn } = await import('node:child_process');
    const os = await import('node:os');
    // A throwaway process to renice (the test's own process must keep its priority).
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      const pid = child.pid!;
      lowerPriority(5, pid);
      expect(os.getPriority(pid)).toBe(5);
      lowerPriority(3, pid); // would raise it: left at 5, and no error
      expect(os.getPriority(pid)).toBe(5);
      lowerPriority(0, pid);
      expect(os.getPriority(pid)).toBe(5);
      lowerPriority(12, 999_999_999); // no such process: no error
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('row counts from COPY', () => {
  it("takes COPY's own count, and refuses a count of 0 for more than an empty table's 21 bytes", () => {
    const copy = (rowCount: number) => ({ rowCount }) as never;
    expect(copiedRows(copy(7), 300, 'accounts')).toBe(7);
    expect(copiedRows(copy(0), 21, 'accounts')).toBe(0);
    expect(() => copiedRows(copy(0), 22, 'accounts')).toThrow(/COPY of accounts reported no row count/);
  });
});
