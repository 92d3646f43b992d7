import { formatJapanDateTime } from '../../domain/japan-time';
import type { MailText } from '../../lib/mailer';

/**
 * When repeated failed logins lock an account: to its holder (was it you?) and to each of the
 * clinic's administrators (who can unlock it). No address, no password, nothing but the clinic,
 * the login ID and the time the lock ends.
 */
interface LockoutFacts {
  clinicName: string;
  loginId: string;
  lockedUntil: Date;
}

export function accountLockedMailToHolder(input: LockoutFacts): MailText {
  const until = formatJapanDateTime(input.lockedUntil);
  return {
    subject: `[FOR CLINIC] ${input.clinicName}: アカウントがロックされました / Your account was locked`,
    text: [
      `${input.clinicName} のログイン ID「${input.loginId}」で、ログインの失敗が続いたため、アカウントを ${until}（日本時間）まで一時的にロックしました。`,
      'お心当たりがない場合は、第三者がパスワードを推測しようとしている可能性があります。クリニックの管理者にご連絡ください。',
      '',
      `Repeated failed logins locked the login ID "${input.loginId}" at ${input.clinicName} until ${until} (Japan time).`,
      'If this was not you, someone may be trying to guess your password: please tell your clinic\'s administrator.',
    ].join('\n'),
  };
}

export function accountLockedMailToAdmin(input: LockoutFacts & { displayName: string }): MailText {
  const until = formatJapanDateTime(input.lockedUntil);
  return {
    subject: `[FOR CLINIC] ${input.clinicName}: アカウントのロック / An account was locked`,
    text: [
      `${input.clinicName} のアカウント「${input.loginId}」（${input.displayName}）が、ログインの失敗が続いたため ${until}（日本時間）までロックされました。`,
      '本人による入力ミスでない場合は、操作ログをご確認ください。管理画面からロックを解除できます。',
      '',
      `Repeated failed logins locked the account "${input.loginId}" (${input.displayName}) at ${input.clinicName} until ${until} (Japan time).`,
      'If it was not its holder mistyping, please check the operation log. Administrators can unlock the account.',
    ].join('\n'),
  };
}
