import { randomInt, randomUUID } from 'node:crypto';
import { conflict, notFound } from '../domain/problems';
import { normaliseName, searchPrefixes } from '../domain/name-search';
import type { Vault } from '../lib/crypto/vault';
import { tenantIdOf, type TenantTransaction } from './tenant-scope';
import { isUuid } from '../domain/ids';
import { isUniqueViolation } from './errors';

/**
 * Patients. Every personal field is sealed with the clinic's data key; name, kana and birth date
 * also get blind-index tokens so the desk can search without the database ever seeing a name.
 */
const SEALED = ['name', 'kana', 'birthDate', 'phone', 'email', 'address'] as const;
type Field = (typeof SEALED)[number];
const column = (f: Field) => `${f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_sealed`;
const ctx = (id: string, f: Field) => `patients.${f}:${id}`;

export interface PatientInput {
  patientNumber?: string;
  name: string;
  kana: string;
  birthDate: string;
  phone?: string | null;
  email?: string | null;
  address?: string | null;
}

export interface PatientView extends Required<Omit<PatientInput, 'patientNumber'>> {
  id: string;
  patientNumber: string;
  createdAt: string;
  updatedAt: string;
}

async function tokens(vault: Vault, tenantId: string, p: Pick<PatientInput, 'name' | 'kana' | 'birthDate'>) {
  return {
    name_token: await vault.blindIndex(tenantId, 'patient.name', normaliseName(p.name)),
    kana_prefix_tokens: await Promise.all(searchPrefixes(normaliseName(p.kana)).map((s) => vault.blindIndex(tenantId, 'patient.kana', s))),
    birth_date_token: await vault.blindIndex(tenantId, 'patient.birthDate', p.birthDate),
  };
}

async function sealAll(vault: Vault, tenantId: string, id: string, p: Partial<PatientInput>) {
  const out: Record<string, Buffer | null> = {};
  for (const f of SEALED) {
    if (p[f] === undefined) continue;
    out[column(f)] = p[f] === null ? null : await vault.encryptText(tenantId, ctx(id, f), p[f] as string);
  }
  return out;
}

export async function toPatientView(trx: TenantTransaction, vault: Vault, row: Record<string, any>): Promise<PatientView> {
  const tenantId = tenantIdOf(trx)!;
  const open = async (f: Field) => {
    const sealed = row[column(f).replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase())] as Buffer | null;
    return sealed ? vault.decryptText(tenantId, ctx(row.id, f), sealed) : null;
  };
  return {
    id: row.id,
    patientNumber: row.patientNumber,
    name: (await open('name'))!,
    kana: (await open('kana'))!,
    birthDate: (await open('birthDate'))!,
    phone: await open('phone'),
    email: await open('email'),
    address: await open('address'),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export async function createPatient(trx: TenantTransaction, vault: Vault, input: PatientInput): Promise<PatientView> {
  const tenantId = tenantIdOf(trx)!;
  const id = randomUUID();
  const patientNumber = input.patientNumber ?? `P${String(randomInt(0, 1e8)).padStart(8, '0')}`;
  try {
    await trx('patients').insert({ id, tenant_id: tenantId, patient_number: patientNumber, ...(await sealAll(vault, tenantId, id, input)), ...(await tokens(vault, tenantId, input)) });
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict('patient_number_taken', `Patient number ${patientNumber} is already in use.`);
    throw err;
  }
  return getPatient(trx, vault, id);
}

export async function getPatient(trx: TenantTransaction, vault: Vault, id: string): Promise<PatientView> {
  const row = isUuid(id) ? await trx('patients').where({ id }).first() : undefined;
  if (!row) throw notFound('No such patient.');
  return toPatientView(trx, vault, row);
}

export async function updatePatient(trx: TenantTransaction, vault: Vault, id: string, patch: Partial<PatientInput>): Promise<PatientView> {
  const current = await getPatient(trx, vault, id);
  const tenantId = tenantIdOf(trx)!;
  const merged = { ...current, ...patch };
  await trx('patients')
    .where({ id })
    .update({
      ...(patch.patientNumber ? { patient_number: patch.patientNumber } : {}),
      ...(await sealAll(vault, tenantId, id, patch)),
      ...(await tokens(vault, tenantId, merged)),
      updated_at: trx.fn.now(),
    })
    .catch((err: unknown) => {
      if (isUniqueViolation(err)) throw conflict('patient_number_taken', 'That patient number is already in use.');
      throw err;
    });
  return getPatient(trx, vault, id);
}

export async function searchPatients(
  trx: TenantTransaction,
  vault: Vault,
  q: { name?: string; kana?: string; birthDate?: string; patientNumber?: string; limit: number; afterId?: string },
): Promise<{ items: PatientView[]; next: string | null }> {
  const tenantId = tenantIdOf(trx)!;
  const query = trx('patients').where({ tenant_id: tenantId }).orderBy('id').limit(q.limit + 1);
  if (q.name) query.where({ name_token: await vault.blindIndex(tenantId, 'patient.name', normaliseName(q.name)) });
  if (q.kana) query.whereRaw('kana_prefix_tokens @> array[?]::text[]', [await vault.blindIndex(tenantId, 'patient.kana', searchPrefixes(normaliseName(q.kana), 10).at(-1)!)]);
  if (q.birthDate) query.where({ birth_date_token: await vault.blindIndex(tenantId, 'patient.birthDate', q.birthDate) });
  if (q.patientNumber) query.where({ patient_number: q.patientNumber });
  if (q.afterId) query.where('id', '>', q.afterId);
  const rows = await query;
  const page = rows.slice(0, q.limit);
  return { items: await Promise.all(page.map((r: Record<string, any>) => toPatientView(trx, vault, r))), next: rows.length > q.limit ? page.at(-1)!.id : null };
}
