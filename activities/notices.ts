import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { Db } from '../db/connection';
import {
  batchBounds,
  deliveryMail,
  ensureDeliveries,
  findIncidentReport,
  insertNoticeMessage,
  markNoticeReached,
  noticePlan,
  recordDelivery,
  setNoticeStatus,
  targetsInRange,
  toldAddresses,
  type NoticePlan,
} from '../db/notices';
import { withPlatform } from '../db/platform-scope';
import { withTenant } from '../db/tenant-scope';
import { findTenant } from '../db/tenants';
import type { Mailer } from '../lib/mailer';
import { isMailRejected, sendEmailOnce } from './email';
import { changeNoticeMail, incidentMail, incidentReportAcknowledgement, incidentReportToOperators } from './mail-templates/notices';

export interface NoticeSettings {
  /** Where clinics ask questions about a notice, and where their incident reports go. */
  securityContact: string;
}

export const DEFAULT_NOTICE_SETTINGS: NoticeSettings = { securityContact: 'security@forclinic.example' };

const rejectionCode = (err: unknown) => {
  const details = (err as ApplicationFailure).details as Array<{ code?: string }> | undefined;
  return details?.[0]?.code ?? 'MailRejected';
};
/** A short, address-free description of a transient failure, for the operator's screen. */
const transientCode = (err: unknown) => {
  const e = err as { type?: string; message?: string };
  return `${e.type ?? 'Error'}: ${String(e.message ?? '').slice(0, 200)}`;
};

/**
 * Activities of the notice workflows. Workflows pass ids and positions only; everything with
 * words or addresses in it is read here, from PostgreSQL, when it is needed.
 */
