import { formatJapanDateTime } from '../../domain/japan-time';
import type { MailText } from '../../lib/mailer';

/** Security alerts about the provider's own operators (activities/operators.ts). */

/**
 * To the security addresses (SECURITY_EMAILS) when the break-glass token (OPERATOR_TOKEN) is
 * used: once per alert window, at its first use. The rest of the window's uses are in the
 * platform's operation log.
 */
export function breakGlassMail(input: { firstAt: Date; firstIp: string | null; routes: string[]; windowMinutes: number }): MailText {
  const at = formatJapanDateTime(input.firstAt);
  const routes = input.routes.map((r) => `  ${r}`).join('\n');
  return {
    subject: '[FOR CLINIC] 緊急用オペレータートークンが使用されました / The break-glass operator token was used',
    text: [
      `${at}（日本時間）、緊急用オペレータートークン（OPERATOR_TOKEN）が接続元 ${input.firstIp ?? '不明'} から使用されました。`,
      `この後 ${input.windowMinutes} 分間の使用はこのメールにまとめ、個別には送りません。すべての使用はプラットフォームの操作ログに記録されています。`,
      '意図しない使用であれば、直ちにトークンを無効化（OPERATOR_BREAK_GLASS=disabled）し、インシデントとして対応してください。',
      '',
      `At ${at} (Japan time) the break-glass operator token (OPERATOR_TOKEN) was used from ${input.firstIp ?? 'an unknown address'}.`,
      `Further uses in the next ${input.windowMinutes} minutes are not mailed one by one; every use is in the platform's operation log.`,
      'If this was not intended, disable the token at once (OPERATOR_BREAK_GLASS=disabled) and handle it as an incident.',
      '',
      'Routes / ルート:',
      routes,
    ].join('\n'),
  };
}

/**
 * To a locked operator and the security addresses when repeated failed logins lock an operator
 * account: no password, only the address and the time the lock ends.
 */
export function operatorLockedMail(input: { email: string; lockedUntil: Date | null }): MailText {
  const until = input.lockedUntil ? formatJapanDateTime(input.lockedUntil) : '—';
  return {
    subject: '[FOR CLINIC] オペレーターアカウントがロックされました / An operator account was locked',
    text: [
      `オペレーター ${input.email} のアカウントを、ログインの失敗が続いたため ${until}（日本時間）まで一時的にロックしました。`,
      '本人による入力ミスでない場合は、第三者がパスワードを推測しようとしている可能性があります。セキュリティ担当者に連絡し、プラットフォームの操作ログを確認してください。',
      '',
      `Repeated failed logins locked the operator account ${input.email} until ${until} (Japan time).`,
      'If this was not its holder mistyping, someone may be guessing the password: tell the security team and check the platform\'s operation log.',
    ].join('\n'),
  };
}

const CHANGE_TEXT = {
  operator_created: { ja: 'オペレーターを作成しました', en: 'created the operator' },
  roles_given: { ja: 'オペレーターにロールを付与しました', en: 'gave roles to the operator' },
  operator_reenabled: { ja: '無効だったオペレーターを有効にしました', en: 're-enabled the operator' },
  // The caller was shown the new initial password: they can sign in as the operator until it is changed.
  operator_reset: { ja: 'オペレーターをリセットしました（新しい初期パスワードはリセットした人に表示され、パスキーは削除されました）', en: 'reset the operator (the new initial password was shown to whoever reset it; passkeys removed)' },
  api_key_created: { ja: 'API キーを作成しました', en: 'created the API key' },
} as const;

/**
 * To the security addresses when operator access widens: an operator created, roles given, an
 * API key made. Names who did it and what was given; no password or key.
 */
export function operatorAccessMail(input: {
  change: keyof typeof CHANGE_TEXT;
  actor: string;
  target: string;
  roles: readonly string[];
  occurredAt: Date;
}): MailText {
  const at = formatJapanDateTime(input.occurredAt);
  const what = CHANGE_TEXT[input.change];
  const roles = input.roles.join(', ') || '—';
  return {
    subject: '[FOR CLINIC] オペレーターの権限が追加されました / Operator access was given',
    text: [
      `${at}（日本時間）、${input.actor} が${what.ja}: ${input.target}（ロール: ${roles}）。`,
      '意図した変更であれば対応は不要です。心当たりがなければ、プラットフォームの操作ログを確認し、インシデントとして対応してください（オペレーターの無効化・API キーの失効）。',
      '',
      `At ${at} (Japan time) ${input.actor} ${what.en} ${input.target} (roles: ${roles}).`,
      'If this was intended, nothing is needed. If not, check the platform\'s operation log and handle it as an incident (disable the operator, revoke the key).',
    ].join('\n'),
  };
}
