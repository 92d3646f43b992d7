import { ActivityFailure, ApplicationFailure, executeChild, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { CLINICS_PER_BATCH, PARALLEL_BATCHES, type NoticeProgress } from './notice-messages';

/**
 * Fan-out of a notice's messages to its target clinics' contract addresses, shared by the
 * incident and change-notice workflows.
 *
 * The parent never sees a clinic or an address: it asks for the upper bounds of batches of
 * CLINICS_PER_BATCH targets (numbers: positions in the order clinics were added) and starts one
 * child per batch, PARALLEL_BATCHES at a time. Each child lists its own clinics, creates one
 * delivery row per message and address, and sends each as one activity on the mail task queue,
 * whose workers are rate-limited by the server (maxTaskQueueActivitiesPerSecond). So a parent's
 * history grows by ~3 events per 100 clinics, a child's by ~3 per recipient, whatever the
 * number of clinics.
 */
/** Activities on the main queue (database reads and writes), shared by the notice workflows. */
export const platform = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  // Bounded: about an hour of database outage, then the run fails visibly in the Temporal UI.
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 60 },
});

export interface FanOutRange {
  /** Targets with added_seq in (afterSeq, upToSeq]. */
  afterSeq: number;
  upToSeq: number;
}

export interface NoticeBatchInput extends FanOutRange {
  noticeId: string;
  messageIds: string[];
  mailTaskQueue: string;
  /** Only addresses that already received one of the notice's mails (a cancellation). */
  onlyTold?: boolean;
}

export interface NoticeBatchResult {
  clinics: number;
  recipients: number;
  sent: number;
  failed: number;
}

/** One batch of clinics: every recipient is one activity; one recipient's trouble never holds up another. */
export async function noticeBatchWorkflow(input: NoticeBatchInput): Promise<NoticeBatchResult> {
  const mail = proxyActivities<Activities>({
    taskQueue: input.mailTaskQueue,
    // A provider call is abandoned after 10 s (activities/email.ts); a dead worker's attempt is retried after 30.
    startToCloseTimeout: '30 seconds',
    // Transient errors (throttling, network, SES 5xx) back off to 2 minutes, for about an hour in all.
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 30 },
  });
  const { clinics, chains } = await platform.prepareNoticeBatch({
    noticeId: input.noticeId,
    messageIds: input.messageIds,
    afterSeq: input.afterSeq,
    upToSeq: input.upToSeq,
    onlyTold: input.onlyTold ?? false,
  });
  const result: NoticeBatchResult = { clinics, recipients: chains.length, sent: 0, failed: 0 };
  // Addresses in parallel; one address's messages in order, so an update never overtakes the first notice.
  await Promise.all(
    chains.map(async (chain) => {
      for (const deliveryId of chain) {
        try {
          const outcome = await mail.sendNoticeMail(deliveryId);
          if (outcome === 'failed') result.failed += 1;
          else if (outcome === 'sent') result.sent += 1;
        } catch (err) {
          if (!(err instanceof ActivityFailure)) throw err;
          // Retries exhausted: recorded as failed for the operator, and the others go on.
          const cause = err.cause instanceof ApplicationFailure ? (err.cause.type ?? 'Error') : 'Timeout';
          await platform.giveUpNoticeDelivery({ deliveryId, error: `retries_exhausted:${cause}` });
          result.failed += 1;
        }
      }
    }),
  );
  return result;
}

/**
 * Sends `messageIds` to the targets in `range`, batch by batch, through child workflows with
 * deterministic ids (`<parent>/r<round>/b<n>`), updating `progress` as children finish.
 */
export async function fanOut(
  args: {
    noticeId: string;
    /** The parent's own id (children are `<parentId>/r<round>/b<n>`), derived from its input, not workflowInfo(), so replays of recorded histories match. */
    parentId: string;
    mailTaskQueue: string;
    round: number;
    messageIds: string[];
    range: FanOutRange;
    onlyTold?: boolean;
  },
  progress: NoticeProgress,
): Promise<void> {
  if (args.messageIds.length === 0 || args.range.upToSeq <= args.range.afterSeq) return;
  const bounds = await platform.planNoticeBatches({ noticeId: args.noticeId, afterSeq: args.range.afterSeq, upToSeq: args.range.upToSeq, size: CLINICS_PER_BATCH });
  progress.batchesPlanned = bounds.length;
  progress.batchesDone = 0;
  let next = 0;
  const worker = async () => {
    while (next < bounds.length) {
      const i = next++;
      const child = await executeChild(noticeBatchWorkflow, {
        workflowId: `${args.parentId}/r${args.round}/b${i}`,
        args: [
          {
            noticeId: args.noticeId,
            messageIds: args.messageIds,
            mailTaskQueue: args.mailTaskQueue,
            afterSeq: i === 0 ? args.range.afterSeq : bounds[i - 1]!,
            upToSeq: bounds[i]!,
            onlyTold: args.onlyTold,
          },
        ],
      });
      progress.sent += child.sent;
      progress.failed += child.failed;
      progress.batchesDone += 1;
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_BATCHES, bounds.length) }, worker));
}
