import type { Patient } from '../domain/patient';
import type { PatientRecordDocument } from '../domain/patient-record-document';
import { exportSelectSql, type ExportTable } from './export-tables';
import type { TenantTransaction } from './tenant-scope';

/**
 * Reads for the clinic's data export. Each is ONE statement inside the caller's clinic
 * transaction, so what it returns is one consistent snapshot (PostgreSQL gives every statement
 * one), and rows arrive through a cursor in batches: memory stays flat for any clinic size.
 */
const BATCH_ROWS = 1_000;

/** A table's rows as JSON arrays, columns in the catalog's order (db/export-tables.ts). */
export function streamExportTable(trx: TenantTransaction, table: ExportTable): AsyncIterable<{ r: unknown[] }> {
  return trx.raw(exportSelectSql(table)).stream({ batchSize: BATCH_ROWS, highWaterMark: BATCH_ROWS }) as unknown as AsyncIterable<{ r: unknown[] }>;
}

export async function countExportSubjects(trx: TenantTransaction): Promise<{ patients: number; files: number }> {
  const { rows } = await trx.raw(`select (select count(*) from patients)::int as patients, (select count(*) from process_files)::int as files`);
  return rows[0];
}

const utc = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

type RecordConsultation = PatientRecordDocument['consultations'][number];

/**
 * A patient with every consultation and its timeline, as the record page shows them, except
 * that sealed values (the patient's personal data, questionnaire, note, prescriptions, cancel
 * reason) are still base64 ciphertext.
 */
export type SealedPatientRecord = Patient & {
  consultations: Array<Omit<RecordConsultation, 'questionnaire' | 'prescriptions'> & { questionnaire: string | null; prescriptions: string | null }>;
};

/**
 * The next `limit` patients after `afterId` (in id order, the batches' stable keyset), each with
 * all their consultations (oldest first), their doctors and timelines: one statement, so a
 * patient's record is consistent with itself even while the clinic keeps working.
 */
export async function patientRecordBatch(trx: TenantTransaction, afterId: string | null, limit: number): Promise<SealedPatientRecord[]> {
  const b64 = (c: string) => `encode(${c}, 'base64')`;
  const { rows } = await trx.raw(
    `select json_build_object(
        'id', p.id, 'patientNumber', p.patient_number, 'name', ${b64('p.name_sealed')}, 'kana', ${b64('p.kana_sealed')},
        'birthDate', ${b64('p.birth_date_sealed')}, 'phone', ${b64('p.phone_sealed')}, 'email', ${b64('p.email_sealed')},
        'address', ${b64('p.address_sealed')}, 'createdAt', ${utc('p.created_at')}, 'updatedAt', ${utc('p.updated_at')},
        'consultations', coalesce((
          select json_agg(json_build_object(
              'id', c.id, 'startsAt', ${utc('c.starts_at')}, 'endsAt', ${utc('c.ends_at')}, 'mode', c.mode, 'status', c.status,
              'practitioner', pr.display_name, 'questionnaire', ${b64('c.questionnaire_sealed')}, 'note', ${b64('c.note_sealed')},
              'prescriptions', ${b64('c.prescriptions_sealed')}, 'paymentAmount', c.payment_amount, 'paymentMethod', c.payment_method,
              'cancelReason', ${b64('c.cancel_reason_sealed')},
              'events', coalesce((select json_agg(json_build_object('type', e.type, 'status', e.status, 'at', ${utc('e.occurred_at')}) order by e.occurred_at, e.id)
                                    from consultation_events e where e.consultation_id = c.id), '[]'::json)
            ) order by c.starts_at, c.id)
            from consultations c join practitioners pr on pr.id = c.practitioner_id
           where c.patient_id = p.id), '[]'::json)
      ) as r
      from patients p
     where (?::uuid is null or p.id > ?::uuid)
     order by p.id
     limit ?`,
    [afterId, afterId, limit],
  );
  return rows.map((row: { r: SealedPatientRecord }) => row.r);
}

/** A page of process files (ids, their area, sealed name, where the encrypted copy lies). */
export async function processFilePage(trx: TenantTransaction, afterId: string | null, limit: number) {
  const { rows } = await trx.raw(
    `select f.id, f.process_id as "processId", f.name_sealed as "nameSealed", f.content_type as "contentType", f.size_bytes::text as "sizeBytes",
            f.storage_key as "storageKey", p.name_sealed as "processNameSealed"
       from process_files f join processes p on p.id = f.process_id
      where (?::uuid is null or f.id > ?::uuid) order by f.id limit ?`,
    [afterId, afterId, limit],
  );
  return rows as Array<{ id: string; processId: string; nameSealed: Buffer; contentType: string; sizeBytes: string; storageKey: string; processNameSealed: Buffer }>;
}
