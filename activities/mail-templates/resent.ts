import type { OutgoingEmail } from '../../lib/mailer';

/**
 * The same mail, marked as a resend: sent when an earlier attempt's outcome is unknown (the
 * provider may have accepted it just before our worker died; activities/email.ts). The reader
 * learns that a copy may already be in their inbox and that the two say the same thing, instead
 * of wondering whether a second incident happened.
 */
export function resentMail(mail: OutgoingEmail): OutgoingEmail {
  return {
    ...mail,
    subject: `[再送 / Resent] ${mail.subject}`,
    text: [
      '※ このメールは再送です。前回の送信が届いたかを確認できなかったため、同じ内容をもう一度お送りしています。既に同じメールを受け取っている場合は、このメールは破棄してください。',
      '※ This is a resend: we could not confirm that our earlier attempt reached you, so the same message is sent again. If you already received it, please disregard this copy.',
      '',
      mail.text,
    ].join('\n'),
  };
}
