import { isUuid } from '../../domain/ids';
import type { Knex } from 'knex';
import { recordPlatformEntry } from '../../db/platform-log';
import { addNoticeTargets, findNotice, insertNotice, insertNoticeMessage, clinicsNotToTell, type NewNotice, type NoticeRow } from '../../db/notices';
import type { SearchAttributeValues, WorkflowIntent } from '../../db/outbox';
import { enterPlatform, type PlatformTransaction } from '../../db/platform-scope';
import type { AffectedClinics, NoticeKind } from '../../domain/notices';
import { notFound, validationFailed } from '../../domain/problems';
import { taskQueues } from '../../workers/task-queues';
import type { noticeChangedSignal } from '../../workflows/notice-messages';
import { commitPlatformThenDispatch } from '../commit-then-dispatch';
import type { Actor, Services } from '../deps';

/**
 * What every operator command on a notice shares: one platform transaction holding the change,
 * the operators' operation-log entry (naming the actor) and the workflow intent, committed
 * together and dispatched after commit (commit-then-dispatch.ts).
 */
export type NoticeDeps = Pick<Services, 'db' | 'outbox' | 'taskQueue'>;

export const mailTaskQueue = (deps: Pick<Services, 'taskQueue'>) => taskQueues(deps.taskQueue).mail;

export function platformCommand<T>(
  deps: NoticeDeps,
  actor: Actor,
  work: (trx: PlatformTransaction, ctx: { audit: (entry: Parameters<typeof recordPlatformEntry>[2]) => Promise<void>; enqueue: (intent: WorkflowIntent) => Promise<void> }) => Promise<T>,
): Promise<T> {
  return commitPlatformThenDispatch(deps, async (trx: Knex.Transaction, enqueue) => {
    const platform = await enterPlatform(trx);
    return work(platform, {
      audit: (entry) => recordPlatformEntry(platform, actor.audit, entry),
      enqueue: (intent) => enqueue(null, intent),
    });
  });
}

/** The notice, locked for this transaction, or 404. */
export async function lockedNotice(trx: PlatformTransaction, id: string, kind: NoticeKind): Promise<NoticeRow> {
  // An id that is not a UUID names nothing; it must not reach a uuid column (a 500 there).
  const notice = isUuid(id) ? await findNotice(trx, id, kind, { lock: true }) : undefined;
  if (!notice) throw notFound(`No such ${kind === 'change' ? 'change notice' : kind}.`);
  return notice;
}

/**
 * Adds target clinics; names every id that is not a clinic, or whose data the contract-end purge
 * has deleted (or is deleting), with 400 rather than skipping it: the operator must know who is
 * not told. 'all' means every clinic that can still be told.
 */
export async function addTargets(trx: PlatformTransaction, noticeId: string, clinics: AffectedClinics): Promise<number> {
  if (clinics !== 'all') {
    const { unknown, purged } = await clinicsNotToTell(trx, clinics);
    const problems = [
      ...unknown.map((id) => ({ field: 'affectedTenantIds', message: `no clinic has the id ${id}` })),
      ...purged.map((id) => ({ field: 'affectedTenantIds', message: `the clinic ${id} has been deleted after its contract ended (or is being deleted): there is no one to tell` })),
    ];
    if (problems.length > 0) throw validationFailed(problems);
  }
  return addNoticeTargets(trx, noticeId, clinics);
}

/**
 * A new incident or change notice: the notice, its first message, its targets, the log entry and
 * the start of its workflow (ids only), in the caller's platform transaction.
 */
export async function openNotice(
  trx: PlatformTransaction,
  ctx: { audit: (entry: Parameters<typeof recordPlatformEntry>[2]) => Promise<void>; enqueue: (intent: WorkflowIntent) => Promise<void> },
  n: NewNotice & {
    targets: AffectedClinics;
    firstStatus?: string;
    workflowIdOf: (id: string) => string;
    action: string;
    details: Record<string, unknown>;
    start: (id: string) => NoticeStart;
  },
): Promise<{ id: string; reference: string; workflowId: string }> {
  const { id, reference } = await insertNotice(trx, n, n.workflowIdOf);
  await insertNoticeMessage(trx, { noticeId: id, kind: 'initial', status: n.firstStatus ?? null });
  const clinics = await addTargets(trx, id, n.targets);
  const workflowId = n.workflowIdOf(id);
  await ctx.audit({ action: n.action, outcome: 'success', targetType: n.kind, targetId: id, details: { reference, ...n.details, clinics, allClinics: n.targets === 'all', workflowId } });
  await ctx.enqueue({ kind: 'start', workflowId, ...n.start(id) });
  return { id, reference, workflowId };
}

/** How a notice's workflow is started: the same for its first start and for a change that finds no run. */
export type NoticeStart = { workflowType: string; args: unknown[]; searchAttributes?: SearchAttributeValues };

/**
 * "The notice changed" (an update, more clinics, a cancellation): wakes its workflow to reload it,
 * or starts it again if its run has ended abnormally (failed after a long outage, or terminated by
 * an operator). A plain signal was then refused as "workflow gone" and the change never mailed.
 * A fresh run reloads everything and mails only the deliveries not yet made (each is mailed once).
 * Changes after a normal end are refused by the API (a resolved incident, a change in effect).
 */
export const noticeChanged = (workflowId: string, start: NoticeStart): WorkflowIntent => ({
  kind: 'signal_with_start',
  workflowId,
  ...start,
  signal: 'noticeChanged' satisfies (typeof noticeChangedSignal)['name'],
  signalArgs: [],
});
