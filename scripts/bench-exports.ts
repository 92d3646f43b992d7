import { execFile, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { exportAuditLog } from '../application/audit/export-audit-log';
import { createDb, type Db } from '../db/connection';
import { withTenant } from '../db/tenant-scope';
import { localKeyProvider } from '../lib/crypto/local-key-provider';
import { Vault } from '../lib/crypto/vault';
import { ExportSlots } from '../lib/export-slots';
import { createLogger } from '../lib/logger';
import { WORKER_NODE_FLAGS } from '../workers/node-flags';
import { compared, round, say } from './bench-lib';

/**
 * `npm run bench` part `exports`: the clinic's full data export (README: Data export) of a clinic
 * with BENCH_EXPORT_PATIENTS patients (default 10,000; the goal's size is 100,000) and three
 * consultations each (questionnaire, note and prescriptions sealed, as the product stores them),
 * run with the real activities (tables → encrypted parts → archive, local key store, folder
 * store) in a child process of its own, so its peak RSS is the export's.
 *
 * Anchor (the issue's): the operation-log CSV export (`exportAuditLog`, PostgreSQL's COPY) of as
 * many rows as the export writes table rows, in another clinic, measured before and after; the
 * figure is table rows per second over the whole export (tables, record pages, archive). Goal:
 * ratio ≥ 0.5 and peak RSS < 256 MiB.
 */
export async function benchExports(opts: { ownerUrl: string; appUrl: string; dataDir: string }): Promise<Record<string, unknown>> {
  const patients = Number(process.env.BENCH_EXPORT_PATIENTS ?? 10_000);
  const keysDir = path.join(opts.dataDir, 'keys');
  const owner = createDb({ url: opts.ownerUrl, poolMax: 1, as: 'owner' });
  const db = createDb({ url: opts.appUrl, poolMax: 4, applicationName: 'for-clinic-bench-exports' });
  try {
    const clinic = await newClinic(owner, 'bench-export');
    const anchorClinic = await newClinic(owner, 'bench-export-anchor');
    const vault = new Vault(db, localKeyProvider({ dir: keysDir }));
    say(`exports: seeding ${patients} patients and ${patients * 3} consultations (sealed)`);
    let t = Date.now();
    await seedClinic(db, vault, clinic, patients);
    const seedSeconds = round((Date.now() - t) / 1000, 1);

    const auditRows = patients * 7 + 10; // about what the export writes as table rows (patients, consultations, events)
    say(`exports: seeding ${auditRows} operation-log entries for the anchor`);
    await owner.raw(`alter table audit_events disable trigger audit_events_chain`);
    await owner.raw(
      `insert into audit_events (tenant_id, occurred_at, actor_type, actor_id, actor_roles, action, target_type, target_id,
         outcome, client_ip, user_agent, request_id, details, seq, prev_hash, hash)
       select ?, now() - interval '1 day' + g * interval '1 millisecond', 'account', gen_random_uuid()::text, '{staff}', 'patient.read', 'patient',
         gen_random_uuid()::text, 'success', '203.0.113.7', 'Mozilla/5.0 (bench)', gen_random_uuid()::text,
         jsonb_build_object('n', g), 1000000000 + g, '\\x00', sha256(int8send(g))
       from generate_series(1, ?) g`,
      [anchorClinic, auditRows],
    );
    await owner.raw(`alter table audit_events enable trigger audit_events_chain`);
    await owner.raw('analyze');

    const anchorRun = async () => {
      say('exports: anchor: the operation-log CSV export');
      const started = process.hrtime.bigint();
      const csv = await exportAuditLog(
        { db, log: createLogger({ name: 'bench', level: 'silent' }), exports: new ExportSlots(2) },
        { tenantId: anchorClinic, accountId: randomUUID(), roles: ['admin'], audit: { actorType: 'system' } },
        {},
        { defaultWindowDays: 90, maxWindowDays: 366 },
      );
      let lines = 0;
      await pipeline(csv, new Writable({ write(chunk: Buffer, _e, cb) { for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) lines += 1; cb(); } }));
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      return { rows: lines - 1, seconds };
    };
    const before = await anchorRun();

    say('exports: compiling the export child (tsc, as npm run build compiles the worker)');
    const childJs = await compileChild();
    say('exports: the full export (child process)');
    const child = fork(childJs, [], {
      // As the worker ships: compiled JavaScript on plain node with the worker's own V8 flags
      // (docker-compose: node --max-semi-space-size=4 --expose-gc dist/workers/main.js). Under tsx the same
      // process started 14+ MiB higher, holding the in-process compiler and its source maps.
      execArgv: [...WORKER_NODE_FLAGS, ...(process.env.BENCH_EXPORT_NODE_OPTIONS ?? '').split(' ').filter(Boolean)],
      env: { ...process.env, BENCH_DB_URL: opts.appUrl, BENCH_KEYS_DIR: keysDir, BENCH_STORE_DIR: path.join(opts.dataDir, 'export-objects'), BENCH_TENANT: clinic },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const run = await new Promise<{ rows: number; seconds: number; cpuSeconds: number; archiveMiB: number; entries: number; peakRssMiB: number; peakRssAfterTablesMiB: number; rssBeforeMiB: number; heapUsedMiB: number; tablesSeconds: number; archiveSeconds: number; error?: string }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as never));
      child.once('exit', (code) => reject(new Error(`export child exited with ${code}`)));
    });
    if (child.connected) child.disconnect();
    if (run.error) throw new Error(run.error);
    const after = await anchorRun();

    const anchorRowsPerSec = (before.rows + after.rows) / (before.seconds + after.seconds);
    const figureRowsPerSec = run.rows / run.seconds;
    const ratio = figureRowsPerSec / anchorRowsPerSec;
    t = Date.now();
    return {
      dataExport: compared(
        { patients, consultations: patients * 3, tableRows: run.rows, seconds: round(run.seconds, 1), cpuSeconds: run.cpuSeconds, tablesSeconds: round(run.tablesSeconds, 1), archiveSeconds: round(run.archiveSeconds, 1), rowsPerSec: Math.round(figureRowsPerSec), archiveMiB: run.archiveMiB, entries: run.entries, rssBeforeMiB: run.rssBeforeMiB, peakRssMiB: run.peakRssMiB, peakRssAfterTablesMiB: run.peakRssAfterTablesMiB, heapUsedAtEndMiB: run.heapUsedMiB, seedSeconds },
        { auditCsvRows: before.rows, seconds: [round(before.seconds, 1), round(after.seconds, 1)], rowsPerSec: Math.round(anchorRowsPerSec) },
        ratio,
        'ratio >= 0.5 and peak RSS < 256 MiB',
        ratio >= 0.5 && run.peakRssMiB < 256,
      ),
    };
  } finally {
    await db.destroy();
    await owner.destroy();
  }
}

