import { formatJapanDateTime } from '../../domain/japan-time';
import type { MailText } from '../../lib/mailer';
import type { DeliveryMail } from '../../db/notices';

/**
 * Mails of notices to clinics' contract addresses: Japanese first, English below, plain text.
 * They carry what the operator typed (title, description, updates) and fixed guidance, never
 * anything read from a clinic's own data.
 */
const SEVERITY_JA: Record<string, string> = { low: '低', medium: '中', high: '高', critical: '緊急' };
const STATUS_JA: Record<string, string> = { investigating: '調査中', contained: '封じ込め済み', resolved: '解決済み', mitigated: '緩和済み' };

const when = (d: Date | string | null) => (d ? `${formatJapanDateTime(new Date(d))}` : '-');

export function incidentMail(d: DeliveryMail, contact: string): MailText {
  const n = d.notice;
  const m = d.message;
  const isUpdate = m.kind !== 'initial';
  const status = m.status ?? n.status;
  const lines = [
    `${d.clinicName} ご担当者様`,
    '',
    isUpdate
      ? `セキュリティインシデント ${n.reference} について続報をお知らせします（状況: ${STATUS_JA[status] ?? status}）。`
      : `貴院に影響する可能性のあるセキュリティインシデントが確認されましたので、契約に基づきお知らせします。`,
    `参照番号: ${n.reference}`,
    `件名: ${n.title}`,
    `重要度: ${SEVERITY_JA[n.severity ?? ''] ?? n.severity}`,
    `検知日時: ${when(n.detectedAt)}（日本時間）`,
    '',
    '【判明していること】',
    isUpdate ? (m.body ?? '') : n.body,
    '',
    '【貴院にお願いしたいこと】',
    status === 'resolved'
      ? '本件は解決しました。追加の対応は不要です。'
      : '・FOR CLINIC の操作ログに見覚えのない操作がないかご確認ください。\n・不審な点があれば、パスワードの変更と下記窓口へのご連絡をお願いします。',
    '',
    `【お問い合わせ】 ${contact}（件名に参照番号 ${n.reference} を記載してください）`,
    '',
    '----',
    '',
    `To ${d.clinicName}:`,
    isUpdate
      ? `An update on security incident ${n.reference} (status: ${status}).`
      : 'Under our contract, we are informing you of a security incident that may affect your clinic.',
    `Reference: ${n.reference}`,
    `Title: ${n.title}`,
    `Severity: ${n.severity}`,
    `Detected: ${when(n.detectedAt)} (Japan time)`,
    '',
    'What we know:',
    isUpdate ? (m.body ?? '') : n.body,
    '',
    'What your clinic should do:',
    status === 'resolved'
      ? 'The incident is resolved. No further action is needed.'
      : '- Check the FOR CLINIC operation log for actions you do not recognise.\n- If anything looks wrong, change passwords and contact us at the address below.',
    '',
    `Questions: ${contact} (please quote ${n.reference}).`,
  ];
  return {
    subject: `[FOR CLINIC] ${n.reference} ${isUpdate ? 'セキュリティインシデント続報 / Incident update' : 'セキュリティインシデントのお知らせ / Security incident notice'}: ${n.title}`,
    text: lines.join('\n'),
  };
}

