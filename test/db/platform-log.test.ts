import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { recordOperatorAction, verifyPlatformChain } from '../../db/platform-log';
import { withPlatform } from '../../db/platform-scope';
import { createTestDatabase, type TestDatabase } from '../harness/database';

/**
 * The platform operation log is append-only and hash-chained like the clinic logs, and
 * `npm run audit:verify -- --platform` (run here as the real command, as the application's
 * login) finds an edited row, a deleted row and a broken head. Tampering is done as the tables'
 * owner, the only role that can change a row at all.
 */
const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');
let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});

const operator = { actorType: 'operator' as const, actorId: 'op-1', actorName: '運用 花子 (Hanako Unyo)', actorRoles: ['platform-admin'], clientIp: '10.20.0.5', requestId: 'req-1' };

async function verify(...args: string[]): Promise<{ code: number; report: { ok: boolean; checked: number; firstBroken: { seq: number; reason: string } | null } }> {
  const done = await run(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/audit-verify.ts'), '--platform', ...args], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: t.url },
  }).then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout }),
  );
  return { code: done.code, report: JSON.parse(done.stdout) };
}

/** Runs `fn` as the owner and puts things back afterwards. */
async function tampered(fn: () => Promise<unknown>, undo: () => Promise<unknown>) {
  await fn();
  try {
    return await verify();
  } finally {
    await undo();
  }
}

describe('the platform operation log', () => {
  it('chains every entry, names the operator, and verifies', async () => {
    // A fresh database has no entries and no head yet (a restore target must be empty): that verifies.
    expect((await verify()).report).toMatchObject({ ok: true, checked: 0 });
    for (let i = 0; i < 5; i += 1) await recordOperatorAction(t.db, operator, { action: 'backup.list', details: { count: i } });
    await t.db.transaction(async (trx) => recordOperatorAction(trx, operator, { action: 'backup.start', targetType: 'backup_generation', targetId: 'g-1' }));
    const rows = await t.ownerDb('platform_audit_events').orderBy('seq');
    expect(rows.map((r) => [Number(r.seq), r.action, r.actorId, r.actorName])).toEqual([
      ...[1, 2, 3, 4, 5].map((n) => [n, 'backup.list', 'op-1', '運用 花子 (Hanako Unyo)']),
      [6, 'backup.start', 'op-1', '運用 花子 (Hanako Unyo)'],
    ]);
    expect(await verify()).toEqual({ code: 0, report: expect.objectContaining({ ok: true, checked: 6, firstBroken: null }) });
    expect((await verify('2', '4')).report).toMatchObject({ ok: true, checked: 3 });
  }, 60_000);

  it('is append-only for the application, and invisible outside the platform scope', async () => {
    await expect(t.db.transaction(async (trx) => {
      await trx.raw(`select set_config('app.platform', 'on', true)`);
      await trx('platform_audit_events').update({ action: 'nothing' });
    })).rejects.toThrow(/permission denied/);
    await expect(t.db.transaction(async (trx) => {
      await trx.raw(`select set_config('app.platform', 'on', true)`);
      await trx('platform_audit_events').delete();
    })).rejects.toThrow(/permission denied/);
    expect(await t.db('platform_audit_events').count('* as n').first()).toEqual({ n: '0' });
  });

  it('detects an edited row, a deleted row and a broken head', async () => {
    const edited = await tampered(
      () => t.ownerDb.raw(`update platform_audit_events set actor_name = 'someone else' where seq = 3`),
      () => t.ownerDb.raw(`update platform_audit_events set actor_name = ? where seq = 3`, [operator.actorName]),
    );
    expect(edited).toEqual({ code: 1, report: expect.objectContaining({ ok: false, firstBroken: { seq: 3, reason: 'hash_mismatch' } }) });

    const deleted = await tampered(() => removeEntry(4), restoreEntry);
    expect(deleted).toEqual({ code: 1, report: expect.objectContaining({ ok: false, firstBroken: { seq: 4, reason: 'missing_entries' } }) });

    const head = await t.ownerDb('platform_audit_chain_head').first();
    const broken = await tampered(
      () => t.ownerDb('platform_audit_chain_head').update({ hash: Buffer.alloc(32) }),
      () => t.ownerDb('platform_audit_chain_head').update({ hash: head.hash }),
    );
    expect(broken).toEqual({ code: 1, report: expect.objectContaining({ ok: false, firstBroken: { seq: 6, reason: 'head_mismatch' } }) });
    const noHead = await tampered(
      () => t.ownerDb('platform_audit_chain_head').delete(),
      () => t.ownerDb('platform_audit_chain_head').insert(head),
    );
    expect(noHead.report).toMatchObject({ ok: false, firstBroken: { seq: 1, reason: 'head_mismatch' } });

    // The last entry gone: the head still names it.
    const truncated = await tampered(() => removeEntry(6), restoreEntry);
    expect(truncated.report).toMatchObject({ ok: false, firstBroken: { seq: 6, reason: 'missing_entries' } });
    expect((await verify()).report).toMatchObject({ ok: true, checked: 6 });
  }, 120_000);
});

describe('the migration that unified the two platform logs', () => {
  it('moves operator_actions into the platform log and chains the existing rows in the order they happened', async () => {
    const old = await createTestDatabase();
    try {
      // Later migrations stay; only the unification is undone and redone.
      expect(await old.ownerDb.migrate.down({ name: '20270101000004_platform_operation_log' })).toEqual([expect.any(Number), ['20270101000004_platform_operation_log']]);
      await old.ownerDb.raw(`insert into platform_audit_events (occurred_at, actor_type, actor_id, action, outcome, details)
        values ('2026-12-20T01:00:00Z', 'operator', 'operator', 'incident.declare', 'success', '{}'),
               ('2026-12-22T01:00:00Z', 'operator', 'operator', 'incident.update', 'success', '{}')`);
      await old.ownerDb.raw(`insert into operator_actions (at, action, client_ip, details) values ('2026-12-21T01:00:00Z', 'backup.start', '127.0.0.1', '{"workflowId": "backup/1"}')`);
      await old.ownerDb.migrate.latest();
      const rows = await old.ownerDb('platform_audit_events').orderBy('seq');
      expect(rows.map((r) => [Number(r.seq), r.action, r.actorType, r.details])).toEqual([
        [1, 'incident.declare', 'operator', {}],
        [2, 'backup.start', 'operator', { workflowId: 'backup/1', migratedFrom: 'operator_actions' }],
        [3, 'incident.update', 'operator', {}],
      ]);
      expect(await old.ownerDb.raw(`select to_regclass('operator_actions') as t`).then((r) => r.rows[0].t)).toBeNull();
      // New entries continue the chain.
      await recordOperatorAction(old.db, operator, { action: 'backup.list' });
      expect(await withPlatform(old.db, (trx) => verifyPlatformChain(trx))).toMatchObject({ ok: true, checked: 4 });
    } finally {
      await old.drop();
    }
  }, 60_000);
});

/** Deletes an entry as the owner, keeping an exact copy to put back (the chain trigger, which would re-stamp it, is off meanwhile). */
const removeEntry = (seq: number) =>
  t.ownerDb.raw(`create table removed_entry as select * from platform_audit_events where seq = ${Number(seq)}; delete from platform_audit_events where seq = ${Number(seq)}`);
const restoreEntry = () =>
  t.ownerDb.raw(`alter table platform_audit_events disable trigger platform_audit_events_chain;
    insert into platform_audit_events select * from removed_entry;
    alter table platform_audit_events enable trigger platform_audit_events_chain;
    drop table removed_entry;`);
