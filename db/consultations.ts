import type { ConsultationMode, ConsultationStatus } from '../domain/consultation';
import type { TenantTransaction } from './tenant-scope';

/**
 * Consultations of one clinic. Every function runs inside that clinic's withTenant()
 * transaction. Sealed clinical fields are returned as ciphertext; only the application layer
 * opens them, outside any transaction.
 */
export interface ConsultationRow {
  id: string;
  tenantId: string;
  patientId: string;
  practitionerId: string;
  startsAt: Date;
  endsAt: Date;
  mode: ConsultationMode;
  status: ConsultationStatus;
  workflowId: string;
  idempotencyKey: string | null;
  paymentAmount: number | null;
  paymentMethod: string | null;
  questionnaireSealed: Buffer | null;
  noteSealed: Buffer | null;
  prescriptionsSealed: Buffer | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface TimelineEvent {
  type: string;
  status: string;
  occurredAt: Date;
  details: Record<string, unknown>;
}

export async function findConsultation(trx: TenantTransaction, id: string): Promise<ConsultationRow | undefined> {
  return trx('consultations').where({ id }).first();
}

export async function findByIdempotencyKey(trx: TenantTransaction, key: string): Promise<ConsultationRow | undefined> {
  return trx('consultations').where({ idempotency_key: key }).first();
}

export async function insertConsultation(
  trx: TenantTransaction,
  row: Pick<ConsultationRow, 'id' | 'tenantId' | 'patientId' | 'practitionerId' | 'startsAt' | 'endsAt' | 'mode' | 'workflowId' | 'idempotencyKey'> & { createdBy: string },
): Promise<ConsultationRow> {
  const [created] = await trx('consultations')
    .insert({
      id: row.id,
      tenant_id: row.tenantId,
      patient_id: row.patientId,
      practitioner_id: row.practitionerId,
      starts_at: row.startsAt,
      ends_at: row.endsAt,
      mode: row.mode,
      status: 'reserved',
      workflow_id: row.workflowId,
      idempotency_key: row.idempotencyKey,
      created_by: row.createdBy,
    })
    .returning('*');
  return created as ConsultationRow;
}

export async function listConsultations(
  trx: TenantTransaction,
  f: { from: Date; to: Date; practitionerId?: string; status?: ConsultationStatus },
): Promise<ConsultationRow[]> {
  const q = trx('consultations').where('starts_at', '>=', f.from).where('starts_at', '<', f.to).orderBy([{ column: 'starts_at' }, { column: 'id' }]);
  if (f.practitionerId) q.where({ practitioner_id: f.practitionerId });
  if (f.status) q.where({ status: f.status });
  return q;
}

export async function consultationTimeline(trx: TenantTransaction, id: string): Promise<TimelineEvent[]> {
  return trx('consultation_events').where({ consultation_id: id }).orderBy('id').select('type', 'status', 'occurred_at', 'details');
}

export async function patientExists(trx: TenantTransaction, id: string): Promise<boolean> {
  return !!(await trx('patients').where({ id }).first('id'));
}
