import type { PatientColumns, PatientRow } from '../../db/patients';
import { normaliseName, searchPrefixes } from '../../domain/name-search';
import { PERSONAL_FIELDS, type Patient, type PatientInput, type PersonalField } from '../../domain/patient';
import type { Vault } from '../../lib/crypto/vault';

/**
 * How a patient's personal data is sealed, indexed and opened. All of it calls the vault (which
 * may call KMS), so use cases do it before or after their transaction, never inside one.
 */
const context = (id: string, f: PersonalField) => `patients.${f}:${id}`;
const SEALED: Record<PersonalField, keyof PatientRow & keyof PatientColumns> = {
  name: 'nameSealed',
  kana: 'kanaSealed',
  birthDate: 'birthDateSealed',
  phone: 'phoneSealed',
  email: 'emailSealed',
  address: 'addressSealed',
};

/** The columns for the given fields: sealed values, and fresh blind-index tokens for name, kana and birth date. */
export async function sealPatient(vault: Vault, tenantId: string, id: string, fields: Partial<PatientInput>): Promise<PatientColumns> {
  const out: Record<string, Buffer | null | string | string[]> = {};
  for (const f of PERSONAL_FIELDS) {
    const value = fields[f];
    if (value !== undefined) out[SEALED[f]] = value === null ? null : await vault.encryptText(tenantId, context(id, f), value);
  }
  if (fields.name !== undefined) out.nameToken = await vault.blindIndex(tenantId, 'patient.name', normaliseName(fields.name));
  if (fields.kana !== undefined) {
    out.kanaPrefixTokens = await Promise.all(searchPrefixes(normaliseName(fields.kana)).map((s) => vault.blindIndex(tenantId, 'patient.kana', s)));
  }
  if (fields.birthDate !== undefined) out.birthDateToken = await vault.blindIndex(tenantId, 'patient.birthDate', fields.birthDate);
  return out as PatientColumns;
}

/** Tokens to look patients up by: exact name, kana prefix (up to 10 characters), birth date. */
export async function searchTokens(vault: Vault, tenantId: string, q: { name?: string; kana?: string; birthDate?: string }) {
  const token = (field: string, value: string | undefined) => (value === undefined ? undefined : vault.blindIndex(tenantId, field, value));
  return {
    nameToken: await token('patient.name', q.name === undefined ? undefined : normaliseName(q.name)),
    // A kana query of spaces only has no prefix; its token then matches nobody.
    kanaPrefixToken: await token('patient.kana', q.kana === undefined ? undefined : (searchPrefixes(normaliseName(q.kana), 10).at(-1) ?? '')),
    birthDateToken: await token('patient.birthDate', q.birthDate),
  };
}

export async function openPatient(vault: Vault, row: PatientRow): Promise<Patient> {
  return (await openPatients(vault, [row]))[0]!;
}

/**
 * A page of patients: the clinic's key is looked up once and the six fields of each row are
 * opened synchronously, instead of a promise and a key-cache lookup per field (120 for a search
 * page of 20).
 */
export async function openPatients(vault: Vault, rows: PatientRow[]): Promise<Patient[]> {
  if (rows.length === 0) return [];
  const tenantId = rows[0]!.tenantId;
  // A page comes from one clinic's scope; the key of one clinic never opens another's rows.
  if (rows.some((r) => r.tenantId !== tenantId)) throw new Error('openPatients: rows of more than one clinic');
  const openText = await vault.textOpener(tenantId);
  return rows.map((row) => {
    const open = (f: PersonalField) => {
      const sealed = row[SEALED[f]] as Buffer | null;
      return sealed ? openText(context(row.id, f), sealed) : null;
    };
    return {
      id: row.id,
      patientNumber: row.patientNumber,
      name: open('name')!,
      kana: open('kana')!,
      birthDate: open('birthDate')!,
      phone: open('phone'),
      email: open('email'),
      address: open('address'),
      createdAt: row.createdAt.toISOString(),
      updatedAt: row.updatedAt.toISOString(),
    };
  });
}
