import { withTenant } from '../../db/tenant-scope';
import { randomUUID } from 'node:crypto';
import { recordAudit } from '../../db/audit';
import { isUniqueViolation } from '../../db/errors';
import { insertPatient, PATIENT_NUMBER_CONSTRAINT, updatePatient as updatePatientRow, type PatientRow } from '../../db/patients';
import { newPatientNumber, type Patient, type PatientInput, type PatientPatch } from '../../domain/patient';
import { conflict, notFound } from '../../domain/problems';
import type { ClinicActor, Services } from '../deps';
import { openPatient, sealPatient } from './patient-record';

/**
 * Registering and changing patients. Fields are sealed before the transaction, which only writes
 * the row and its log entry; the answer is opened after commit.
 */
type Deps = Pick<Services, 'db' | 'vault'>;

async function numberIsFree(detail: string, write: () => Promise<PatientRow>): Promise<PatientRow> {
  try {
    return await write();
  } catch (err) {
    if (isUniqueViolation(err, PATIENT_NUMBER_CONSTRAINT)) throw conflict('patient_number_taken', detail);
    throw err;
  }
}

export async function registerPatient(deps: Deps, actor: ClinicActor, input: PatientInput): Promise<Patient> {
  const id = randomUUID();
  const patientNumber = input.patientNumber ?? newPatientNumber();
  const columns = await sealPatient(deps.vault, actor.tenantId, id, input);
  const row = await numberIsFree(`Patient number ${patientNumber} is already in use.`, () =>
    withTenant(deps.db, actor.tenantId, async (trx) => {
      const created = await insertPatient(trx, { ...columns, id, patientNumber });
      await recordAudit(trx, actor.audit, { action: 'patient.create', outcome: 'success', targetType: 'patient', targetId: id });
      return created;
    }),
  );
  return openPatient(deps.vault, row);
}

export async function updatePatient(deps: Deps, actor: ClinicActor, id: string, patch: PatientPatch): Promise<Patient> {
  const columns = { ...(patch.patientNumber ? { patientNumber: patch.patientNumber } : {}), ...(await sealPatient(deps.vault, actor.tenantId, id, patch)) };
  const row = await numberIsFree('That patient number is already in use.', () =>
    withTenant(deps.db, actor.tenantId, async (trx) => {
      const updated = await updatePatientRow(trx, id, columns);
      if (!updated) throw notFound('No such patient.');
      await recordAudit(trx, actor.audit, { action: 'patient.update', outcome: 'success', targetType: 'patient', targetId: id, details: { fields: Object.keys(patch) } });
      return updated;
    }),
  );
  return openPatient(deps.vault, row);
}
