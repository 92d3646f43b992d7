import { Client as PgClient } from 'pg';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fetchLocalEmails } from '../../lib/local-ses';
import type { backupVerificationWorkflow } from '../../workflows/backup-verification';
import type { backupWorkflow } from '../../workflows/backup';
import type { restoreTestWorkflow } from '../../workflows/restore-test';
import { book } from '../harness/consultations';
import { bookingClinic } from '../harness/consultations';
import { slotOn } from '../harness/slots';
import { startTestStack, type TestStack } from '../harness/stack';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { createDb } from '../../db/connection';
import { dropDatabase, ensureDatabase, withDatabase } from '../../db/database';
import { withTenant } from '../../db/tenant-scope';
import { verifyGeneration } from '../../lib/backup/verify';
import { generationLock } from '../../lib/backup/object-lock';
import { writeGeneration } from '../../lib/backup/write';
import { CreateBucketCommand, DeleteObjectCommand, HeadObjectCommand, ListObjectVersionsCommand } from '@aws-sdk/client-s3';
import { s3Client } from '../../lib/storage/object-store';
import { startVersityGw, type VersityGw } from '../../lib/versitygw';
import { createKeyProvider } from '../../lib/crypto/provider';
import { Vault } from '../../lib/crypto/vault';
import { createBackupStore, fsBackupStore, s3BackupStore, type BackupStore } from '../../lib/storage/backup-store';
import { BACKUP_SCHEDULE_ID, BACKUP_VERIFICATION_SCHEDULE_ID, ensureSchedules, RESTORE_TEST_SCHEDULE_ID } from '../../temporal/schedules';
import { call } from '../harness/http';
import { restoreToScratch as restoreScratch } from '../harness/restore';

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

const recorded = new Set<string>();
/** RECORD_HISTORIES=1 saves one history per new workflow type for the replay test (test/histories/). */
async function record(type: string, workflowId: string) {
  if (!process.env.RECORD_HISTORIES || recorded.has(type)) return;
  recorded.add(type);
  const history = await stack.temporal.client.workflow.getHandle(workflowId).fetchHistory();
  await writeFile(path.join(__dirname, '..', 'histories', `${type.replace(/Workflow$/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}.json`), historyToJSON(history));
}

const run = async <W extends (...args: any[]) => Promise<any>>(type: string, args: Parameters<W>): Promise<Awaited<ReturnType<W>>> => {
  const workflowId = `test-${type}-${randomUUID()}`;
  const result = await stack.temporal.client.workflow.execute(type, { taskQueue: stack.config.TEMPORAL_TASK_QUEUE, workflowId, args: args as unknown[] });
  await record(type, workflowId);
  return result as Awaited<ReturnType<W>>;
};

const restoreToScratch = (store: BackupStore, generationId: string) => restoreScratch(stack, store, generationId);

/** The generation verifies, and restores into a scratch database with every count and checksum equal. */
async function expectVerifiesAndRestores(store: BackupStore, provider: ReturnType<typeof createKeyProvider>, id: string) {
  expect(await verifyGeneration(store, provider, id, null)).toEqual({ ok: true, problems: [] });
  const scratch = await restoreToScratch(store, id);
  try {
    expect(scratch.outcome.ok).toBe(true);
    expect(scratch.outcome.tables.every((t) => t.checksumOk && t.rows === t.expectedRows)).toBe(true);
  } finally {
    await scratch.drop();
  }
}

/** Every application table's row count, read as the owner (row-level security lifted for the count). */
async function ownerCounts(): Promise<Record<string, number>> {
  const owner = stack.database.ownerDb;
  const { rows } = await owner.raw(`select relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and relkind = 'r' and relname not like 'knex%' order by 1`);
  const counts: Record<string, number> = {};
  await owner.transaction(async (trx) => {
    for (const { name } of rows as Array<{ name: string }>) {
      await trx.raw(`alter table ${name} no force row level security`);
      counts[name] = Number((await trx.raw(`select count(*) as n from ${name}`)).rows[0].n);
    }
    await trx.raw('rollback'); // put FORCE back: only the counts were wanted
  }).catch((err: Error) => {
    if (!/rollback|Transaction rejected/i.test(err.message)) throw err;
  });
  return counts;
}

