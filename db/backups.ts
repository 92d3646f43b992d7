import type { Knex } from 'knex';
import type { Manifest } from '../lib/backup/manifest';
import type { VerificationProblem } from '../lib/backup/verify';
import type { Db } from './connection';
import type { Keyset } from '../domain/pagination';

/**
 * Backup generations, their verifications and restore tests, and the operators' own operation
 * log. Platform rows: row-level security shows them only outside any clinic's scope
 * (migration 20261231000001_backups), so these functions take the plain pool, never withTenant.
 */
export type GenerationState = 'running' | 'written' | 'verified' | 'failed' | 'pruned';
export type Trigger = 'schedule' | 'operator';

export interface GenerationRow {
  id: string;
  workflowId: string;
  trigger: Trigger;
  state: GenerationState;
  startedAt: Date;
  finishedAt: Date | null;
  store: string;
  sizeBytes: string | null;
  keyId: string | null;
  manifest: Manifest | null;
  error: string | null;
  failureMailedAt: Date | null;
}

/**
 * Starts a generation: 'inserted', 'exists' (a retry of the same start), or 'busy' (another
 * generation is running: the partial unique index allows one at a time).
 */
export async function insertRunningGeneration(db: Db | Knex.Transaction, g: { id: string; workflowId: string; trigger: Trigger; store: string }): Promise<'inserted' | 'exists' | 'busy'> {
  // ON CONFLICT DO NOTHING (no target) covers both the id and the one-running index, without an
  // error that would abort the caller's transaction.
  const inserted = await db.raw(
    `insert into backup_generations (id, workflow_id, trigger, state, store) values (?, ?, ?, 'running', ?) on conflict do nothing returning id`,
    [g.id, g.workflowId, g.trigger, g.store],
  );
  if (inserted.rows.length) return 'inserted';
  return (await db('backup_generations').where({ id: g.id }).first('id')) ? 'exists' : 'busy';
}

/**
 * A generation still `running` after this long belongs to a workflow that can no longer finish
 * it (its activities give up well before: 3 attempts of at most 6 hours): it is marked failed so
 * it cannot block every later backup, which would otherwise be skipped night after night.
 */
export const ABANDONED_AFTER_HOURS = 24;

export async function failAbandonedGenerations(db: Db): Promise<string[]> {
  const rows: Array<{ id: string }> = await db('backup_generations')
    .where({ state: 'running' })
    .where('started_at', '<', db.raw(`now() - interval '${ABANDONED_AFTER_HOURS} hours'`))
    .update({ state: 'failed', error: `abandoned: still running after ${ABANDONED_AFTER_HOURS} hours`, finishedAt: db.fn.now() })
    .returning('id');
  return rows.map((r) => r.id);
}

/**
 * Generations still `running` or `written` (stored, not yet verified) and restore tests still
 * `running`, with the workflow that should finish each.
 */
export async function runningBackupWork(db: Db): Promise<{
  generations: Array<{ id: string; workflowId: string; state: 'running' | 'written' }>;
  restoreTests: Array<{ id: string; workflowId: string; generationId: string }>;
}> {
  const [generations, restoreTests] = await Promise.all([
    db('backup_generations').whereIn('state', ['running', 'written']).select('id', 'workflow_id', 'state'),
    db('backup_restore_tests').where({ state: 'running' }).select('id', 'workflow_id', 'generation_id'),
  ]);
  return { generations, restoreTests };
}

/** Ids of restore tests that ended (passed or failed) in the last `days` days. */
export async function finishedRestoreTests(db: Db, days: number): Promise<string[]> {
  return db('backup_restore_tests')
    .whereNot({ state: 'running' })
    .where('started_at', '>', db.raw('now() - make_interval(days => ?)', [days]))
    .pluck('id');
}

export async function getGeneration(db: Db, id: string): Promise<GenerationRow | undefined> {
  return db('backup_generations').where({ id }).first();
}

