import { formatJapanDateTime } from '../../domain/japan-time';
import type { MailText } from '../../lib/mailer';

/**
 * To the operators (OPERATOR_EMAILS) when a backup, a verification or a restore test fails. The
 * reason names objects, tables and errors only: never patient data (none reaches these steps in
 * clear).
 */
export type BackupFailureKind = 'backup' | 'verification' | 'restore_test';

const WHAT: Record<BackupFailureKind, [string, string]> = {
  backup: ['バックアップ', 'backup'],
  verification: ['バックアップの検証', 'backup verification'],
  restore_test: ['リストアテスト', 'restore test'],
};

export function backupFailureMail(input: { kind: BackupFailureKind; generationId: string; at: Date; reason: string }): MailText {
  const [ja, en] = WHAT[input.kind];
  const at = formatJapanDateTime(input.at);
  return {
    subject: `[FOR CLINIC] ${ja}に失敗しました / A ${en} failed (${input.generationId})`,
    text: [
      `${at}（日本時間）、世代 ${input.generationId} の${ja}に失敗しました。古い世代は削除していません。`,
      `理由: ${input.reason}`,
      '',
      `At ${at} (Japan time) the ${en} of generation ${input.generationId} failed. No older generation was deleted.`,
      `Reason: ${input.reason}`,
      '',
      'GET /v1/operator/backups shows every generation and its last verification.',
    ].join('\n'),
  };
}
