import { createCipheriv, createHash, hkdfSync } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileKey, openStream, sealStream, SEGMENT_BYTES } from '../../lib/crypto/aead';

/**
 * The segmented file format, without the stack: format 2 (a key per file, HKDF-SHA256 over a
 * random salt in the header) pinned by test vectors, and format 1 files, written before it, still
 * opening. Both must refuse tampered, truncated and reordered files.
 */
const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const salt = Buffer.from(Array.from({ length: 32 }, (_, i) => 0xa0 + i));
const noncePrefix = Buffer.from('f0f1f2f3f4f5f6', 'hex');
const aad = Buffer.from('forclinic/v1/00000000-0000-4000-8000-000000000001/process_files.content:f1', 'utf8');
const TAG = 16;
const SEALED = SEGMENT_BYTES + TAG;

async function collect(source: Readable, transform: NodeJS.ReadWriteStream): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(source, transform, async function* (src) {
    for await (const c of src) out.push(c as Buffer);
  });
  return Buffer.concat(out);
}
/** Delivered in pieces of `chunk` bytes, as object storage streams do. */
const pieces = (bytes: Buffer, chunk: number) => Readable.from(Array.from({ length: Math.ceil(bytes.length / chunk) || 1 }, (_, i) => bytes.subarray(i * chunk, (i + 1) * chunk)));
const seal = (plaintext: Buffer, fixed?: { salt: Buffer; noncePrefix: Buffer }, withAad = aad) => collect(Readable.from([plaintext]), sealStream(key, withAad, fixed));
const open = (sealed: Buffer, chunk = 4096, withAad = aad) => collect(pieces(sealed, chunk), openStream(key, withAad));

const sample = (length: number) => Buffer.from(Array.from({ length }, (_, i) => (i * 31) % 251));

/** Segments as documented (lib/crypto/aead.ts), written out independently: nonce = prefix ‖ number ‖ last flag. */
function referenceSegments(plaintext: Buffer, segmentKey: Buffer, prefix: Buffer, segmentAad: Buffer): Buffer[] {
  const out: Buffer[] = [];
  const count = Math.max(1, Math.ceil(plaintext.length / SEGMENT_BYTES));
  for (let i = 0; i < count; i += 1) {
    const tail = Buffer.alloc(5);
    tail.writeUInt32BE(i, 0);
    tail[4] = i === count - 1 ? 1 : 0;
    const cipher = createCipheriv('aes-256-gcm', segmentKey, Buffer.concat([prefix, tail]));
    cipher.setAAD(Buffer.concat([segmentAad, tail]));
    out.push(cipher.update(plaintext.subarray(i * SEGMENT_BYTES, (i + 1) * SEGMENT_BYTES)), cipher.final(), cipher.getAuthTag());
  }
  return out;
}

/** Format 2: header [2 ‖ salt ‖ prefix], a key from HKDF, the header in every segment's AAD. */
function referenceFormatTwo(plaintext: Buffer): Buffer {
  const header = Buffer.concat([Buffer.from([2]), salt, noncePrefix]);
  const fileKeyBytes = Buffer.from(hkdfSync('sha256', key, salt, Buffer.concat([Buffer.from('forclinic/file/v2\u0000'), aad]), 32));
  return Buffer.concat([header, ...referenceSegments(plaintext, fileKeyBytes, noncePrefix, header)]);
}

/** Format 1 as the code before format 2 wrote it: a 7-byte prefix, the data key itself. */
function referenceFormatOne(plaintext: Buffer, prefix: Buffer): Buffer {
  return Buffer.concat([prefix, ...referenceSegments(plaintext, key, prefix, aad)]);
}

/** Segments of a sealed file after its header, as separate buffers. */
function segments(sealed: Buffer, header: number): { head: Buffer; parts: Buffer[] } {
  const parts: Buffer[] = [];
  for (let at = header; at < sealed.length; at += SEALED) parts.push(sealed.subarray(at, at + SEALED));
  return { head: sealed.subarray(0, header), parts };
}

