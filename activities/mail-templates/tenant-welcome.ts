import type { MailText } from '../../lib/mailer';

/** To each contract address of a new clinic, once its environment is ready. */
export function tenantWelcomeMail(clinic: { name: string; slug: string }): MailText {
  return {
    subject: `[FOR CLINIC] ${clinic.name} のご利用準備が整いました / Your clinic is ready`,
    text: [
      `${clinic.name} ご担当者様`,
      '',
      'FOR CLINIC のご契約ありがとうございます。クリニックの環境の準備が完了しました。',
      `クリニック ID: ${clinic.slug}`,
      'このアドレスは契約連絡先として登録されており、セキュリティインシデントのお知らせもこちらに送信されます。',
      '',
      `Your FOR CLINIC environment for ${clinic.name} (clinic ID: ${clinic.slug}) is ready.`,
      'This address is registered as a contract contact and will receive security incident notices.',
    ].join('\n'),
  };
}