/** The objects and manifest are all stored: the generation may now be verified. */
export async function markWritten(db: Db, id: string, manifest: Manifest): Promise<void> {
  const size = manifest.tables.reduce((n, t) => n + t.object.bytes, 0);
  await db('backup_generations')
    .where({ id, state: 'running' })
    .update({ state: 'written', manifest: JSON.stringify(manifest), sizeBytes: size, keyId: manifest.key.masterKeyId, finishedAt: db.fn.now() });
}

/** Records one verification; the first good one after writing makes the generation 'verified'. */
export async function recordVerification(db: Db, v: { id: string; generationId: string; workflowId: string; ok: boolean; problems: VerificationProblem[] }): Promise<void> {
  await db.transaction(async (trx) => {
    await trx('backup_verifications')
      .insert({ ...v, problems: JSON.stringify(v.problems) })
      .onConflict(['workflow_id', 'generation_id'])
      .merge(['ok', 'problems', 'checked_at']);
    if (v.ok) await trx('backup_generations').where({ id: v.generationId, state: 'written' }).update({ state: 'verified' });
  });
}

/** A failed generation keeps what it wrote (nothing is deleted on failure) and its reason. */
export async function markFailed(db: Db, id: string, error: string): Promise<void> {
  await db('backup_generations')
    .where({ id })
    .whereIn('state', ['running', 'written'])
    .update({ state: 'failed', error: error.slice(0, 2000), finishedAt: db.fn.now() });
}

/** Generations whose generation ids are to be verified daily: those kept. */
export async function generationsToVerify(db: Db): Promise<string[]> {
  return (await db('backup_generations').whereIn('state', ['written', 'verified']).orderBy('started_at', 'desc').select('id')).map((r: { id: string }) => r.id);
}

/** The latest verification of each of these generations. */
async function latestVerifications(db: Db, ids: string[]): Promise<Array<{ generationId: string; checkedAt: Date; ok: boolean; problems: VerificationProblem[] }>> {
  return db('backup_verifications')
    .distinctOn('generation_id')
    .whereIn('generation_id', ids)
    .orderBy([{ column: 'generation_id' }, { column: 'checked_at', order: 'desc' }])
    .select('generation_id', 'checked_at', 'ok', 'problems');
}

/**
 * What retention removes: every finished generation older than the `keep` newest good ones — a
 * good one is verified and its latest check passed (a generation the daily check found damaged
 * no longer counts as kept). Nothing while fewer than `keep` are good, so a run of failures
 * never eats into what is left.
 */
export async function generationsToPrune(db: Db, keep: number): Promise<GenerationRow[]> {
  const verified: Array<{ id: string; startedAt: Date }> = await db('backup_generations').where({ state: 'verified' }).orderBy('started_at', 'desc').select('id', 'started_at');
  const latest = await latestVerifications(db, verified.map((g) => g.id));
  const ok = new Set(latest.filter((v) => v.ok).map((v) => v.generationId));
  const good = verified.filter((g) => ok.has(g.id)).slice(0, keep);
  if (good.length < keep) return [];
  const keptIds = new Set(good.map((g) => g.id));
  const oldestKept = good[good.length - 1]!.startedAt;
  const older: GenerationRow[] = await db('backup_generations').whereIn('state', ['verified', 'written', 'failed']).where('started_at', '<', oldestKept).orderBy('started_at');
  return older.filter((g) => !keptIds.has(g.id));
}

export async function markPruned(db: Db, id: string): Promise<void> {
  await db('backup_generations').where({ id }).whereNot({ state: 'running' }).update({ state: 'pruned' });
}

export type MailMark = { table: 'backup_generations' | 'backup_verifications' | 'backup_restore_tests'; id: string };

export async function failureMailed(db: Db, m: MailMark): Promise<boolean> {
  const row = await db(m.table).where({ id: m.id }).first('failure_mailed_at');
  return Boolean(row?.failureMailedAt);
}

export async function markFailureMailed(db: Db, m: MailMark): Promise<void> {
  await db(m.table).where({ id: m.id }).whereNull('failure_mailed_at').update({ failureMailedAt: db.fn.now() });
}

