import type { MailText } from '../../lib/mailer';

/** To the patient when a finished visit is still unpaid. No amounts, names or clinical content. */
export function paymentReminderMail(input: { clinicName: string }): MailText {
  return {
    subject: `[${input.clinicName}] お支払いのお願い / Payment reminder`,
    text: [
      `${input.clinicName} です。`,
      '先日の診察のお支払いがまだ確認できておりません。',
      '',
      `This is ${input.clinicName}.`,
      'We have not yet received payment for your recent visit.',
    ].join('\n'),
  };
}
