import { insertNoticeMessage, setNoticeStatus } from '../../db/notices';
import { checkLeadTime, type CreateChangeNoticeInput } from '../../domain/notices';
import { conflict } from '../../domain/problems';
import { changeNoticeWorkflowId } from '../../temporal/workflow-ids';
import type { ChangeNoticeInput } from '../../workflows/change-notice';
import type { Actor, Services } from '../deps';
import { lockedNotice, mailTaskQueue, noticeChanged, openNotice, platformCommand, type NoticeDeps, type NoticeStart } from './notice-commands';

export interface ChangeNoticeSettings {
  /** Reminders this many seconds before the change (CHANGE_NOTICE_LEAD_SECONDS). */
  leadTimesSec: number[];
  /** Announcing later than this before the change needs `urgent` (CHANGE_NOTICE_MIN_LEAD_SECONDS). */
  minLeadSec: number;
}

/**
 * An advance notice of a change: refused with 400 too_late when the first mail could not go out
 * the minimum lead time before the change, unless the operator flags it urgent (then the mail
 * says so, and so do the operation log and the service log).
 */
export async function createChangeNotice(
  deps: NoticeDeps & Pick<Services, 'log'> & { changeNotices: ChangeNoticeSettings },
  actor: Actor,
  input: CreateChangeNoticeInput,
): Promise<{ id: string; reference: string; workflowId: string }> {
  checkLeadTime(Date.parse(input.effectiveAt), Date.now(), deps.changeNotices.minLeadSec, input.urgent);
  const effectiveAt = new Date(input.effectiveAt).toISOString();
  const created = await platformCommand(deps, actor, (trx, ctx) =>
    openNotice(trx, ctx, {
      kind: 'change',
      title: input.title,
      body: input.body,
      status: 'scheduled',
      effectiveAt,
      urgent: input.urgent,
      targets: input.affectedTenantIds,
      workflowIdOf: changeNoticeWorkflowId,
      action: 'change_notice.create',
      details: { effectiveAt, urgent: input.urgent },
      start: (id) => changeNoticeStart(deps, id, effectiveAt),
    }),
  );
  if (input.urgent) deps.log.warn({ changeNoticeId: created.id, reference: created.reference, effectiveAt: input.effectiveAt }, 'urgent change notice: announced with less than the minimum lead time');
  return created;
}

/** The change notice's workflow: ids, the moment and the lead times only. */
const changeNoticeStart = (deps: NoticeDeps & { changeNotices: ChangeNoticeSettings }, changeNoticeId: string, effectiveAt: string): NoticeStart => ({
  workflowType: 'changeNoticeWorkflow',
  args: [{ changeNoticeId, mailTaskQueue: mailTaskQueue(deps), effectiveAt, leadTimesSec: deps.changeNotices.leadTimesSec }] satisfies [ChangeNoticeInput],
});

/** Cancels a change that has not taken effect; its workflow mails the cancellation to everyone told. */
export async function cancelChangeNotice(deps: NoticeDeps & { changeNotices: ChangeNoticeSettings }, actor: Actor, id: string): Promise<{ id: string; status: 'cancelled' }> {
  return platformCommand(deps, actor, async (trx, { audit, enqueue }) => {
    const notice = await lockedNotice(trx, id, 'change');
    if (notice.status !== 'scheduled') throw conflict('invalid_transition', `A change notice that is ${notice.status} cannot be cancelled.`);
    const message = await insertNoticeMessage(trx, { noticeId: id, kind: 'cancellation' });
    await setNoticeStatus(trx, id, 'cancelled', true);
    await audit({ action: 'change_notice.cancel', outcome: 'success', targetType: 'change_notice', targetId: id, details: { reference: notice.reference, messageSeq: message.seq } });
    await enqueue(noticeChanged(notice.workflowId!, changeNoticeStart(deps, id, notice.effectiveAt!.toISOString())));
    return { id, status: 'cancelled' };
  });
}
