import type { ConsultationMode } from '../../domain/consultation';
import { formatJapanDateTime } from '../../domain/japan-time';
import type { MailText } from '../../lib/mailer';

/**
 * To the patient before a booked consultation. Only the clinic's name and the time: no patient
 * name, no clinical content (a mailbox is not a safe place for them).
 */
export function consultationReminderMail(input: { clinicName: string; startsAt: Date; mode: ConsultationMode }): MailText {
  const when = formatJapanDateTime(input.startsAt);
  const online = input.mode === 'online';
  return {
    subject: `[${input.clinicName}] ご予約のお知らせ / Appointment reminder`,
    text: [
      `${input.clinicName} です。`,
      `${when}（日本時間）のご予約のお知らせです。`,
      ...(online ? ['オンライン診療の入室は開始10分前から可能です。'] : []),
      '',
      `This is ${input.clinicName}.`,
      `Reminder: your ${online ? 'online ' : ''}appointment is at ${when} (Japan time).`,
      ...(online ? ['You can enter the online consultation room from 10 minutes before the start.'] : []),
    ].join('\n'),
  };
}