export interface GenerationListItem extends GenerationRow {
  lastCheckedAt: Date | null;
  lastOk: boolean | null;
  lastProblems: VerificationProblem[] | null;
}

/**
 * Generations newest first, `limit` of them after `before` (a keyset on started_at, id; the
 * keyset's createdAt is the started_at of the last row of the previous page, at microseconds).
 */
export async function listGenerations(db: Db, limit: number, before?: Keyset): Promise<Array<GenerationListItem & { cursorTs: string }>> {
  const generations: Array<GenerationRow & { cursorTs: string }> = await db('backup_generations')
    .select('*', db.raw(`to_char(started_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as "cursorTs"`))
    .modify((q) => {
      if (before) q.whereRaw('(started_at, id) < (?::timestamptz, ?::uuid)', [before.createdAt, before.id]);
    })
    .orderBy([{ column: 'started_at', order: 'desc' }, { column: 'id', order: 'desc' }])
    .limit(limit);
  const latest = await latestVerifications(db, generations.map((g) => g.id));
  const byId = new Map(latest.map((v) => [v.generationId, v]));
  return generations.map((g) => {
    const v = byId.get(g.id);
    return { ...g, lastCheckedAt: v?.checkedAt ?? null, lastOk: v?.ok ?? null, lastProblems: v?.problems ?? null };
  });
}

export interface RestoreTestRow {
  id: string;
  generationId: string;
  workflowId: string;
  trigger: Trigger;
  state: 'running' | 'passed' | 'failed';
  startedAt: Date;
  finishedAt: Date | null;
  durationMs: number | null;
  tables: Array<{ name: string; rows: number; expectedRows: number; checksumOk: boolean }> | null;
  error: string | null;
}

export async function latestVerifiedGeneration(db: Db): Promise<string | undefined> {
  return (await db('backup_generations').where({ state: 'verified' }).orderBy('started_at', 'desc').first('id'))?.id;
}

export async function insertRestoreTest(db: Db | Knex.Transaction, r: { id: string; generationId: string; workflowId: string; trigger: Trigger }): Promise<void> {
  await db('backup_restore_tests').insert({ ...r, state: 'running' }).onConflict('id').ignore();
}

/**
 * A restore test still running that started within `withinHours`, after waiting for any other
 * transaction asking the same (a transaction-scoped advisory lock): so starts sent at once see
 * each other. An older row still `running` (its workflow ended without saying so) does not count.
 */
export async function runningRestoreTest(trx: Knex.Transaction, withinHours: number): Promise<{ id: string } | undefined> {
  await trx.raw(`select pg_advisory_xact_lock(hashtext('backup_restore_test_start'))`);
  return trx('backup_restore_tests').where({ state: 'running' }).where('started_at', '>', trx.raw(`now() - make_interval(hours => ?)`, [withinHours])).first('id');
}

export async function getRestoreTest(db: Db, id: string): Promise<RestoreTestRow | undefined> {
  return db('backup_restore_tests').where({ id }).first();
}

export async function finishRestoreTest(db: Db, id: string, r: { passed: boolean; durationMs?: number; tables?: RestoreTestRow['tables']; error?: string }): Promise<void> {
  await db('backup_restore_tests')
    .where({ id, state: 'running' })
    .update({
      state: r.passed ? 'passed' : 'failed',
      finishedAt: db.fn.now(),
      durationMs: r.durationMs ?? null,
      tables: r.tables ? JSON.stringify(r.tables) : null,
      error: r.error?.slice(0, 2000) ?? null,
    });
}

export async function listRestoreTests(db: Db, generationId: string): Promise<RestoreTestRow[]> {
  return db('backup_restore_tests').where({ generationId }).orderBy('started_at', 'desc').limit(100);
}

/** Kept here for callers that know it by this module: it writes the platform operation log (db/platform-log.ts). */
export { recordOperatorAction } from './platform-log';
