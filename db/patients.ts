import { isUuid } from '../domain/ids';
import { tenantIdOf, type TenantTransaction } from './tenant-scope';

/**
 * Patients of one clinic. Every function runs inside that clinic's withTenant() transaction.
 * Personal fields come and go sealed, searchable ones with their blind-index tokens: sealing,
 * tokens and opening are the application layer's, outside any transaction.
 */
export interface PatientRow {
  id: string;
  tenantId: string;
  patientNumber: string;
  nameSealed: Buffer;
  kanaSealed: Buffer;
  birthDateSealed: Buffer;
  phoneSealed: Buffer | null;
  emailSealed: Buffer | null;
  addressSealed: Buffer | null;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * The columns of a PatientRow, named in every read: the blind-index tokens (up to ten kana
 * prefixes a patient, as a text array) are for the WHERE clause only, and parsing them for every
 * row of a search page cost the API more than any other column.
 */
const ROW_COLUMNS = ['id', 'tenantId', 'patientNumber', 'nameSealed', 'kanaSealed', 'birthDateSealed', 'phoneSealed', 'emailSealed', 'addressSealed', 'createdAt', 'updatedAt'] as const;

/** What a write sets: sealed fields (null clears an optional one) and the tokens of searchable ones. */
export interface PatientColumns {
  patientNumber?: string;
  nameSealed?: Buffer;
  kanaSealed?: Buffer;
  birthDateSealed?: Buffer;
  phoneSealed?: Buffer | null;
  emailSealed?: Buffer | null;
  addressSealed?: Buffer | null;
  nameToken?: string;
  kanaPrefixTokens?: string[];
  birthDateToken?: string;
}

/** Unique per clinic; a clash is the caller's 409. */
/** Numbers are unique per clinic whatever their letter case (migration 20270113000004). */
export const PATIENT_NUMBER_CONSTRAINT = 'patients_number_any_case_key';

export async function insertPatient(trx: TenantTransaction, row: PatientColumns & { id: string; patientNumber: string }): Promise<PatientRow> {
  const [created] = await trx('patients').insert({ ...row, tenantId: tenantIdOf(trx) }).returning(ROW_COLUMNS);
  return created as PatientRow;
}

export async function findPatient(trx: TenantTransaction, id: string): Promise<PatientRow | undefined> {
  return isUuid(id) ? trx('patients').where({ id }).first(ROW_COLUMNS) : undefined;
}

/** The patient after the change, or undefined if there is no such patient. */
export async function updatePatient(trx: TenantTransaction, id: string, columns: PatientColumns): Promise<PatientRow | undefined> {
  if (!isUuid(id)) return undefined;
  const [updated] = await trx('patients').where({ id }).update({ ...columns, updatedAt: trx.fn.now() }).returning(ROW_COLUMNS);
  return updated as PatientRow | undefined;
}

/** Patients matching every given token, by id after `afterId`; up to `limit` rows. */
export async function searchPatients(
  trx: TenantTransaction,
  q: { nameToken?: string; kanaPrefixToken?: string; birthDateToken?: string; patientNumber?: string; afterId?: string; limit: number },
): Promise<PatientRow[]> {
  const query = trx('patients').select(ROW_COLUMNS).where({ tenant_id: tenantIdOf(trx) }).orderBy('id').limit(q.limit);
  if (q.nameToken !== undefined) query.where({ name_token: q.nameToken });
  if (q.kanaPrefixToken !== undefined) query.whereRaw('kana_prefix_tokens @> array[?]::text[]', [q.kanaPrefixToken]);
  if (q.birthDateToken !== undefined) query.where({ birth_date_token: q.birthDateToken });
  // As unique: whatever the letter case (the index on lower(patient_number) answers it).
  if (q.patientNumber !== undefined) query.whereRaw('lower(patient_number) = lower(?)', [q.patientNumber]);
  if (q.afterId) query.where('id', '>', q.afterId);
  return query;
}
