import { formatJapanDateTime } from '../../domain/japan-time';
import type { MailText } from '../../lib/mailer';

/**
 * When one of the provider's operators opens a way into a clinic (README: Operators): an
 * administrator account created for it, or its network allowlist cleared. To the contract
 * addresses and the clinic's active administrators, who did not do it themselves and must be
 * able to tell it was asked for. The operator's name is in the clinic's operation log; the mail
 * says where to look, and nothing else about anyone.
 */
export type ClinicAccessChange = 'admin_created' | 'allowlist_cleared';

interface ClinicAccessFacts {
  clinicName: string;
  change: ClinicAccessChange;
  occurredAt: Date;
  /** The new administrator's login ID (admin_created). */
  loginId?: string;
}

export function clinicAccessMail(input: ClinicAccessFacts): MailText {
  const at = formatJapanDateTime(input.occurredAt);
  const utc = input.occurredAt.toISOString();
  const what =
    input.change === 'admin_created'
      ? { ja: `管理者アカウント「${input.loginId ?? ''}」を作成しました`, en: `created the administrator account "${input.loginId ?? ''}"`, subject: '管理者アカウントの作成 / An administrator account was created' }
      : { ja: 'ネットワーク許可リストを消去しました（どこからでも接続できる状態です）', en: 'cleared the network allowlist (the clinic is reachable from anywhere)', subject: 'ネットワーク許可リストの消去 / The network allowlist was cleared' };
  return {
    subject: `[FOR CLINIC] ${input.clinicName}: ${what.subject}`,
    text: [
      `FOR CLINIC の運用担当者が、${at}（日本時間）に ${input.clinicName} の${what.ja}。`,
      '担当者の氏名は操作ログに記録されています。ご依頼になった覚えがない場合は、至急サポート窓口にご連絡ください。',
      ...(input.change === 'allowlist_cleared' ? ['管理者の方は、設定画面から許可リストを改めて設定してください。'] : []),
      '',
      `An operator of FOR CLINIC ${what.en} of ${input.clinicName} at ${at} (Japan time; ${utc}).`,
      'The operator\'s name is in your operation log. If nobody at your clinic asked for this, contact support at once.',
      ...(input.change === 'allowlist_cleared' ? ['Administrators: please set the allowlist again in the settings.'] : []),
    ].join('\n'),
  };
}