export function createNoticeActivities(deps: { db: Db; mailer: Mailer; notices?: NoticeSettings }) {
  const settings = deps.notices ?? DEFAULT_NOTICE_SETTINGS;
  return {
    async loadNoticePlan(args: { noticeId: string }): Promise<NoticePlan | null> {
      return (await withPlatform(deps.db, (trx) => noticePlan(trx, args.noticeId))) ?? null;
    },

    async planNoticeBatches(args: { noticeId: string; afterSeq: number; upToSeq: number; size: number }): Promise<number[]> {
      return withPlatform(deps.db, (trx) => batchBounds(trx, args.noticeId, args.afterSeq, args.upToSeq, args.size));
    },

    /**
     * A batch's recipients: the notice becomes visible to each clinic (its own transaction, so
     * the clinic's row-level security checks the write), then one delivery row per message and
     * contract address is created (or found, on a retry). Returns, per address, the delivery ids
     * in message order.
     */
    async prepareNoticeBatch(args: { noticeId: string; messageIds: string[]; afterSeq: number; upToSeq: number; onlyTold: boolean }): Promise<{ clinics: number; chains: string[][] }> {
      const clinics = await withPlatform(deps.db, (trx) => targetsInRange(trx, args.noticeId, args.afterSeq, args.upToSeq));
      for (const clinic of clinics) await withTenant(deps.db, clinic.tenantId, (trx) => markNoticeReached(trx, args.noticeId));
      return withPlatform(deps.db, async (trx) => {
        const told = args.onlyTold ? await toldAddresses(trx, args.noticeId, clinics.map((c) => c.tenantId)) : undefined;
        const addresses = clinics.flatMap((c) => c.contractEmails.filter((a) => !told || told.has(`${c.tenantId} ${a}`)).map((address) => ({ tenantId: c.tenantId, address })));
        const wanted = addresses.flatMap((a) => args.messageIds.map((messageId) => ({ ...a, messageId })));
        const ids = await ensureDeliveries(trx, args.noticeId, wanted);
        const chains: string[][] = [];
        for (let i = 0; i < addresses.length; i += 1) chains.push(ids.slice(i * args.messageIds.length, (i + 1) * args.messageIds.length));
        return { clinics: clinics.length, chains };
      });
    },

    /**
     * One mail to one address (runs on the rate-limited mail queue). Exactly once per delivery
     * row: sendEmailOnce keys on the row's id. A permanent refusal is recorded and answered
     * 'failed' (not retried); a transient error is noted on the row and thrown, so Temporal
     * retries it with back-off.
     */
    async sendNoticeMail(deliveryId: string): Promise<'sent' | 'failed' | 'missing'> {
      const d = await withPlatform(deps.db, (trx) => deliveryMail(trx, deliveryId));
      if (!d) return 'missing';
      if (d.status !== 'pending') return d.status;
      const text = d.notice.kind === 'incident' ? incidentMail(d, settings.securityContact) : changeNoticeMail(d, settings.securityContact);
      let resentInDoubt = false;
      try {
        ({ resentInDoubt = false } = await sendEmailOnce(deps, {
          tenantId: d.tenantId,
          idempotencyKey: `notice-delivery/${d.id}`,
          purpose: `notice.${d.notice.kind}.${d.message.kind}`,
          mail: { to: d.address, ...text },
        }));
      } catch (err) {
        if (isMailRejected(err)) {
          await withPlatform(deps.db, (trx) => recordDelivery(trx, d.id, { status: 'failed', error: rejectionCode(err) }));
          return 'failed';
        }
        await withPlatform(deps.db, (trx) => recordDelivery(trx, d.id, { status: 'pending', error: transientCode(err) })).catch(() => undefined);
        throw err;
      }
      await withPlatform(deps.db, (trx) => recordDelivery(trx, d.id, { status: 'sent', resentInDoubt }));
      return 'sent';
    },

    /** Retries ran out: the operator sees the address as failed, with why. */
    async giveUpNoticeDelivery(args: { deliveryId: string; error: string }): Promise<void> {
      await withPlatform(deps.db, (trx) => recordDelivery(trx, args.deliveryId, { status: 'failed', error: args.error.slice(0, 300) }));
    },

    /** The reminder message due at `at` (once per moment); null when the notice was cancelled meanwhile. */
    async addChangeNoticeReminder(args: { noticeId: string; at: number }): Promise<string | null> {
      return withPlatform(deps.db, async (trx) => {
        const notice = await trx('notices').where({ id: args.noticeId }).forUpdate().first('status');
        if (!notice || notice.status !== 'scheduled') return null;
        return (await insertNoticeMessage(trx, { noticeId: args.noticeId, kind: 'reminder', dedupeKey: `reminder-${args.at}` })).id;
      });
    },

    /** The change has taken effect, unless it was cancelled first (then that is the answer). */
    async markChangeNoticeEffective(args: { noticeId: string }): Promise<'effective' | 'cancelled' | 'missing'> {
      return withPlatform(deps.db, async (trx) => {
        const notice = await trx('notices').where({ id: args.noticeId }).forUpdate().first('status');
        if (!notice) return 'missing';
        if (notice.status === 'cancelled') return 'cancelled';
        if (notice.status === 'scheduled') await setNoticeStatus(trx, args.noticeId, 'effective', true);
        return 'effective';
      });
    },

    /** Recipients of a clinic's incident report: the operators' address, then the clinic's contract addresses. */
    async incidentReportRecipients(args: { tenantId: string; reportId: string }): Promise<number> {
      const tenant = await findTenant(deps.db, args.tenantId);
      if (!tenant) return 0;
      return 1 + tenant.contractEmails.length;
    },

    async sendIncidentReportMail(args: { tenantId: string; reportId: string; index: number }): Promise<'sent' | 'failed' | 'missing'> {
      const tenant = await findTenant(deps.db, args.tenantId);
      const report = tenant ? await withTenant(deps.db, args.tenantId, (trx) => findIncidentReport(trx, args.reportId)) : undefined;
      if (!tenant || !report) return 'missing';
      const to = args.index === 0 ? settings.securityContact : tenant.contractEmails[args.index - 1];
      if (!to) return 'missing';
      const text =
        args.index === 0
          ? incidentReportToOperators({ ...report, clinicName: tenant.name, tenantId: tenant.id })
          : incidentReportAcknowledgement({ ...report, clinicName: tenant.name }, settings.securityContact);
      try {
        await sendEmailOnce(deps, {
          tenantId: args.tenantId,
          // Hashed: the key is stored, the address need not be.
          idempotencyKey: `incident-report/${report.id}/${createHash('sha256').update(to).digest('hex').slice(0, 32)}`,
          purpose: args.index === 0 ? 'incident_report.operators' : 'incident_report.acknowledgement',
          mail: { to, ...text },
        });
        return 'sent';
      } catch (err) {
        if (isMailRejected(err)) return 'failed';
        throw err;
      }
    },
  };
}
