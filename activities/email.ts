import type { Db } from '../db/connection';
import { EmailDeliveryRow } from '../db/models/email-delivery';
import { withTenant } from '../db/tenant-scope';
import type { Mailer, OutgoingEmail } from '../lib/mailer';

/**
 * Sends a mail at most once per idempotency key, however often the activity is retried or
 * replayed. The delivery row is locked while sending, so two concurrent attempts cannot both
 * send. A crash between SES accepting the mail and our commit can still repeat it (at-least-once);
 * that window is one network round trip wide.
 */
export async function sendEmailOnce(
  deps: { db: Db; mailer: Mailer },
  args: { tenantId: string; idempotencyKey: string; purpose: string; mail: OutgoingEmail },
): Promise<{ sent: boolean; messageId: string | null }> {
  return withTenant(deps.db, args.tenantId, async (trx) => {
    await EmailDeliveryRow.query(trx)
      .insert({ idempotencyKey: args.idempotencyKey, purpose: args.purpose })
      .onConflict('idempotencyKey')
      .ignore();
    const row = await EmailDeliveryRow.query(trx).findOne({ idempotencyKey: args.idempotencyKey }).forUpdate();
    if (!row) throw new Error('email delivery row vanished');
    if (row.status === 'sent') return { sent: false, messageId: row.providerMessageId };
    const { messageId } = await deps.mailer.send(args.mail);
    await EmailDeliveryRow.query(trx)
      .patch({ status: 'sent', providerMessageId: messageId, sentAt: trx.fn.now() as never })
      .where({ id: row.id });
    return { sent: true, messageId };
  });
}
