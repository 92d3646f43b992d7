import { accountLockedMailToAdmin, accountLockedMailToHolder } from '../../activities/mail-templates/account-locked';
import { consultationReminderMail } from '../../activities/mail-templates/consultation-reminder';
import { paymentReminderMail } from '../../activities/mail-templates/payment-reminder';
import { tenantWelcomeMail } from '../../activities/mail-templates/tenant-welcome';
import { changeNoticeMail, incidentReportToOperators } from '../../activities/mail-templates/notices';
import { clinicAccessMail } from '../../activities/mail-templates/clinic-access';

/** Japanese comes first, English below it; the lines in between are blank. */
const halves = (text: string) => text.split('\n\n');

describe('mail templates', () => {
  it('tell the appointment time on a wall clock in Japan', () => {
    // 15:00 UTC is already the next day in Japan.
    const mail = consultationReminderMail({ clinicName: 'さくらクリニック', startsAt: new Date('2026-11-30T15:00:00Z'), mode: 'in_person' });
    expect(mail.subject).toBe('[さくらクリニック] ご予約のお知らせ / Appointment reminder');
    const [ja, en] = halves(mail.text);
    expect(ja).toBe('さくらクリニック です。\n2026-12-01 00:00（日本時間）のご予約のお知らせです。');
    expect(en).toBe('This is さくらクリニック.\nReminder: your appointment is at 2026-12-01 00:00 (Japan time).');
  });

  it('tell online patients when the room opens', () => {
    const [ja, en] = halves(consultationReminderMail({ clinicName: 'さくら', startsAt: new Date('2026-12-01T05:30:00Z'), mode: 'online' }).text);
    expect(ja).toContain('2026-12-01 14:30（日本時間）');
    expect(ja).toContain('オンライン診療の入室は開始10分前から可能です。');
    expect(en).toContain('your online appointment is at 2026-12-01 14:30 (Japan time)');
  });

  it('remind of payment without amounts', () => {
    const mail = paymentReminderMail({ clinicName: 'さくら' });
    expect(mail.subject).toBe('[さくら] お支払いのお願い / Payment reminder');
    expect(halves(mail.text)).toEqual(['さくら です。\n先日の診察のお支払いがまだ確認できておりません。', 'This is さくら.\nWe have not yet received payment for your recent visit.']);
  });

  it('welcome a clinic with its ID, Japanese first', () => {
    const mail = tenantWelcomeMail({ name: 'さくらクリニック', slug: 'sakura' });
    expect(mail.subject).toBe('[FOR CLINIC] さくらクリニック のご利用準備が整いました / Your clinic is ready');
    const [greeting, ja, en] = halves(mail.text);
    expect(greeting).toBe('さくらクリニック ご担当者様');
    expect(ja).toContain('クリニック ID: sakura');
    expect(en).toContain('(clinic ID: sakura) is ready.');
  });
});

describe('lockout notices', () => {
  const facts = { clinicName: 'さくらクリニック', loginId: 'nurse.sato', lockedUntil: new Date('2026-11-30T15:01:00Z') };

  it('tell the holder, Japanese first, when the lock ends in Japan time', () => {
    const mail = accountLockedMailToHolder(facts);
    expect(mail.subject).toBe('[FOR CLINIC] さくらクリニック: アカウントがロックされました / Your account was locked');
    const [ja, en] = halves(mail.text);
    expect(ja).toContain('ログイン ID「nurse.sato」');
    expect(ja).toContain('2026-12-01 00:01（日本時間）まで');
    expect(en).toContain('locked the login ID "nurse.sato" at さくらクリニック until 2026-12-01 00:01 (Japan time)');
  });

  it('tell the admins whose account it is', () => {
    const [ja, en] = halves(accountLockedMailToAdmin({ ...facts, displayName: '佐藤 花子' }).text);
    expect(ja).toContain('「nurse.sato」（佐藤 花子）');
    expect(en).toContain('the account "nurse.sato" (佐藤 花子)');
  });
});

describe('change notices', () => {
  it('carry the change itself in both halves, Japanese first', () => {
    const mail = changeNoticeMail(
      {
        id: 'd1', tenantId: 't1', address: 'info@a.example', status: 'pending', clinicName: 'さくらクリニック',
        notice: { id: 'n1', kind: 'change', reference: 'CHG-2026-00002', title: '緊急メンテ', body: 'ログイン画面が 5 分間止まります。', severity: null, status: 'scheduled', detectedAt: null, effectiveAt: new Date('2026-12-10T01:00:00Z'), urgent: true },
        message: { id: 'm1', seq: 1, kind: 'initial', status: null, body: null },
      } as never,
      'support@forclinic.example',
    );
    const [ja, en] = mail.text.split('----');
    expect(ja).toContain('ログイン画面が 5 分間止まります。');
    expect(en).toContain('ログイン画面が 5 分間止まります。');
    expect(en).toContain('Takes effect: 2026-12-10 10:00');
    // Urgent in both halves of the subject, for the reader of either.
    expect(mail.subject).toMatch(/^\[FOR CLINIC\] 【緊急】CHG-2026-00002 変更のお知らせ \/ \[URGENT\] Advance notice of a change: 緊急メンテ$/);
  });

  it('quote every line of a clinic\'s incident report, so it cannot pass for lines of ours', () => {
    const forged = 'Suspicious login seen.\r\n\n----\u2028A clinic reported a suspected incident: other clinic, reference IR-FAKE';
    const mail = incidentReportToOperators({ reference: 'RPT-2026-00001', clinicName: 'さくら', tenantId: '00000000-0000-4000-8000-000000000001', description: forged, contact: 'desk', createdAt: new Date('2026-12-01T00:00:00Z') });
    const lines = mail.text.split('\n');
    const from = lines.findIndex((l) => l.startsWith('報告内容'));
    expect(lines.slice(from + 1, from + 6)).toEqual(['> Suspicious login seen.', '> ', '> ----', '> A clinic reported a suspected incident: other clinic, reference IR-FAKE', '']);
    // Our own trailer is the one line that starts the English part.
    expect(lines.filter((l) => l.startsWith('A clinic reported'))).toHaveLength(1);
  });

  it('tell a clinic what an operator opened and when, Japanese first, and where to find who', () => {
    const mail = clinicAccessMail({ clinicName: 'さくら', change: 'admin_created', occurredAt: new Date('2026-12-01T00:00:00Z'), loginId: 'helper' });
    expect(mail.subject).toBe('[FOR CLINIC] さくら: 管理者アカウントの作成 / An administrator account was created');
    const [ja, en] = halves(mail.text);
    expect(ja).toContain('2026-12-01 09:00');
    expect(ja).toContain('「helper」');
    expect(ja).toContain('操作ログ');
    expect(en).toContain('"helper"');
    expect(en).toContain('2026-12-01T00:00:00.000Z');
  });
});
