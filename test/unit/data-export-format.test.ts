import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import yauzl from 'yauzl';
import { csvCell, csvLine, guardFormula } from '../../domain/csv';
import { patientDocumentPath, processFilePath } from '../../domain/data-export';
import { escapeHtml, renderPatientRecord } from '../../domain/patient-record-document';
import { SealedTempFile, type SealedTempFileSummary } from '../../lib/sealed-temp-file';
import { ZipWriter } from '../../lib/zip-writer';

/** The export's formats without the stack: ZIP (read back by yauzl, an independent reader), CSV cells, HTML. */
async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function entriesOf(zip: Buffer): Promise<Map<string, Buffer>> {
  const file = await new Promise<yauzl.ZipFile>((resolve, reject) => yauzl.fromBuffer(zip, { lazyEntries: true, validateEntrySizes: true }, (e, z) => (e ? reject(e) : resolve(z!))));
  const out = new Map<string, Buffer>();
  await new Promise<void>((resolve, reject) => {
    file.on('entry', (entry: yauzl.Entry) =>
      file.openReadStream(entry, (err, s) => {
        if (err) return reject(err);
        collect(s!).then((b) => {
          out.set(entry.fileName, b);
          file.readEntry();
        }, reject);
      }),
    );
    file.on('end', resolve);
    file.on('error', reject);
    file.readEntry();
  });
  return out;
}

const clock = { year: 2027, month: 1, day: 5, hour: 9, minute: 30, second: 12 };