/**
 * Compiles scripts/bench-exports-child.ts and what it imports with the production build's
 * settings (tsconfig.build.json) into dist/bench/, where node resolves node_modules as the
 * worker does; returns the entry's path.
 */
async function compileChild(): Promise<string> {
  const root = path.join(__dirname, '..');
  const outDir = path.join(root, 'dist', 'bench');
  await mkdir(outDir, { recursive: true });
  const config = path.join(outDir, 'tsconfig.json');
  await writeFile(config, JSON.stringify({ extends: path.join(root, 'tsconfig.build.json'), compilerOptions: { outDir, rootDir: root, sourceMap: false }, files: [path.join(__dirname, 'bench-exports-child.ts')], include: [] }));
  await promisify(execFile)(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', config], { cwd: root, maxBuffer: 1 << 24 });
  return path.join(outDir, 'scripts', 'bench-exports-child.js');
}

async function newClinic(owner: Db, slug: string): Promise<string> {
  const id = randomUUID();
  await owner('tenants').insert({ id, slug: `${slug}-${id.slice(0, 6)}`, name: `${slug} クリニック`, contract_emails: ['bench@clinic.example'], status: 'active' });
  return id;
}

/** Patients and consultations sealed with the clinic's own key, written 1,000 at a time. */
async function seedClinic(db: Db, vault: Vault, tenantId: string, patients: number): Promise<void> {
  const practitionerId = randomUUID();
  await withTenant(db, tenantId, (trx) => trx('practitioners').insert({ id: practitionerId, tenant_id: tenantId, display_name: '佐藤 医師', slot_minutes: 5, modes: ['in_person'] }));
  const seal = (context: string, value: string) => vault.encryptText(tenantId, context, value);
  const base = Date.UTC(2026, 0, 1);
  for (let from = 0; from < patients; from += 1_000) {
    const people: Array<Record<string, unknown>> = [];
    const visits: Array<Record<string, unknown>> = [];
    const events: Array<Record<string, unknown>> = [];
    for (let i = from; i < Math.min(patients, from + 1_000); i++) {
      const id = randomUUID();
      const p = (f: string, v: string) => seal(`patients.${f}:${id}`, v);
      people.push({
        id, tenant_id: tenantId, patient_number: `P${String(i).padStart(8, '0')}`,
        name_sealed: await p('name', `患者 ${i}`), kana_sealed: await p('kana', `カンジャ ${i}`), birth_date_sealed: await p('birthDate', '1980-01-01'),
        phone_sealed: await p('phone', '090-0000-0000'), email_sealed: null, address_sealed: await p('address', `東京都千代田区千代田 ${i}`),
        name_token: 'bench', kana_prefix_tokens: [], birth_date_token: 'bench',
      });
      for (let j = 0; j < 3; j++) {
        const cid = randomUUID();
        const c = (f: string, v: string) => seal(`consultations.${f}:${cid}`, v);
        const starts = new Date(base + ((i * 3 + j) * 5) * 60_000);
        visits.push({
          id: cid, tenant_id: tenantId, patient_id: id, practitioner_id: practitionerId, starts_at: starts, ends_at: new Date(starts.getTime() + 300_000),
          mode: 'in_person', status: 'completed', workflow_id: `consultation/${cid}`,
          questionnaire_sealed: await c('questionnaire', JSON.stringify({ symptoms: '頭痛と発熱', allergies: 'なし' })),
          note_sealed: await c('note', '急性上気道炎。解熱剤を処方し、3 日後に再診。症状が続く場合は早めに受診するよう説明した。'),
          prescriptions_sealed: await c('prescriptions', JSON.stringify([{ drug: 'アセトアミノフェン', dose: '500mg', days: 3 }])),
          payment_amount: 1500, payment_method: 'cash',
        });
        events.push({ tenant_id: tenantId, consultation_id: cid, event_key: '1', type: 'complete', status: 'completed' });
      }
    }
    await withTenant(db, tenantId, async (trx) => {
      await trx('patients').insert(people);
      for (let k = 0; k < visits.length; k += 1_000) await trx('consultations').insert(visits.slice(k, k + 1_000));
      for (let k = 0; k < events.length; k += 1_000) await trx('consultation_events').insert(events.slice(k, k + 1_000));
    });
  }
}
