import { z } from 'zod';
import { NOTICE_KINDS } from '../../domain/notices';

/** Response shapes of notices (operators' detail and the clinics' feed), for /openapi.json. */
export const noticeMessageSchema = z
  .object({
    id: z.string().uuid(),
    seq: z.number().int(),
    kind: z.enum(['initial', 'update', 'reminder', 'cancellation', 'status']),
    status: z.string().nullable(),
    message: z.string().nullable().describe('What the operator wrote with this update (null for the first notice: see body)'),
    createdAt: z.string().datetime(),
  })
  .meta({ id: 'NoticeMessage' });

const noticeFields = {
  id: z.string().uuid(),
  kind: z.enum(NOTICE_KINDS),
  reference: z.string(),
  title: z.string(),
  body: z.string(),
  severity: z.string().nullable(),
  status: z.string(),
  detectedAt: z.string().datetime().nullable().optional(),
  effectiveAt: z.string().datetime().nullable().optional(),
  urgent: z.boolean().optional(),
  cveIds: z.array(z.string()).optional(),
  component: z.string().nullable().optional(),
  createdAt: z.string().datetime(),
  updatedAt: z.string().datetime(),
  closedAt: z.string().datetime().nullable(),
  messages: z.array(noticeMessageSchema),
};

export const noticeDeliverySchema = z
  .object({
    messageId: z.string().uuid(),
    address: z.string(),
    status: z.enum(['pending', 'sent', 'failed']),
    error: z.string().nullable().describe('Provider error code of a permanent failure, or the last transient one'),
    attempts: z.number().int(),
    resentInDoubt: z.boolean().describe('Sent again, marked "[再送 / Resent]", because an earlier attempt\'s outcome was unknown (the provider may have accepted it just before a worker died): the address may hold two copies'),
    sentAt: z.string().datetime().nullable(),
    failedAt: z.string().datetime().nullable(),
  })
  .meta({ id: 'NoticeDelivery' });

export const noticeProgressSchema = z
  .object({
    phase: z.enum(['fanning_out', 'waiting', 'ended']),
    messagesSent: z.number().int(),
    clinicsCovered: z.number().int(),
    rounds: z.number().int(),
    batchesDone: z.number().int(),
    batchesPlanned: z.number().int(),
    sent: z.number().int(),
    failed: z.number().int(),
    nextReminderAt: z.string().nullable().optional(),
  })
  .meta({ id: 'NoticeProgress' });

const { messages: _messages, ...summaryFields } = noticeFields;
const totalsSchema = z.object({ clinics: z.number().int(), pending: z.number().int(), sent: z.number().int(), failed: z.number().int() });

/** One notice in the operators' list: the notice without its messages, its workflow and delivery totals. */
export const noticeListPageSchema = z
  .object({
    items: z.array(z.object({ ...summaryFields, workflowId: z.string().nullable(), totals: totalsSchema }).meta({ id: 'NoticeSummary' })),
    nextCursor: z.string().nullable(),
  })
  .meta({ id: 'NoticeList' });

export const noticeDetailSchema = z
  .object({
    ...noticeFields,
    workflowId: z.string().nullable(),
    totals: totalsSchema,
    clinics: z.array(z.object({ tenantId: z.string().uuid(), name: z.string(), addedAt: z.string().datetime(), deliveries: z.array(noticeDeliverySchema) })),
    nextCursor: z.string().nullable(),
    live: noticeProgressSchema.nullable().describe('The workflow\'s progress query; null when it has ended or Temporal did not answer'),
  })
  .meta({ id: 'NoticeDetail' });

export const feedItemSchema = z
  .object({ ...noticeFields, read: z.boolean(), readAt: z.string().datetime().nullable() })
  .meta({ id: 'FeedNotice' });

export const feedPageSchema = z.object({ items: z.array(feedItemSchema), nextCursor: z.string().nullable() }).meta({ id: 'FeedPage' });