describe('ZipWriter', () => {
  it('writes entries that another implementation reads back byte for byte, with their SHA-256', async () => {
    const zip = new ZipWriter(clock);
    const archive = collect(zip.output);
    const big = Buffer.alloc(3 * 1024 * 1024, 'あいう');
    const results = [
      await zip.add('README.txt', '\uFEFFこんにちは\r\n'),
      await zip.add('tables/a.csv', Readable.from([Buffer.from('a,b\r\n'), Buffer.from('1,2\r\n')])),
      await zip.add('files/p/x.bin', Readable.from([big]), { expectedBytes: big.length, level: 1 }),
      await zip.add('empty.txt', ''),
    ];
    await zip.finish();
    const entries = await entriesOf(await archive);
    expect([...entries.keys()]).toEqual(['README.txt', 'tables/a.csv', 'files/p/x.bin', 'empty.txt']);
    expect(entries.get('files/p/x.bin')!.equals(big)).toBe(true);
    expect(entries.get('tables/a.csv')!.toString()).toBe('a,b\r\n1,2\r\n');
    for (const r of results) expect(r.sha256).toBe(createHash('sha256').update(entries.get(r.path)!).digest('hex'));
  });

  it('takes an entry deflated ahead into a scratch file as it is, checksums included, and refuses a wrong length', async () => {
    // A pass-through stands in for the vault's cipher: this is about the deflate and the copy.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'zip-deflated-'));
    try {
      const file = await SealedTempFile.create(new PassThrough(), { dir, deflate: 1 });
      // 3 MiB: a dozen blocks, so blocks that zlib has consumed are filled again.
      const lines = Array.from({ length: 100_000 }, (_, i) => `${i},患者 ${i},"a ""quoted"" cell"\r\n`);
      for (const line of lines) await file.write(line);
      const info = (await file.close()) as Required<SealedTempFileSummary>;
      const plain = Buffer.from(lines.join(''), 'utf8');
      expect(info).toMatchObject({ bytes: plain.length, sha256: createHash('sha256').update(plain).digest('hex') });
      expect(info.compressedBytes).toBe((await readFile(file.path)).length);
      expect(info.compressedBytes).toBeLessThan(plain.length / 3);

      const zip = new ZipWriter(clock);
      const archive = collect(zip.output);
      const result = await zip.addDeflated('tables/patients.csv', file.readBack(new PassThrough()), info);
      await zip.add('after.txt', 'next entry');
      await zip.finish();
      const entries = await entriesOf(await archive);
      expect(entries.get('tables/patients.csv')!.equals(plain)).toBe(true);
      expect(entries.get('after.txt')!.toString()).toBe('next entry');
      expect(result).toEqual({ path: 'tables/patients.csv', bytes: plain.length, sha256: info.sha256 });

      const wrong = new ZipWriter(clock);
      void collect(wrong.output);
      await expect(wrong.addDeflated('x.csv', file.readBack(new PassThrough()), { ...info, compressedBytes: info.compressedBytes + 1 })).rejects.toThrow(/deflated bytes/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps a central directory larger than one of its 1 MiB blocks intact', async () => {
    const zip = new ZipWriter(clock);
    const archive = collect(zip.output);
    const name = (i: number) => `records/${String(i).padStart(6, '0')}/${'p'.repeat(60)}.html`;
    for (let i = 0; i < 12_000; i++) await zip.add(name(i), `${i}`);
    await zip.finish();
    const entries = await entriesOf(await archive);
    expect(entries.size).toBe(12_000);
    expect(entries.get(name(11_999))!.toString()).toBe('11999');
  });

  it('writes ZIP64 end records (what more than 65,535 entries need) that a reader follows', async () => {
    const zip = new ZipWriter(clock, { zip64End: true });
    const archive = collect(zip.output);
    for (let i = 0; i < 300; i++) await zip.add(`r/${i}.html`, `<p>${i}</p>`);
    await zip.add('stream.txt', Readable.from([Buffer.from('no size known')]));
    await zip.finish();
    const bytes = await archive;
    expect(bytes.includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(true);
    const entries = await entriesOf(bytes);
    expect(entries.size).toBe(301);
    expect(entries.get('r/299.html')!.toString()).toBe('<p>299</p>');
    expect(entries.get('stream.txt')!.toString()).toBe('no size known');
  });

  it('refuses paths that would leave the folder it is unpacked into', async () => {
    const zip = new ZipWriter(clock);
    await expect(zip.add('../evil.txt', 'x')).rejects.toThrow('unsafe path');
    await expect(zip.add('/etc/passwd', 'x')).rejects.toThrow('unsafe path');
  });
});

describe('CSV cells', () => {
  it('guards text that a spreadsheet would run as a formula, and quotes as RFC 4180 says', () => {
    for (const lead of ['=', '+', '-', '@', '\t', '\r']) expect(guardFormula(`${lead}1+1`)).toBe(`'${lead}1+1`);
    expect(csvCell('=SUM(A1)')).toBe("'=SUM(A1)");
    expect(csvCell('say "hi", ok')).toBe('"say ""hi"", ok"');
    expect(csvCell(-5)).toBe('-5');
    expect(csvCell(null)).toBe('');
    expect(csvCell(['a', 'b'])).toBe('"[""a"",""b""]"');
    expect(csvLine(['a', 1, true, null])).toBe('a,1,true,\r\n');
  });
});

describe('archive paths and record pages', () => {
  it('keeps paths ASCII and inside their folder whatever the data says', () => {
    expect(patientDocumentPath(0, 'P-001', '0123456789abcdef')).toBe('records/0001/P-001_01234567.html');
    expect(patientDocumentPath(12, '../x/y', 'abcdef0123')).toBe('records/0013/___x_y_abcdef01.html');
    expect(processFilePath('p', 'f', 'application/pdf')).toBe('files/p/f.pdf');
    expect(processFilePath('p', 'f', 'application/x-unknown')).toBe('files/p/f');
  });

  it('escapes everything that comes from data', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const html = renderPatientRecord({
      clinicName: '<b>さくら</b>',
      exportedAt: '2027-01-05T00:30:00.000000Z',
      patient: { id: 'p1', patientNumber: 'P-1', name: '<img src=x onerror=alert(1)>', kana: 'ヤマダ', birthDate: '1985-06-15', phone: null, email: null, address: null, createdAt: '2027-01-01T00:00:00.000000Z', updatedAt: '2027-01-01T00:00:00.000000Z' },
      consultations: [
        {
          id: 'c1', startsAt: '2027-01-04T01:00:00.000000Z', endsAt: '2027-01-04T01:05:00.000000Z', mode: 'in_person', status: 'completed', practitioner: '佐藤',
          questionnaire: { '<k>': '<v>' }, note: '</div><script>x</script>', prescriptions: [{ drug: '"quoted"' }], paymentAmount: 1500, paymentMethod: 'cash', cancelReason: null,
          events: [{ type: 'finish', status: 'finished', at: '2027-01-04T01:04:00.000000Z' }],
        },
      ],
    });
    expect(html).not.toMatch(/<script|<img|<b>|<k>|<v>/);
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain("default-src 'none'");
    expect(html).toContain('2027-01-04 10:00'); // Japan time
    expect(html).toContain('1,500 円');
  });
});
