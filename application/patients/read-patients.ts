import { findPatient, searchPatients as findPatients } from '../../db/patients';
import { decodeIdCursor, encodeIdCursor } from '../../domain/pagination';
import type { Patient, PatientSearch } from '../../domain/patient';
import { notFound } from '../../domain/problems';
import type { ClinicActor, Services } from '../deps';
import { openPatient, openPatients, searchTokens } from './patient-record';

/**
 * Reading patients: every read and search is logged (the search entry names the patients it
 * returned) before anything is opened or answered (application/audit/read-log.ts).
 */
type Deps = Pick<Services, 'vault' | 'readLog'>;

export async function searchPatients(deps: Deps, actor: ClinicActor, q: PatientSearch): Promise<{ items: Patient[]; nextCursor: string | null }> {
  const afterId = decodeIdCursor(q.cursor);
  const tokens = await searchTokens(deps.vault, actor.tenantId, q);
  const rows = await deps.readLog.read(
    actor.tenantId,
    actor.audit,
    (trx) => findPatients(trx, { ...tokens, patientNumber: q.patientNumber, afterId, limit: q.limit + 1 }),
    (found) => ({
      action: 'patient.search',
      outcome: 'success',
      targetType: 'patient',
      details: { criteria: Object.keys(q).filter((k) => !['cursor', 'limit'].includes(k)), patientIds: found.slice(0, q.limit).map((p) => p.id) },
    }),
  );
  const page = rows.slice(0, q.limit);
  return {
    items: await openPatients(deps.vault, page),
    nextCursor: rows.length > q.limit ? encodeIdCursor(page.at(-1)!.id) : null,
  };
}

export async function readPatient(deps: Deps, actor: ClinicActor, id: string): Promise<Patient> {
  const row = await deps.readLog.read(
    actor.tenantId,
    actor.audit,
    (trx) => findPatient(trx, id),
    (found) => (found ? { action: 'patient.read', outcome: 'success', targetType: 'patient', targetId: id } : undefined),
  );
  if (!row) throw notFound('No such patient.');
  return openPatient(deps.vault, row);
}
