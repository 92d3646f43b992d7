import { randomUUID } from 'node:crypto';
import { getGeneration, insertRestoreTest, insertRunningGeneration, listGenerations, listRestoreTests, runningRestoreTest } from '../../db/backups';
import { decodeCursor, encodeCursor } from '../../domain/pagination';
import { recordOperatorAction } from '../../db/platform-log';
import { conflict, notFound } from '../../domain/problems';
import type { BackupInput } from '../../workflows/backup';
import type { RestoreTestInput } from '../../workflows/restore-test';
import { commitPlatformThenDispatch } from '../commit-then-dispatch';
import type { Actor, Services } from '../deps';

/**
 * Operators' backup actions. Each is one transaction — the row, the operator-log entry and the
 * workflow start (outbox) commit together — and the start is sent after commit; the workflow
 * does the work. Only one backup runs at a time (409 backup_running).
 */
export const backupWorkflowId = (generationId: string) => `backup/${generationId}`;
export const restoreTestWorkflowId = (restoreTestId: string) => `restore-test/${restoreTestId}`;

export async function startBackup(deps: Pick<Services, 'db' | 'outbox'> & { backupStore: string }, actor: Actor): Promise<{ generationId: string; workflowId: string }> {
  const generationId = randomUUID();
  const workflowId = backupWorkflowId(generationId);
  return commitPlatformThenDispatch(deps, async (trx, enqueue) => {
    const outcome = await insertRunningGeneration(trx, { id: generationId, workflowId, trigger: 'operator', store: deps.backupStore });
    if (outcome === 'busy') throw conflict('backup_running', 'A backup is running; wait for it to finish.');
    await recordOperatorAction(trx, actor.audit, { action: 'backup.start', targetType: 'backup_generation', targetId: generationId, details: { workflowId } });
    const input: BackupInput = { generationId, trigger: 'operator' };
    await enqueue(null, { kind: 'start', workflowId, workflowType: 'backupWorkflow', args: [input] });
    return { generationId, workflowId };
  });
}

/** A restore test `running` for longer than this is taken for one whose workflow ended without saying so. */
const RESTORE_TEST_STALE_HOURS = 6;

export async function startRestoreTest(deps: Pick<Services, 'db' | 'outbox'>, actor: Actor, generationId: string): Promise<{ restoreTestId: string; workflowId: string }> {
  const generation = await getGeneration(deps.db, generationId);
  if (!generation) throw notFound();
  if (generation.state !== 'verified') throw conflict('generation_not_verified', `Generation ${generationId} is ${generation.state}; only verified generations are restore-tested.`);
  const restoreTestId = randomUUID();
  const workflowId = restoreTestWorkflowId(restoreTestId);
  return commitPlatformThenDispatch(deps, async (trx, enqueue) => {
    // One at a time: each restores every clinic into a scratch database of its own on the
    // verification server; fifteen sent at once made fifteen full copies there.
    const running = await runningRestoreTest(trx, RESTORE_TEST_STALE_HOURS);
    if (running) throw conflict('restore_test_running', `Restore test ${running.id} is running; wait for it to finish.`);
    await insertRestoreTest(trx, { id: restoreTestId, generationId, workflowId, trigger: 'operator' });
    await recordOperatorAction(trx, actor.audit, { action: 'backup.restore_test', targetType: 'backup_generation', targetId: generationId, details: { restoreTestId, workflowId } });
    const input: RestoreTestInput = { restoreTestId, generationId, trigger: 'operator' };
    await enqueue(null, { kind: 'start', workflowId, workflowType: 'restoreTestWorkflow', args: [input] });
    return { restoreTestId, workflowId };
  });
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export async function readBackups(deps: Pick<Services, 'db'>, actor: Actor, page: { limit: number; cursor?: string }) {
  const before = decodeCursor(page.cursor);
  const rows = await listGenerations(deps.db, page.limit + 1, before);
  const items = rows.slice(0, page.limit);
  const last = items.at(-1);
  await recordOperatorAction(deps.db, actor.audit, { action: 'backup.list', details: { count: items.length } });
  return {
    nextCursor: rows.length > page.limit && last ? encodeCursor({ createdAt: last.cursorTs, id: last.id }) : null,
    items: items.map((g) => ({
      id: g.id,
      workflowId: g.workflowId,
      trigger: g.trigger,
      state: g.state,
      startedAt: g.startedAt.toISOString(),
      finishedAt: iso(g.finishedAt),
      sizeBytes: g.sizeBytes === null ? null : Number(g.sizeBytes),
      keyId: g.keyId,
      postgresVersion: g.manifest?.postgresVersion ?? null,
      latestMigration: g.manifest?.latestMigration ?? null,
      tables: (g.manifest?.tables ?? []).map((t) => ({ name: t.name, rows: t.rows })),
      error: g.error,
      lastVerification: g.lastCheckedAt
        ? { checkedAt: g.lastCheckedAt.toISOString(), ok: Boolean(g.lastOk), problems: (g.lastProblems ?? []).map((p) => ({ object: p.object, problem: p.problem })) }
        : null,
    })),
  };
}

export async function readRestoreTests(deps: Pick<Services, 'db'>, actor: Actor, generationId: string) {
  if (!(await getGeneration(deps.db, generationId))) throw notFound();
  const rows = await listRestoreTests(deps.db, generationId);
  await recordOperatorAction(deps.db, actor.audit, { action: 'backup.restore_tests.list', targetType: 'backup_generation', targetId: generationId });
  return {
    items: rows.map((r) => ({
      id: r.id,
      generationId: r.generationId,
      workflowId: r.workflowId,
      trigger: r.trigger,
      state: r.state,
      startedAt: r.startedAt.toISOString(),
      finishedAt: iso(r.finishedAt),
      durationMs: r.durationMs,
      tables: r.tables ?? [],
      error: r.error,
    })),
  };
}