export function changeNoticeMail(d: DeliveryMail, contact: string): MailText {
  const n = d.notice;
  const m = d.message;
  const at = when(n.effectiveAt);
  const urgentJa = n.urgent ? '【緊急】' : '';
  const urgentEn = n.urgent ? '[URGENT] ' : '';
  if (m.kind === 'cancellation') {
    return {
      subject: `[FOR CLINIC] ${n.reference} 変更の中止 / Change cancelled: ${n.title}`,
      text: [
        `${d.clinicName} ご担当者様`,
        '',
        `先にお知らせした変更「${n.title}」（参照番号 ${n.reference}、${at} 実施予定）は中止になりました。ご対応は不要です。`,
        `お問い合わせ: ${contact}`,
        '',
        '----',
        '',
        `To ${d.clinicName}:`,
        `The change "${n.title}" (reference ${n.reference}) announced for ${at} (Japan time) has been cancelled. No action is needed.`,
        `Questions: ${contact}`,
      ].join('\n'),
    };
  }
  const reminder = m.kind === 'reminder';
  return {
    subject: `[FOR CLINIC] ${urgentJa}${n.reference} ${reminder ? '変更のリマインド' : '変更のお知らせ'} / ${urgentEn}${reminder ? 'Reminder' : 'Advance notice of a change'}: ${n.title}`,
    text: [
      `${d.clinicName} ご担当者様`,
      '',
      `${urgentJa}${reminder ? '以下の変更の実施が近づいています。' : '以下の変更を予定しておりますので、事前にお知らせします。'}`,
      `参照番号: ${n.reference}`,
      `件名: ${n.title}`,
      `実施日時: ${at}（日本時間）`,
      ...(n.urgent ? ['本変更は緊急のため、通常の事前通知期間より短い期間でのお知らせとなります。'] : []),
      '',
      n.body,
      '',
      `お問い合わせ: ${contact}`,
      '',
      '----',
      '',
      `To ${d.clinicName}:`,
      `${urgentEn}${reminder ? 'A reminder: the following change takes effect soon.' : 'We are announcing the following change in advance.'}`,
      `Reference: ${n.reference}`,
      `Title: ${n.title}`,
      `Takes effect: ${at} (Japan time)`,
      ...(n.urgent ? ['This change is urgent, so it is announced with less notice than usual.'] : []),
      '',
      // As the operator wrote it (as incidents repeat their description): the English reader needs the change too.
      n.body,
      '',
      `Questions: ${contact}`,
    ].join('\n'),
  };
}

/** To the operators' address: what the clinic reported, so someone can act on it. */
/**
 * The reporter's own text, every line quoted: written by a clinic user, it must not be able to
 * pass for lines of ours (a forged trailer naming another clinic, a reference, a contact).
 */
const quoted = (text: string) => text.split(/\r\n|[\r\n\u2028\u2029\u0085\v\f]/).map((line) => `> ${line}`);

export function incidentReportToOperators(r: { reference: string; clinicName: string; tenantId: string; description: string; contact: string; createdAt: Date }): MailText {
  return {
    subject: `[FOR CLINIC] ${r.reference} クリニックからのインシデント報告 / Incident report from ${r.clinicName}`,
    text: [
      `${r.clinicName}（${r.tenantId}）からセキュリティインシデントの疑いが報告されました。`,
      `参照番号: ${r.reference}`,
      `受付日時: ${when(r.createdAt)}（日本時間）`,
      `連絡先: ${r.contact}`,
      '',
      '報告内容（クリニックの記載のまま、各行の先頭に "> "） / Description, as the clinic wrote it (each line quoted with "> "):',
      ...quoted(r.description),
      '',
      '----',
      `A clinic reported a suspected incident: ${r.clinicName} (${r.tenantId}), reference ${r.reference}, received ${when(r.createdAt)} (Japan time). Contact: ${r.contact}. The description is above.`,
    ].join('\n'),
  };
}

/** To the clinic's contract addresses: the report arrived. The description is not repeated. */
export function incidentReportAcknowledgement(r: { reference: string; clinicName: string; createdAt: Date }, contact: string): MailText {
  return {
    subject: `[FOR CLINIC] ${r.reference} インシデント報告を受け付けました / We received your incident report`,
    text: [
      `${r.clinicName} ご担当者様`,
      '',
      `セキュリティインシデントのご報告を ${when(r.createdAt)}（日本時間）に受け付けました。参照番号は ${r.reference} です。担当者よりご連絡します。`,
      `お問い合わせ: ${contact}`,
      '',
      '----',
      '',
      `To ${r.clinicName}:`,
      `We received your incident report at ${when(r.createdAt)} (Japan time), reference ${r.reference}. Our security team will contact you.`,
      `Questions: ${contact}`,
    ].join('\n'),
  };
}
