import { formatJapanDateTime } from '../../domain/japan-time';
import type { MailText } from '../../lib/mailer';

/**
 * Contract-end mails to a clinic's contract addresses (Japanese first, English below). They name
 * the clinic, the dates (Japan time and UTC) and what to do; never patient data.
 */
export type ContractNoticeKind = 'announce' | 'reminder' | 'end' | 'changed' | 'cancelled' | 'hold_lifted';

interface Clinic {
  name: string;
  slug: string;
}

const when = (at: Date) => `${formatJapanDateTime(at)}（日本時間） / ${at.toISOString()}`;
const whenEn = (at: Date) => `${formatJapanDateTime(at)} Japan time (${at.toISOString()})`;
// Subjects name the time as the clinic reads it, in both halves; the bodies add UTC.
const bookings = (n: number) => `${n} booking${n === 1 ? '' : 's'}`;

const EXPORT_JA = [
  'データのエクスポート: クリニックの管理者は、削除の日まで全データ（カルテ・予約・操作ログ等、本サービスなしで読める形式）をダウンロードできます（管理画面の「データのエクスポート」、API: POST /v1/exports）。',
  '医師法第24条により診療録は5年間の保存が必要です。削除前に必ずエクスポートして保管してください。',
];
const EXPORT_EN = [
  'Export: the clinic\'s administrators can download all of its data (records, bookings, operation log, … in formats readable without this service) until the deletion date (screen "Data export", API: POST /v1/exports).',
  'Japanese law (Medical Practitioners Act, Art. 24) requires medical records to be kept for 5 years: export and keep them before the deletion.',
];

/**
 * `held`: a legal hold stands, so the deletion waits until it is lifted — the mails then name no
 * deletion date (one that would not come true), only that deletion follows the lifting.
 */
export function contractNoticeMail(kind: ContractNoticeKind, clinic: Clinic, dates: { endsAt: Date; purgeAt: Date; previousEndsAt?: Date; held?: boolean }): MailText {
  const end = when(dates.endsAt);
  const endEn = whenEn(dates.endsAt);
  const purge = when(dates.purgeAt);
  const purgeEn = whenEn(dates.purgeAt);
  const head = `${clinic.name} ご担当者様（クリニック ID: ${clinic.slug}）`;
  const reminder = kind === 'reminder';
  const deletionJa = dates.held
    ? 'データの削除は現在保留中です。保留が解除され次第、すべてのデータ（ファイル・暗号鍵を含む）を完全に削除します。削除後は復元できません。'
    : `${purge} にすべてのデータ（ファイル・暗号鍵を含む）を完全に削除します。削除後は復元できません。`;
  const deletionEn = dates.held
    ? 'The deletion of the data is on hold for now; once the hold is lifted, all of its data, files and encryption keys are deleted for good, and nothing can be restored afterwards.'
    : `At ${purgeEn} all of its data, files and encryption keys are deleted for good; nothing can be restored afterwards.`;
  switch (kind) {
    case 'announce':
    case 'reminder':
      return {
        subject: `[FOR CLINIC] ${reminder ? '【再度のご案内】' : ''}ご契約終了のお知らせ: ${formatJapanDateTime(dates.endsAt)} / ${reminder ? 'Reminder: y' : 'Y'}our contract ends on ${formatJapanDateTime(dates.endsAt)} Japan time`,
        text: [
          head,
          '',
          ...(reminder ? ['先にお知らせしたとおり、ご契約の終了が近づいています。'] : []),
          `FOR CLINIC のご契約は ${end} に終了します。`,
          `終了後は閲覧のみ可能（読み取り専用）となります。${deletionJa}`,
          '終了日時以降の予約は終了時に自動的にキャンセルされます。',
          ...EXPORT_JA,
          '',
          ...(reminder ? ['As announced earlier, the end of the contract is near.'] : []),
          `The FOR CLINIC contract of ${clinic.name} (clinic ID: ${clinic.slug}) ends at ${endEn}.`,
          `After that the clinic is read-only. ${deletionEn}`,
          'Bookings after the end are cancelled automatically when it comes.',
          ...EXPORT_EN,
        ].join('\n'),
      };
    case 'end':
      return {
        subject: `[FOR CLINIC] ご契約が終了しました（読み取り専用） / Your contract has ended (read-only)`,
        text: [
          head,
          '',
          `ご契約は ${end} に終了しました。現在は閲覧とエクスポートのみ可能です。`,
          `${deletionJa}削除後、削除証明書をこのアドレスにお送りします。`,
          ...EXPORT_JA,
          '',
          `The contract ended at ${endEn}. The clinic can now only read and export its data.`,
          `${deletionEn} A deletion certificate is then mailed to this address.`,
          ...EXPORT_EN,
        ].join('\n'),
      };
    case 'changed':
      return {
        subject: `[FOR CLINIC] ご契約終了日が変更されました / Your contract end has changed`,
        text: [
          head,
          '',
          `ご契約終了日は ${dates.previousEndsAt ? when(dates.previousEndsAt) : '—'} から ${end} に変更されました。以前の日程での読み取り専用化とデータ削除は取り消されました。`,
          `新しい日程: 終了 ${end}、データ削除 ${dates.held ? '保留中（保留の解除後）' : purge}。`,
          '',
          `The end of the contract moved from ${dates.previousEndsAt ? whenEn(dates.previousEndsAt) : '—'} to ${endEn}. The read-only period and deletion planned for the earlier date are cancelled.`,
          `New plan: the contract ends at ${endEn}; ${dates.held ? 'the deletion after it is on hold until the hold is lifted' : `the data is deleted at ${purgeEn}`}.`,
        ].join('\n'),
      };
    case 'hold_lifted':
      return {
        subject: `[FOR CLINIC] データ削除の保留が解除されました: ${formatJapanDateTime(dates.purgeAt)} に削除します / The hold is lifted: the data is deleted at ${formatJapanDateTime(dates.purgeAt)} Japan time`,
        text: [
          head,
          '',
          `ご契約（${end} 終了）のデータ削除の保留が解除されました。`,
          `${purge} にすべてのデータ（ファイル・暗号鍵を含む）を完全に削除します。削除後は復元できません。削除後、削除証明書をこのアドレスにお送りします。`,
          ...EXPORT_JA,
          '',
          `The hold on the deletion of the data of the contract that ended (or ends) at ${endEn} is lifted.`,
          `At ${purgeEn} all of its data, files and encryption keys are deleted for good; nothing can be restored afterwards. A deletion certificate is then mailed to this address.`,
          ...EXPORT_EN,
        ].join('\n'),
      };
    case 'cancelled':
      return {
        subject: `[FOR CLINIC] ご契約終了の予定は取り消されました / The end of your contract is cancelled`,
        text: [
          head,
          '',
          `${end} に予定していたご契約終了、読み取り専用化およびデータ削除は取り消されました。引き続きご利用いただけます。`,
          '',
          `The end of the contract planned for ${endEn}, and the read-only period and deletion after it, are cancelled. The service continues as before.`,
        ].join('\n'),
      };
  }
}