describe('backups', () => {
  it('backs up a populated database, verifies it and restores it into a scratch database with exact counts and checksums', async () => {
    const c = await bookingClinic(stack);
    const booked = await book(stack, c.staffToken, { patientId: c.patientId, practitionerId: c.practitionerId, startsAt: slotOn(3, '10:00'), mode: 'in_person' });
    expect(booked.status).toBe(201);

    const result = await run<typeof backupWorkflow>('backupWorkflow', [{ trigger: 'operator' }]);
    expect(result.outcome).toBe('verified');
    const row = await stack.database.ownerDb('backup_generations').where({ id: result.generationId }).first();
    expect(row.state).toBe('verified');
    const manifest = row.manifest;
    const expected = await ownerCounts();
    const inManifest = Object.fromEntries(manifest.tables.map((t: { name: string; rows: number }) => [t.name, t.rows]));
    // The generation's own row and its verification were written after the snapshot: the only differences.
    expect({ ...inManifest, backup_generations: expected.backup_generations, backup_verifications: expected.backup_verifications }).toEqual(expected);
    expect(inManifest).toMatchObject({ backup_generations: 1, backup_verifications: 0 });
    for (const table of ['tenants', 'accounts', 'patients', 'consultations', 'audit_events']) expect(inManifest[table]).toBeGreaterThan(0);

    const restore = await run<typeof restoreTestWorkflow>('restoreTestWorkflow', [{ generationId: result.generationId, trigger: 'operator' }]);
    expect(restore).toMatchObject({ passed: true, generationId: result.generationId });
    const test = await stack.database.ownerDb('backup_restore_tests').where({ id: restore.restoreTestId }).first();
    expect(test.state).toBe('passed');
    for (const t of test.tables) expect(t).toMatchObject({ rows: t.expectedRows, checksumOk: true });
    expect(test.tables.map((t: { name: string }) => t.name).sort()).toEqual(Object.keys(inManifest).sort());
  });

  it('catches a flipped byte in a stored object and mails the operators', async () => {
    const { generationId } = await run<typeof backupWorkflow>('backupWorkflow', [{ trigger: 'operator' }]);
    const row = await stack.database.ownerDb('backup_generations').where({ id: generationId }).first();
    const target = row.manifest.tables.find((t: { name: string }) => t.name === 'audit_events').object.key;
    const file = path.join(stack.config.BACKUP_DIR, target);
    const bytes = await readFile(file);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0x01;
    await writeFile(file, bytes);

    const result = await run<typeof backupVerificationWorkflow>('backupVerificationWorkflow', []);
    expect(result.failed).toContain(generationId);
    const stored = await stack.database.ownerDb('backup_verifications').where({ generationId }).orderBy('checked_at', 'desc').first();
    expect(stored.ok).toBe(false);
    expect(stored.problems.map((p: { problem: string }) => p.problem)).toEqual(expect.arrayContaining(['sha256', 'not_authentic']));
    const mails = (await fetchLocalEmails(stack.sesEndpoint)).filter((m) => m.subject.includes(generationId));
    expect(mails.length).toBe(1);
    expect(mails[0]!.destination.to).toContain('ops@forclinic.example');
  });

  it('keeps exactly BACKUP_GENERATIONS verified generations after more runs, pruning the oldest only after a new one verified', async () => {
    const keep = stack.config.BACKUP_GENERATIONS;
    expect(keep).toBe(7);
    for (let i = 0; i < keep + 1; i += 1) expect((await run<typeof backupWorkflow>('backupWorkflow', [{ trigger: 'operator' }])).outcome).toBe('verified');
    const rows = await stack.database.ownerDb('backup_generations').orderBy('started_at', 'desc');
    expect(rows.filter((r) => r.state === 'verified')).toHaveLength(keep);
    const pruned = rows.filter((r) => r.state === 'pruned');
    expect(pruned.length).toBeGreaterThan(0);
    // Every pruned generation is older than every kept one, and its objects are gone.
    const oldestKept = Math.min(...rows.filter((r) => r.state === 'verified').map((r) => r.startedAt.getTime()));
    for (const p of pruned) {
      expect(p.startedAt.getTime()).toBeLessThan(oldestKept);
      await expect(readFile(path.join(stack.config.BACKUP_DIR, 'generations', p.id, 'manifest'))).rejects.toMatchObject({ code: 'ENOENT' });
    }
  }, 180_000);

  it('starts a backup and a restore test from the operator API and lists generations with their last verification', async () => {
    const auth = { authorization: `Bearer ${stack.operatorToken}` };
    const started = await call(stack.operatorUrl, 'POST', '/v1/operator/backups', { headers: auth });
    expect(started.status).toBe(202);
    await stack.temporal.client.workflow.getHandle(started.body.workflowId).result();
    const list = await call(stack.operatorUrl, 'GET', '/v1/operator/backups', { headers: auth });
    expect(list.status).toBe(200);
    const mine = list.body.items.find((g: { id: string }) => g.id === started.body.generationId);
    expect(mine).toMatchObject({ state: 'verified', trigger: 'operator', lastVerification: { ok: true } });
    expect(mine.tables.find((t: { name: string }) => t.name === 'tenants').rows).toBeGreaterThan(0);

    // Several sent at once: one restore test runs, the others are refused (each would copy every clinic into a scratch database).
    const sent = await Promise.all(Array.from({ length: 5 }, () => call(stack.operatorUrl, 'POST', `/v1/operator/backups/${mine.id}/restore-test`, { headers: auth })));
    expect(sent.map((r) => r.status).sort()).toEqual([202, 409, 409, 409, 409]);
    expect(sent.filter((r) => r.status === 409).map((r) => r.body.code)).toEqual(Array(4).fill('restore_test_running'));
    const test = sent.find((r) => r.status === 202)!;
    await stack.temporal.client.workflow.getHandle(test.body.workflowId).result();
    const tests = await call(stack.operatorUrl, 'GET', `/v1/operator/backups/${mine.id}/restore-tests`, { headers: auth });
    expect(tests.status).toBe(200);
    expect(tests.body.items[0]).toMatchObject({ id: test.body.restoreTestId, state: 'passed' });
    expect((await call(stack.operatorUrl, 'GET', `/v1/operator/backups/${randomUUID()}/restore-tests`, { headers: auth })).status).toBe(404);
    // In the platform operation log, naming the operator (the break-glass token here).
    const actions = await stack.database.ownerDb('platform_audit_events').whereIn('action', ['backup.start', 'backup.restore_test']);
    expect(actions.map((a) => [a.action, a.actorId, a.actorName]).sort()).toEqual([['backup.restore_test', 'break-glass', 'break-glass'], ['backup.start', 'break-glass', 'break-glass']]);
  }, 120_000);

  it('restores a clinic\'s data after its key was rotated following the backup', async () => {
    const c = await bookingClinic(stack);
    const { generationId } = await run<typeof backupWorkflow>('backupWorkflow', [{ trigger: 'operator' }]);
    const rotation = await call(stack.operatorUrl, 'POST', `/v1/operator/tenants/${c.clinic.id}/key-rotation`, { headers: { authorization: `Bearer ${stack.operatorToken}` } });
    expect(rotation.status).toBe(202);
    await stack.temporal.client.workflow.getHandle(rotation.body.workflowId).result();

    const scratch = await restoreToScratch(createBackupStoreOfStack(), generationId);
    expect(scratch.outcome.ok).toBe(true);
    const db = createDb({ url: scratch.appUrl, poolMax: 1 });
    try {
      const row = await withTenant(db, c.clinic.id, (trx) => trx('patients').where({ id: c.patientId }).first());
      const vault = new Vault(db, createKeyProvider(stack.config));
      // The restored data key is still wrapped under the master key version the rotation retired.
      expect(await vault.decryptText(c.clinic.id, `patients.name:${c.patientId}`, row.nameSealed)).toBe('山田 花子');
    } finally {
      await db.destroy();
      await scratch.drop();
    }
  }, 120_000);

  it('writes, verifies and restores a generation through an S3-compatible store (s3rver)', async () => {
    const store = s3BackupStore({ bucket: process.env.TEST_S3_BUCKET!, region: 'ap-northeast-1', endpoint: process.env.TEST_S3_ENDPOINT, forcePathStyle: true });
    const provider = createKeyProvider(stack.config);
    const id = randomUUID();
    const manifest = await writeGeneration({ store, provider, backupUrl: stack.config.BACKUP_DATABASE_URL!, keyVersion: 1 }, id, () => undefined);
    expect((await store.list(`generations/${id}/`)).length).toBe(manifest.tables.length + 1);
    try {
      await expectVerifiesAndRestores(store, provider, id);
    } finally {
      await store.deletePrefix(`generations/${id}/`);
    }
    expect(await store.list(`generations/${id}/`)).toEqual([]);
  }, 120_000);

  it('still verifies and restores a generation written with gzip, as before zstd; new ones record zstd in the manifest', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'forclinic-gzip-generation-'));
    const store = fsBackupStore(dir);
    const provider = createKeyProvider(stack.config);
    try {
      const fresh = await writeGeneration({ store, provider, backupUrl: stack.config.BACKUP_DATABASE_URL!, keyVersion: 1 }, randomUUID(), () => undefined);
      expect(fresh.tables.every((t) => t.compression === 'zstd')).toBe(true);
      const id = randomUUID();
      const old = await writeGeneration({ store, provider, backupUrl: stack.config.BACKUP_DATABASE_URL!, keyVersion: 1, compression: 'gzip' }, id, () => undefined);
      expect(old.tables.every((t) => t.compression === 'gzip')).toBe(true);
      await expectVerifiesAndRestores(store, provider, id);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  describe('S3 Object Lock (VersityGW, an S3 server with versioning and Object Lock)', () => {
    let gw: VersityGw;
    let dir: string;
    const region = 'ap-northeast-1';
    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'versitygw-'));
      gw = await startVersityGw({ dataDir: dir, region });
      const admin = s3Client({ bucket: 'unused', region, endpoint: gw.endpoint, forcePathStyle: true });
      await admin.send(new CreateBucketCommand({ Bucket: 'locked-backups', ObjectLockEnabledForBucket: true }));
      await admin.send(new CreateBucketCommand({ Bucket: 'plain-backups' }));
    }, 300_000);
    afterAll(async () => {
      await gw?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it('locks every object of a generation until it could first be pruned: no version can be deleted, yet it verifies, restores and prunes', async () => {
      const store = s3BackupStore({ bucket: 'locked-backups', region, endpoint: gw.endpoint, forcePathStyle: true });
      const s3 = s3Client({ bucket: 'locked-backups', region, endpoint: gw.endpoint, forcePathStyle: true });
      const provider = createKeyProvider(stack.config);
      const now = new Date();
      const lock = await generationLock(store, { policy: 'auto', mode: 'COMPLIANCE', keep: 7, now });
      expect(lock).toEqual({ mode: 'COMPLIANCE', retainUntil: new Date(now.getTime() + 8 * 86_400_000) });
      const id = randomUUID();
      const manifest = await writeGeneration({ store, provider, backupUrl: stack.config.BACKUP_DATABASE_URL!, keyVersion: 1, lock }, id, () => undefined);
      const keys = await store.list(`generations/${id}/`);
      expect(keys).toHaveLength(manifest.tables.length + 1);
      for (const key of keys) {
        const head = await s3.send(new HeadObjectCommand({ Bucket: 'locked-backups', Key: key }));
        expect([key, head.ObjectLockMode]).toEqual([key, 'COMPLIANCE']);
        // S3 keeps the date to the second.
        expect(Math.abs(head.ObjectLockRetainUntilDate!.getTime() - lock!.retainUntil.getTime())).toBeLessThan(1_000);
      }
      // Whoever holds the bucket's credentials cannot destroy a version before its time.
      const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: 'locked-backups', Prefix: `generations/${id}/` }));
      const manifestVersion = versions.Versions!.find((v) => v.Key === `generations/${id}/manifest`)!;
      const refused = await s3.send(new DeleteObjectCommand({ Bucket: 'locked-backups', Key: manifestVersion.Key, VersionId: manifestVersion.VersionId })).then(() => undefined, (e: { name: string }) => e.name);
      expect(refused).toBe('AccessDenied');

      expect(await verifyGeneration(store, provider, id, null)).toEqual({ ok: true, problems: [] });
      const scratch = await restoreToScratch(store, id);
      try {
        expect(scratch.outcome.ok).toBe(true);
      } finally {
        await scratch.drop();
      }
      // Pruning still succeeds (delete markers); the locked versions stay until their date.
      await store.deletePrefix(`generations/${id}/`);
      expect(await store.list(`generations/${id}/`)).toEqual([]);
      const after = await s3.send(new ListObjectVersionsCommand({ Bucket: 'locked-backups', Prefix: `generations/${id}/` }));
      expect(after.Versions).toHaveLength(keys.length);
    }, 180_000);

    it('writes unlocked to a bucket without Object Lock, unless BACKUP_S3_OBJECT_LOCK=required, which refuses the backup', async () => {
      const plain = s3BackupStore({ bucket: 'plain-backups', region, endpoint: gw.endpoint, forcePathStyle: true });
      expect(await plain.objectLockEnabled()).toBe(false);
      expect(await generationLock(plain, { policy: 'auto', mode: 'COMPLIANCE', keep: 7, now: new Date() })).toBeUndefined();
      await expect(generationLock(plain, { policy: 'required', mode: 'COMPLIANCE', keep: 7, now: new Date() })).rejects.toMatchObject({ name: 'BackupMisconfigured', message: expect.stringMatching(/no S3 Object Lock/) });
      const locked = s3BackupStore({ bucket: 'locked-backups', region, endpoint: gw.endpoint, forcePathStyle: true });
      expect(await generationLock(locked, { policy: 'off', mode: 'COMPLIANCE', keep: 7, now: new Date() })).toBeUndefined();
      // s3rver has no Object Lock at all: the same as a bucket without it.
      expect(await s3BackupStore({ bucket: process.env.TEST_S3_BUCKET!, region, endpoint: process.env.TEST_S3_ENDPOINT, forcePathStyle: true }).objectLockEnabled()).toBe(false);
    });
  });

  it('npm run restore: restores into an empty target, refuses a non-empty one, and replaces it with --force', async () => {
    const { generationId } = await run<typeof backupWorkflow>('backupWorkflow', [{ trigger: 'operator' }]);
    const admin = stack.config.RESTORE_TEST_DATABASE_URL!;
    const name = `test_dr_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    await ensureDatabase(admin, name);
    const restore = (...extra: string[]) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', '..', 'scripts', 'restore.ts'), '--generation', generationId, '--target', withDatabase(admin, name), ...extra], {
        env: { ...process.env, BACKUP_DIR: stack.config.BACKUP_DIR, KEY_PROVIDER: 'kms', KMS_ENDPOINT: process.env.TEST_KMS_ENDPOINT },
      }).then(
        (r) => ({ code: 0, out: r.stdout + r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
      );
    try {
      const first = await restore();
      expect(first).toMatchObject({ code: 0 });
      expect(first.out).toMatch(/counts and checksums equal the manifest/);
      const again = await restore();
      expect(again.code).toBe(1);
      expect(again.out).toMatch(/the target is not empty .*--force/);
      const forced = await restore('--force');
      expect(forced).toMatchObject({ code: 0 });
      // Every clinic's authentication generation is past any number an API process could have
      // kept from the target before (db/session-auth-cache.ts): 2^40 past the backed-up counters.
      const target = new PgClient({ connectionString: withDatabase(admin, name) });
      await target.connect();
      try {
        const { rows } = await target.query<{ generation: string }>('select generation from auth_generations');
        expect(rows.length).toBeGreaterThan(0);
        for (const { generation } of rows) expect(BigInt(generation) >= 2n ** 40n).toBe(true);
      } finally {
        await target.end();
      }
    } finally {
      await dropDatabase(admin, name);
    }
  }, 120_000);

  it('skips while another backup runs, but takes over from one abandoned for over a day', async () => {
    const owner = stack.database.ownerDb;
    const stale = { id: randomUUID(), workflowId: 'dead', trigger: 'schedule', state: 'running', store: 'test', startedAt: new Date(Date.now() - 2 * 3_600_000) };
    await owner('backup_generations').insert(stale);
    expect(await run<typeof backupWorkflow>('backupWorkflow', [{ trigger: 'schedule' }])).toMatchObject({ outcome: 'skipped' });
    await owner('backup_generations').where({ id: stale.id }).update({ startedAt: new Date(Date.now() - 25 * 3_600_000) });
    expect(await run<typeof backupWorkflow>('backupWorkflow', [{ trigger: 'schedule' }])).toMatchObject({ outcome: 'verified' });
    expect(await owner('backup_generations').where({ id: stale.id }).first()).toMatchObject({
      // Failed, and pruned at once when older than the generations retention keeps.
      state: expect.stringMatching(/^(failed|pruned)$/),
      error: expect.stringMatching(/abandoned/),
    });
  }, 60_000);

  it('schedules the backup daily at 01:00 Asia/Tokyo, skipping overlaps, with a bounded catch-up window', async () => {
    const prefix = `test-${randomUUID().slice(0, 8)}-`;
    await ensureSchedules(stack.temporal.client, stack.config.TEMPORAL_TASK_QUEUE, prefix);
    const ids = await ensureSchedules(stack.temporal.client, stack.config.TEMPORAL_TASK_QUEUE, prefix); // again: updates, no error
    try {
      const backup = await stack.temporal.client.schedule.getHandle(`${prefix}${BACKUP_SCHEDULE_ID}`).describe();
      expect(backup.spec.timezone).toBe('Asia/Tokyo');
      expect(backup.spec.calendars).toEqual([expect.objectContaining({ hour: [{ start: 1, end: 1, step: 1 }], minute: [{ start: 0, end: 0, step: 1 }] })]);
      expect(backup.policies).toMatchObject({ overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: 6 * 3_600_000 });
      expect(backup.action).toMatchObject({ workflowType: 'backupWorkflow', args: [{ trigger: 'schedule' }] });
      const verification = await stack.temporal.client.schedule.getHandle(`${prefix}${BACKUP_VERIFICATION_SCHEDULE_ID}`).describe();
      expect(verification.spec.timezone).toBe('Asia/Tokyo');
      const restore = await stack.temporal.client.schedule.getHandle(`${prefix}${RESTORE_TEST_SCHEDULE_ID}`).describe();
      expect(restore.spec.calendars?.[0]).toMatchObject({ month: [{ start: 'FEBRUARY', end: 'FEBRUARY', step: 1 }], dayOfMonth: [{ start: 1, end: 1, step: 1 }] });
    } finally {
      for (const id of ids) await stack.temporal.client.schedule.getHandle(id).delete();
    }
  });
});

const createBackupStoreOfStack = () => createBackupStore(stack.config);