describe('file format 2: a key per file', () => {
  const plaintext = Buffer.from('FOR CLINIC file format 2 test vector\n', 'utf8');

  it('matches the test vector (fixed key, salt, nonce prefix and plaintext)', async () => {
    expect(fileKey(key, salt, aad).toString('hex')).toBe('43f504aa1afc15f813c77c8d0b88167c6e6a5bb788429e918fa35d1064ad2c23');
    const sealed = await seal(plaintext, { salt, noncePrefix });
    // Computed independently (Python: HKDF from hmac, AES-GCM from the cryptography package).
    expect(sealed.toString('hex')).toBe(
      '02a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebff0f1f2f3f4f5f6' + // version, salt, nonce prefix
        '6fd7a9760c670fa9ca1a50456db1cad2ee785de78c85b842d003948bde893b67136725e743adf64a096653605d56e6951d466bb5fe',
    );
    expect(sealed.equals(referenceFormatTwo(plaintext))).toBe(true);
    expect((await open(sealed)).equals(plaintext)).toBe(true);
  });

  it('matches the reference for several segments, the empty file and a segment-sized one', async () => {
    const big = sample(2 * SEGMENT_BYTES + 123);
    const sealed = await seal(big, { salt, noncePrefix });
    expect(sealed.equals(referenceFormatTwo(big))).toBe(true);
    expect(createHash('sha256').update(sealed).digest('hex')).toBe('79b8640bceacfc227d6162b87582aecb1f57871cd62d64da0692d2ecb8ef71dd');
    for (const data of [big, Buffer.alloc(0), sample(SEGMENT_BYTES), sample(SEGMENT_BYTES + 1)]) {
      const s = await seal(data, { salt, noncePrefix });
      expect(s.equals(referenceFormatTwo(data))).toBe(true);
      // Written in pieces of any size (segments are sealed from the pieces as they arrived): the same file.
      for (const chunk of [7, 1000, SEGMENT_BYTES - 1, SEGMENT_BYTES + 1, 100_000]) {
        expect((await collect(pieces(data, chunk), sealStream(key, aad, { salt, noncePrefix }))).equals(s)).toBe(true);
      }
      // Boundaries on either side of a segment, and the 256 KiB reads of local scratch files.
      for (const chunk of [1, 7, 1000, SEALED - 1, SEALED, SEALED + 1, 2 * SEALED + 3, 256 * 1024, 1 << 20]) {
        if (chunk === 1 && s.length > 5000) continue;
        expect((await open(s, chunk)).equals(data)).toBe(true);
      }
    }
  });

  it('draws a new salt, hence a new key, for every file', async () => {
    const a = await seal(plaintext);
    const b = await seal(plaintext);
    expect(a[0]).toBe(2);
    expect(a.subarray(1, 33).equals(b.subarray(1, 33))).toBe(false);
    expect(a.subarray(40).equals(b.subarray(40))).toBe(false);
    expect((await open(a)).equals(plaintext)).toBe(true);
  });

  it('detects tampering, truncation, reordering, dropped segments and another context', async () => {
    const data = sample(3 * SEGMENT_BYTES + 500);
    const sealed = await seal(data);
    const { head, parts } = segments(sealed, 40);
    expect(parts).toHaveLength(4);
    const bad: Array<[string, Buffer]> = [
      ['cut after a whole segment', sealed.subarray(0, 40 + 2 * SEALED)],
      ['last byte cut', sealed.subarray(0, sealed.length - 1)],
      ['header only', head],
      ['nothing', Buffer.alloc(0)],
      ['segments 1 and 2 swapped', Buffer.concat([head, parts[0]!, parts[2]!, parts[1]!, parts[3]!])],
      ['segment 1 dropped', Buffer.concat([head, parts[0]!, parts[2]!, parts[3]!])],
      ['segment 1 repeated', Buffer.concat([head, parts[0]!, parts[1]!, parts[1]!, parts[2]!, parts[3]!])],
      ['a byte appended', Buffer.concat([sealed, Buffer.from([0])])],
      ['a ciphertext bit flipped', Buffer.from(sealed).fill(sealed[70_000]! ^ 1, 70_000, 70_001)],
      ['a salt bit flipped', Buffer.from(sealed).fill(sealed[5]! ^ 1, 5, 6)],
      ['a nonce prefix bit flipped', Buffer.from(sealed).fill(sealed[35]! ^ 1, 35, 36)],
      ['the version byte changed', Buffer.from(sealed).fill(1, 0, 1)],
    ];
    for (const [what, bytes] of bad) await expect([what, await open(bytes).then(() => 'opened', (e: Error) => e.message)]).not.toEqual([what, 'opened']);
    // The file's key is bound to its clinic and context: moved elsewhere, it does not open.
    const moved = Buffer.from('forclinic/v1/00000000-0000-4000-8000-000000000002/process_files.content:f1');
    await expect(open(sealed, 4096, moved)).rejects.toThrow();
    // A single-segment file cut or extended.
    const small = await seal(plaintext);
    await expect(open(small.subarray(0, small.length - 1))).rejects.toThrow();
    await expect(open(small.subarray(0, 40 + 15))).rejects.toThrow();
  });
});