/** At the end: bookings after it were cancelled (counts only: the clinic sees which in its own list until the purge). */
export function contractBookingsCancelledMail(clinic: Clinic, cancelled: number): MailText {
  return {
    subject: `[FOR CLINIC] 契約終了に伴い予約 ${cancelled} 件をキャンセルしました / ${bookings(cancelled)} cancelled at the contract end`,
    text: [
      `${clinic.name} ご担当者様（クリニック ID: ${clinic.slug}）`,
      '',
      `ご契約終了に伴い、終了日時以降に予定されていた予約 ${cancelled} 件をキャンセルしました。患者様へのご連絡をお願いいたします。`,
      '対象の予約は予約一覧（キャンセル済み）で確認・エクスポートできます。',
      '',
      `As the contract ended, ${bookings(cancelled)} scheduled after the end ${cancelled === 1 ? 'was' : 'were'} cancelled. Please inform the patients concerned.`,
      'They are listed (as cancelled) among the clinic\'s consultations and in its export.',
    ].join('\n'),
  };
}

/** The deletion certificate: its canonical JSON is attached as text, with the hash and the signature. */
export function deletionCertificateMail(clinic: { slug: string }, cert: { canonical: string; sha256: string; signature: string; purgedAt: Date }): MailText {
  return {
    subject: `[FOR CLINIC] データ削除証明書 / Deletion certificate (${clinic.slug})`,
    text: [
      `クリニック ID: ${clinic.slug}`,
      '',
      `ご契約終了に伴い、${when(cert.purgedAt)} にクリニックのすべてのデータ・ファイルを削除し、暗号鍵を破棄しました。`,
      'バックアップに残る暗号化データも、鍵の破棄により復号できなくなりました。以下が削除証明書です（SHA-256 と署名付き）。',
      '',
      `At ${whenEn(cert.purgedAt)} all of the clinic's data and files were deleted and its encryption keys destroyed;`,
      'encrypted copies remaining in backups can no longer be decrypted. The deletion certificate follows (with its SHA-256 and signature).',
      '',
      `SHA-256: ${cert.sha256}`,
      `HMAC-SHA-256: ${cert.signature}`,
      '',
      cert.canonical,
    ].join('\n'),
  };
}
