import { japanDateOf } from '../../domain/japan-time';
import { dataExportWorkflowId } from '../../temporal/workflow-ids';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import os from 'node:os';
import path from 'node:path';
import yauzl from 'yauzl';
import { EXCLUDED_TABLES, EXPORT_TABLES } from '../../db/export-tables';
import { exportArchiveKey } from '../../domain/data-export';
import { exportProgressQuery } from '../../workflows/data-export-messages';
import { clinicWithAdmin, createAccount, eventually } from '../harness/clinic';
import { book, bookingClinic } from '../harness/consultations';
import { call } from '../harness/http';
import { slotOn } from '../harness/slots';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * The clinic's full data export, through the API, the workflow and the real object store:
 * what the archive holds (and that it holds exactly what it says), who may have it, one at a
 * time, and that it is gone after its retention time.
 */
const clock = new Date();
let stack: TestStack;
let storageDir: string;
beforeAll(async () => {
  storageDir = await mkdtemp(path.join(os.tmpdir(), 'for-clinic-exports-'));
  // The visit checked in below is days ahead: check-in opens with the video room when that is earlier
  // than the visit's day (domain/consultation.ts checkInOpensAt).
  stack = await startTestStack({ STORAGE: 'fs', STORAGE_DIR: storageDir, JOIN_WINDOW_BEFORE_SECONDS: String(7 * 86_400) });
});
afterAll(async () => {
  await stack?.stop();
  await rm(storageDir, { recursive: true, force: true });
});

const post = (token: string, id: string, action: string, json?: unknown) => call(stack.url, 'POST', `/v1/consultations/${id}/${action}`, { token, json });
const pdf = Buffer.from('%PDF-1.7\n1 0 obj << /Title (紹介状 山田) >> endobj\n%%EOF\n');

interface Entry {
  path: string;
  data: Buffer;
}

async function unzip(archive: Buffer): Promise<Map<string, Buffer>> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) => yauzl.fromBuffer(archive, { lazyEntries: true, strictFileNames: true, validateEntrySizes: true }, (err, z) => (err ? reject(err) : resolve(z!))));
  const out: Entry[] = [];
  await new Promise<void>((resolve, reject) => {
    zip.on('entry', (entry: yauzl.Entry) => {
      zip.openReadStream(entry, (err, stream) => {
        if (err) return reject(err);
        const chunks: Buffer[] = [];
        stream!.on('data', (c: Buffer) => chunks.push(c));
        stream!.on('end', () => {
          out.push({ path: entry.fileName, data: Buffer.concat(chunks) });
          zip.readEntry();
        });
        stream!.on('error', reject);
      });
    });
    zip.on('end', resolve);
    zip.on('error', reject);
    zip.readEntry();
  });
  return new Map(out.map((e) => [e.path, e.data]));
}

const ready = (token: string, id: string) =>
  eventually(
    `export ${id} ready`,
    async () => {
      const r = await call(stack.url, 'GET', `/v1/exports/${id}`, { token });
      if (r.body.state === 'failed') throw new Error(`export failed: ${r.text}`);
      return r.body.state === 'ready';
    },
    50_000,
  );