describe('file format 1 (files stored before format 2) still opens', () => {
  // Written by the format-1 code itself (key 00…1f, the associated data above).
  const plaintext = Buffer.from('old format file, sealed before per-file keys\n', 'utf8');
  const stored = Buffer.from(
    'dc682c815dfc7988d77825f2e0f32f5e9a4a299a7bdfbd0b3a18351654bee55847510970b981fe6c8d599c35ed270911390296a2ff740a0d6580b8abf1e87b7a08ca3fe4',
    'hex',
  );
  // Its first byte is random: one old file in 256 starts like a format-2 header.
  const storedStartingWith02 = Buffer.from(
    '023f8cb1cac8a25192a4a0fe73ef1c7fd129287853de7ea96f7951d5b65d7f18b592e38049a02fdd5db9d43fd9a0066927b4fcb607741fa8006f71c96e05c3f4fb439eb8',
    'hex',
  );

  it('opens files written by the old code, including one whose first byte is 0x02', async () => {
    expect(referenceFormatOne(plaintext, stored.subarray(0, 7)).equals(stored)).toBe(true);
    expect(referenceFormatOne(plaintext, storedStartingWith02.subarray(0, 7)).equals(storedStartingWith02)).toBe(true);
    for (const chunk of [1, 7, 1000]) {
      expect((await open(stored, chunk)).equals(plaintext)).toBe(true);
      expect((await open(storedStartingWith02, chunk)).equals(plaintext)).toBe(true);
    }
  });

  it('opens multi-segment old files, also with a last segment shorter than the new header', async () => {
    for (const prefix of [Buffer.from('00112233445566', 'hex'), Buffer.from('02112233445566', 'hex')]) {
      for (const length of [3 * SEGMENT_BYTES + 77, SEGMENT_BYTES + 5, SEGMENT_BYTES + 30, 2 * SEGMENT_BYTES, 0]) {
        const data = sample(length);
        const old = referenceFormatOne(data, prefix);
        for (const chunk of [999, SEALED + 7, 1 << 20]) expect([length, chunk, (await open(old, chunk)).equals(data)]).toEqual([length, chunk, true]);
      }
    }
  });

  it('still detects truncation and reordering in old files', async () => {
    for (const prefix of [Buffer.from('00112233445566', 'hex'), Buffer.from('02112233445566', 'hex')]) {
      const old = referenceFormatOne(sample(3 * SEGMENT_BYTES + 10), prefix);
      const { head, parts } = segments(old, 7);
      for (const bytes of [
        old.subarray(0, 7 + 2 * SEALED),
        old.subarray(0, old.length - 1),
        Buffer.concat([head, parts[1]!, parts[0]!, parts[2]!, parts[3]!]),
        Buffer.concat([head, parts[0]!, parts[2]!, parts[3]!]),
        Buffer.from(old).fill(old[100]! ^ 1, 100, 101),
      ]) {
        await expect(open(bytes)).rejects.toThrow();
      }
    }
  });
});
