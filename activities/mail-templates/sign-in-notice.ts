import { formatJapanDateTime } from '../../domain/japan-time';
import type { DeviceDescription } from '../../domain/sign-in-device';
import type { MailText } from '../../lib/mailer';

/**
 * To an account's holder, when it signs in from a device or network it has not used lately: was
 * it you? Only the clinic, the login ID, the time, the address and a browser and system from a
 * fixed list (domain/sign-in-device.ts): never the client's own text, never a link.
 */
interface SignInFacts {
  clinicName: string;
  loginId: string;
  at: Date;
  clientIp: string | null;
  device: DeviceDescription;
}

export function signInNoticeMail(input: SignInFacts): MailText {
  const at = formatJapanDateTime(input.at);
  const ja = {
    device: [input.device.browser, input.device.system].filter(Boolean).join(' / ') || '不明',
    ip: input.clientIp ?? '不明',
  };
  const en = {
    device: [input.device.browser, input.device.system].filter(Boolean).join(' on ') || 'unknown',
    ip: input.clientIp ?? 'unknown',
  };
  return {
    subject: `[FOR CLINIC] ${input.clinicName}: 新しい端末からのログイン / A sign-in from a new device`,
    text: [
      `${input.clinicName} のログイン ID「${input.loginId}」で、最近使われていない端末またはネットワークからログインがありました。`,
      `日時: ${at}（日本時間）`,
      `接続元 IP アドレス: ${ja.ip}`,
      `ブラウザ / OS: ${ja.device}`,
      '',
      'ご本人によるログインであれば、対応は不要です。',
      'お心当たりがない場合は、すぐにパスワードを変更し、ログイン中の端末の一覧から心当たりのない端末を終了してください（「他の端末からすべてログアウト」も使えます）。あわせてクリニックの管理者にご連絡ください。',
      '',
      `The login ID "${input.loginId}" at ${input.clinicName} signed in from a device or network it has not used lately.`,
      `When: ${at} (Japan time)`,
      `IP address: ${en.ip}`,
      `Browser and system: ${en.device}`,
      '',
      'If this was you, there is nothing to do.',
      'If it was not, change your password now, end the sessions you do not know in the list of devices you are signed in on (or sign out everywhere else), and tell your clinic\'s administrator.',
    ].join('\n'),
  };
}
