import { findPatient, searchPatients as findPatients } from '../../db/patients';
import { withTenant } from '../../db/tenant-scope';
import { decodeIdCursor, encodeIdCursor } from '../../domain/pagination';
import type { Patient, PatientSearch } from '../../domain/patient';
import { notFound } from '../../domain/problems';
import type { ClinicActor, Services } from '../deps';
import { openPatient, openPatients, searchTokens } from './patient-record';

/**
 * Reading patients: every read and search is logged (the search entry names the patients it
 * returned) before anything is opened or answered; the entries of concurrent reads in a clinic
 * commit together (application/audit/read-log.ts).
 */
type Deps = Pick<Services, 'db' | 'vault' | 'readLog'>;

export async function searchPatients(deps: Deps, actor: ClinicActor, q: PatientSearch): Promise<{ items: Patient[]; nextCursor: string | null }> {
  const afterId = decodeIdCursor(q.cursor);
  const tokens = await searchTokens(deps.vault, actor.tenantId, q);
  const rows = await withTenant(deps.db, actor.tenantId, (trx) => findPatients(trx, { ...tokens, patientNumber: q.patientNumber, afterId, limit: q.limit + 1 }));
  const page = rows.slice(0, q.limit);
  await deps.readLog.write(actor.tenantId, actor.audit, {
    action: 'patient.search',
    outcome: 'success',
    targetType: 'patient',
    details: { criteria: Object.keys(q).filter((k) => !['cursor', 'limit'].includes(k)), patientIds: page.map((p) => p.id) },
  });
  return {
    items: await openPatients(deps.vault, page),
    nextCursor: rows.length > q.limit ? encodeIdCursor(page.at(-1)!.id) : null,
  };
}

export async function readPatient(deps: Deps, actor: ClinicActor, id: string): Promise<Patient> {
  const row = await withTenant(deps.db, actor.tenantId, (trx) => findPatient(trx, id));
  if (!row) throw notFound('No such patient.');
  await deps.readLog.write(actor.tenantId, actor.audit, { action: 'patient.read', outcome: 'success', targetType: 'patient', targetId: id });
  return openPatient(deps.vault, row);
}