describe('full data export', () => {
  it('exports every table, a record page per patient and the files; the manifest matches; logged', async () => {
    const c = await bookingClinic(stack);
    // Values that must come out exactly, readable, and harmless in a spreadsheet or a browser.
    const second = await call(stack.url, 'POST', '/v1/patients', {
      token: c.staffToken,
      json: { name: '鈴木 一郎', kana: 'スズキ イチロウ', birthDate: '1970-01-02', phone: '+81-90-3333-4444', address: '=HYPERLINK("http://evil.example","x")' },
    });
    expect(second.status).toBe(201);
    const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slotOn(2, '10:00', clock), mode: 'in_person' });
    const consultationId = booked.body.id as string;
    await post(c.staffToken, consultationId, 'questionnaire', { answers: { symptoms: '頭痛と発熱', allergies: 'ペニシリン' } });
    await post(c.staffToken, consultationId, 'check-in');
    await post(c.doctorToken, consultationId, 'start');
    await post(c.doctorToken, consultationId, 'finish', { note: '急性上気道炎。<script>alert(1)</script>', prescriptions: [{ drug: 'アセトアミノフェン', dose: '500mg' }] });
    expect((await post(c.staffToken, consultationId, 'payment', { amount: 1500, method: 'cash' })).body.status).toBe('paid');
    expect(await stack.temporal.client.workflow.getHandle(`consultation/${consultationId}`).result()).toMatchObject({ status: 'completed' });
    const processId = (await call(stack.url, 'POST', '/v1/processes', { token: c.adminToken, json: { name: '紹介状 2027' } })).body.id as string;
    const upload = await call(stack.url, 'POST', `/v1/processes/${processId}/files?name=${encodeURIComponent('紹介状 山田.pdf')}`, { token: c.adminToken, raw: pdf, headers: { 'content-type': 'application/pdf' } });
    expect(upload.status).toBe(201);
    // A file whose stored copy is lost (a storage incident): the export still completes and says so.
    const lost = await call(stack.url, 'POST', `/v1/processes/${processId}/files?name=lost.txt`, { token: c.adminToken, raw: 'gone', headers: { 'content-type': 'text/plain' } });
    await rm(path.join(storageDir, 'tenants', c.clinic.id, 'files', lost.body.id));
    // And one damaged where it is stored (one byte flipped): it no longer opens, and the export says so too.
    const damaged = await call(stack.url, 'POST', `/v1/processes/${processId}/files?name=damaged.txt`, { token: c.adminToken, raw: 'a small text file', headers: { 'content-type': 'text/plain' } });
    const damagedPath = path.join(storageDir, 'tenants', c.clinic.id, 'files', damaged.body.id);
    const sealed = await readFile(damagedPath);
    sealed[sealed.length - 5]! ^= 0xff;
    await writeFile(damagedPath, sealed);

    // Only admins: a doctor is refused everywhere.
    expect((await call(stack.url, 'POST', '/v1/exports', { token: c.doctorToken })).status).toBe(403);
    expect((await call(stack.url, 'GET', '/v1/exports', { token: c.doctorToken })).status).toBe(403);

    // One at a time: with no worker the first stays running, so the second is refused.
    await stack.stopWorker();
    const started = await call(stack.url, 'POST', '/v1/exports', { token: c.adminToken });
    expect(started.status).toBe(202);
    const id = started.body.id as string;
    const again = await call(stack.url, 'POST', '/v1/exports', { token: c.adminToken });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('export_running');
    const early = await call(stack.url, 'GET', `/v1/exports/${id}/download`, { token: c.adminToken });
    expect(early.status).toBe(409);
    expect(early.body.code).toBe('export_not_ready');
    expect((await call(stack.url, 'GET', `/v1/exports/${id}`, { token: c.adminToken })).body).toMatchObject({ id, state: 'running', progress: null });
    await stack.startWorker();
    await ready(c.adminToken, id);

    // The workflow's own progress: every table done, rows and bytes counted. (The row says ready as
    // the archive's last activity commits; the workflow's phase follows when that activity's result
    // reaches it.)
    const progressOf = () => stack.temporal.client.workflow.getHandle(`data-export/${id}`).query(exportProgressQuery);
    await eventually('the workflow says ready', async () => (await progressOf()).phase === 'ready');
    const progress = await progressOf();
    expect(progress).toMatchObject({ phase: 'ready', tablesTotal: EXPORT_TABLES.length, tablesDone: EXPORT_TABLES.length, patientsTotal: 2, patientsDone: 2, filesTotal: 3 });
    expect(progress.rows).toBeGreaterThan(10);
    expect(progress.bytes).toBeGreaterThan(0);
    const shown = await call(stack.url, 'GET', `/v1/exports/${id}`, { token: c.adminToken });
    expect(shown.body).toMatchObject({ state: 'ready', requestedBy: expect.any(String), progress: { phase: 'ready', tablesDone: EXPORT_TABLES.length, patientsDone: 2 } });
    const expiresIn = Date.parse(shown.body.expiresAt) - Date.parse(shown.body.readyAt);
    expect(expiresIn).toBe(7 * 86_400_000);
    const listed = await call(stack.url, 'GET', '/v1/exports', { token: c.adminToken });
    expect(listed.body.items.map((e: { id: string }) => e.id)).toEqual([id]);

    // Another clinic's admin: the export does not exist for them.
    const other = await clinicWithAdmin(stack, 'other');
    expect((await call(stack.url, 'GET', `/v1/exports/${id}`, { token: other.token })).status).toBe(404);
    expect((await call(stack.url, 'GET', `/v1/exports/${id}/download`, { token: other.token })).status).toBe(404);
    expect((await call(stack.url, 'GET', '/v1/exports', { token: other.token })).body.items).toEqual([]);

    // At rest, the archive is encrypted: no clinic text in the stored object.
    const stored = path.join(storageDir, exportArchiveKey(c.clinic.id, id));
    expect(existsSync(stored)).toBe(true);

    // A HEAD answers the headers and downloads nothing (so it is not logged as a download, below).
    const head = await fetch(`${stack.url}/v1/exports/${id}/download`, { method: 'HEAD', headers: { authorization: `Bearer ${c.adminToken}` } });
    expect([head.status, head.headers.get('content-length')]).toEqual([200, String(shown.body.sizeBytes)]);
    const res = await fetch(`${stack.url}/v1/exports/${id}/download`, { headers: { authorization: `Bearer ${c.adminToken}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/zip');
    // Named for the day it was asked for in Japan, not the UTC date (a day behind from 15:00 UTC).
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="forclinic-export-${japanDateOf(new Date(shown.body.createdAt)).replace(/-/g, '')}-${id.slice(0, 8)}.zip"`);
    const archive = Buffer.from(await res.arrayBuffer());
    expect(archive.length).toBe(shown.body.sizeBytes);
    expect(createHash('sha256').update(archive).digest('hex')).toBe(shown.body.sha256);
    const files = await unzip(archive);

    // The manifest names every other entry with its SHA-256, and each matches.
    const manifest = JSON.parse(files.get('manifest.json')!.toString('utf8'));
    expect(manifest).toMatchObject({ exportId: id, algorithm: 'SHA-256' });
    const listedPaths = manifest.files.map((f: { path: string }) => f.path).sort();
    expect(listedPaths).toEqual([...files.keys()].filter((p) => p !== 'manifest.json' && p !== 'SHA256SUMS.txt').sort());
    for (const f of manifest.files as Array<{ path: string; bytes: number; sha256: string }>) {
      expect({ path: f.path, sha256: createHash('sha256').update(files.get(f.path)!).digest('hex'), bytes: files.get(f.path)!.length }).toEqual(f);
    }
    expect(files.get('SHA256SUMS.txt')!.toString()).toContain(`  tables/patients.csv\n`);
    for (const p of files.keys()) expect(p).toMatch(/^[A-Za-z0-9._\/-]+$/);

    // Every table as CSV (BOM, header, opened values, guarded formulas) and JSON Lines (exact values).
    for (const t of EXPORT_TABLES) {
      const csv = files.get(`tables/${t.name}.csv`)!.toString('utf8');
      expect(csv.startsWith(`\uFEFF${t.columns.map((col) => col.name).join(',')}\r\n`)).toBe(true);
      expect(files.has(`tables/${t.name}.jsonl`)).toBe(true);
    }
    const patientsCsv = files.get('tables/patients.csv')!.toString('utf8');
    expect(patientsCsv).toContain('山田 花子');
    expect(patientsCsv).toContain(`"'=HYPERLINK(""http://evil.example"",""x"")"`);
    expect(patientsCsv).toContain("'+81-90-3333-4444");
    const patientsJson = files.get('tables/patients.jsonl')!.toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(patientsJson.find((p) => p.name === '鈴木 一郎')).toMatchObject({ address: '=HYPERLINK("http://evil.example","x")', phone: '+81-90-3333-4444', birth_date: '1970-01-02' });
    const consultations = files.get('tables/consultations.jsonl')!.toString('utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(consultations).toEqual([
      expect.objectContaining({ id: consultationId, status: 'completed', note: '急性上気道炎。<script>alert(1)</script>', questionnaire: { symptoms: '頭痛と発熱', allergies: 'ペニシリン' }, prescriptions: [{ drug: 'アセトアミノフェン', dose: '500mg' }], payment_amount: 1500, payment_method: 'cash' }),
    ]);
    const accountsCsv = files.get('tables/accounts.csv')!.toString('utf8');
    expect(accountsCsv).not.toContain('$argon2');

    // The process file, byte for byte, where process_files.csv says; its name in the index.
    const fileRow = files.get('tables/process_files.jsonl')!.toString('utf8').trim().split('\n').map((l) => JSON.parse(l))[0];
    expect(fileRow).toMatchObject({ id: upload.body.id, name: '紹介状 山田.pdf', archive_path: `files/${processId}/${upload.body.id}.pdf` });
    expect(files.get(fileRow.archive_path)!.equals(pdf)).toBe(true);
    expect(files.get('files/index.html')!.toString('utf8')).toContain('紹介状 山田.pdf');
    expect(files.get('files/index.html')!.toString('utf8')).toMatch(/lost\.txt.*missing from storage/);
    expect(files.get('files/index.html')!.toString('utf8')).toMatch(/damaged\.txt.*damaged in storage, cannot be read/);
    expect([...manifest.missingFiles].sort()).toEqual([lost.body.id, damaged.body.id].sort());
    expect(files.get('README.txt')!.toString('utf8')).toContain(`process_files.id = ${lost.body.id}`);
    expect(files.get('README.txt')!.toString('utf8')).toContain(`process_files.id = ${damaged.body.id}`);

    // One human-readable record per patient, everything escaped.
    const records = [...files.keys()].filter((p) => /^records\/\d{4}\/.+\.html$/.test(p));
    expect(records).toHaveLength(2);
    const hanako = records.map((p) => files.get(p)!.toString('utf8')).find((h) => h.includes('山田 花子'))!;
    for (const text of ['診療記録', '頭痛と発熱', 'アセトアミノフェン', '500mg', '1,500 円', '現金', '佐藤 医師', '1985-06-15', '&lt;script&gt;alert(1)&lt;/script&gt;']) expect(hanako).toContain(text);
    expect(hanako).not.toContain('<script>');
    const index = files.get('records/index.html')!.toString('utf8');
    expect(index).toContain('鈴木 一郎');
    expect(index).toContain('山田 花子');

    // The README describes every file kind and every column.
    const readme = files.get('README.txt')!.toString('utf8');
    for (const t of EXPORT_TABLES) {
      expect(readme).toContain(`tables/${t.name}.csv`);
      for (const col of t.columns) expect(readme).toContain(`  - ${col.name}: `);
    }

    // Creating, finishing and downloading are in the operation log.
    const log = await call(stack.url, 'GET', '/v1/audit-logs?action=data_export.*', { token: c.adminToken });
    expect(log.body.items.map((e: { action: string }) => e.action).sort()).toEqual(['data_export.create', 'data_export.download', 'data_export.ready']);

    // The stored archive holds no clinic text in clear.
    const raw = await readFile(stored);
    expect(raw.includes(Buffer.from('山田 花子'))).toBe(false);
    expect(raw.includes(Buffer.from('manifest.json'))).toBe(false);
  });

  it('deletes the archive after the retention time and then answers 410', async () => {
    const api = await stack.startExtraApi({ STORAGE: 'fs', STORAGE_DIR: storageDir, EXPORT_RETENTION_SECONDS: '2' });
    const { clinic, token } = await clinicWithAdmin(stack, 'expiry');
    const started = await call(api.url, 'POST', '/v1/exports', { token });
    expect(started.status).toBe(202);
    const id = started.body.id as string;
    const handle = stack.temporal.client.workflow.getHandle(`data-export/${id}`);
    expect(await handle.result()).toMatchObject({ exportId: id, outcome: 'expired' });
    // `RECORD_HISTORIES=1` refreshes the replay fixture (test/workflows/replay.test.ts) from this run.
    if (process.env.RECORD_HISTORIES === '1') {
      await writeFile(path.join(__dirname, '..', 'histories', 'data-export-expired.json'), historyToJSON(await handle.fetchHistory()));
    }
    expect(existsSync(path.join(storageDir, exportArchiveKey(clinic.id, id)))).toBe(false);
    // Nothing else of this export is left in storage either.
    const left = await readdir(path.join(storageDir, 'tenants', clinic.id, 'exports', id), { recursive: true, withFileTypes: true }).catch(() => []);
    expect(left.filter((e) => e.isFile()).map((e) => e.name)).toEqual([]);
    const shown = await call(stack.url, 'GET', `/v1/exports/${id}`, { token });
    expect(shown.body).toMatchObject({ state: 'expired', expiredAt: expect.any(String) });
    const gone = await call(stack.url, 'GET', `/v1/exports/${id}/download`, { token });
    expect(gone.status).toBe(410);
    expect(gone.body.code).toBe('export_expired');
    // The clinic may start another once none runs.
    expect((await call(stack.url, 'POST', '/v1/exports', { token })).status).toBe(202);
  });

  it('covers every clinic table and every column of the schema (nothing silently left behind)', async () => {
    const { rows } = await stack.database.ownerDb.raw(
      `select c.table_name as "table", array_agg(c.column_name::text order by c.ordinal_position) as columns
         from information_schema.columns c
        where c.table_schema = 'public'
          and c.table_name in (select table_name from information_schema.columns where table_schema = 'public' and column_name = 'tenant_id')
        group by c.table_name`,
    );
    const tenantsColumns = (await stack.database.ownerDb.raw(`select array_agg(column_name::text) as columns from information_schema.columns where table_schema = 'public' and table_name = 'tenants'`)).rows[0].columns;
    const exported = new Map(EXPORT_TABLES.map((t) => [t.from ?? t.name, t]));
    const tables = [...(rows as Array<{ table: string; columns: string[] }>), { table: 'tenants', columns: tenantsColumns as string[] }];
    const unaccounted: string[] = [];
    for (const { table, columns } of tables) {
      const spec = exported.get(table);
      if (!spec) {
        if (!(table in EXCLUDED_TABLES)) unaccounted.push(table);
        continue;
      }
      for (const column of columns) {
        const used = spec.columns.some((c) => c.name === column || new RegExp(`\\b${column}\\b`).test(c.sql ?? ''));
        if (!used && !(column in (spec.omitted ?? {})) && !(table === 'tenants' && column === 'tenant_id')) unaccounted.push(`${table}.${column}`);
      }
    }
    expect(unaccounted).toEqual([]);
  });

  it('the archive of a clinic without patients or files is still complete', async () => {
    const { token } = await clinicWithAdmin(stack, 'empty');
    const nurse = await createAccount(stack, token, 'nurse');
    expect(nurse.accountId).toBeDefined();
    const id = (await call(stack.url, 'POST', '/v1/exports', { token })).body.id as string;
    await ready(token, id);
    const res = await fetch(`${stack.url}/v1/exports/${id}/download`, { headers: { authorization: `Bearer ${token}` } });
    const files = await unzip(Buffer.from(await res.arrayBuffer()));
    expect(files.get('tables/patients.csv')!.toString('utf8')).toBe(`\uFEFF${EXPORT_TABLES.find((t) => t.name === 'patients')!.columns.map((col) => col.name).join(',')}\r\n`);
    expect(files.get('tables/accounts.jsonl')!.toString('utf8').trim().split('\n')).toHaveLength(2);
    expect(files.has('records/index.html')).toBe(true);
  });

  it('an export whose workflow an operator terminated is marked failed by the sweeper, and the clinic may export again', async () => {
    const { token } = await clinicWithAdmin(stack, 'ended');
    const id = (await call(stack.url, 'POST', '/v1/exports', { token })).body.id as string;
    await stack.temporal.client.workflow.getHandle(dataExportWorkflowId(id)).terminate('an operator ended it');
    expect((await call(stack.url, 'POST', '/v1/exports', { token })).body.code).toBe('export_running');
    const swept = await stack.sweepOutbox();
    expect((swept as { exports?: { failed: number } }).exports?.failed).toBeGreaterThanOrEqual(1);
    const shown = await call(stack.url, 'GET', `/v1/exports/${id}`, { token });
    expect(shown.body.state).toBe('failed');
    const [entry] = await stack.database.ownerDb('audit_events').where({ target_id: id, action: 'data_export.fail' });
    expect(entry).toMatchObject({ actorType: 'system', details: { workflowStatus: 'TERMINATED' } });
    expect((await call(stack.url, 'POST', '/v1/exports', { token })).status).toBe(202);
    // A second pass changes nothing.
    expect((((await stack.sweepOutbox()) as { exports?: { failed: number } }).exports?.failed)).toBe(0);
  });
});
