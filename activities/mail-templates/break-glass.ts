import { formatJapanDateTime } from '../../domain/japan-time';
import type { MailText } from '../../lib/mailer';

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
