import { randomInt } from 'node:crypto';
import { z } from 'zod';
import { birthDate } from './dates';
import { displayText, emailAddress, nameText, withoutDeceptiveCharacters } from './fields';

/** Patients: what the desk registers, and how it searches (on blind indexes, see name-search.ts). */
// Kana and spaces only (ASCII or ideographic): not \s, which let tabs, line breaks and U+2028 in.
const kana = withoutDeceptiveCharacters
  .transform((s) => s.normalize('NFKC').trim())
  .pipe(z.string().min(1).max(100).regex(/^[\p{Script=Hiragana}\p{Script=Katakana}ー・ 　]+$/u, 'must be written in kana'));
const phone = z.string().trim().regex(/^\+?[0-9-]{6,20}$/, 'must be a phone number');
const patientNumber = z.string().trim().regex(/^[A-Za-z0-9-]{1,20}$/, 'must be 1-20 letters, digits or "-"');

export const createPatientSchema = z.strictObject({
  patientNumber: patientNumber.optional(),
  name: nameText(100),
  kana,
  birthDate,
  phone: phone.nullable().optional(),
  email: emailAddress.nullable().optional(),
  address: displayText(300).nullable().optional(),
});
export type PatientInput = z.output<typeof createPatientSchema>;

export const updatePatientSchema = createPatientSchema.partial().refine((v) => Object.keys(v).length > 0, 'at least one field is required');
export type PatientPatch = z.output<typeof updatePatientSchema>;

export const searchPatientsSchema = z.strictObject({
  name: z.string().min(1).max(100).optional(),
  kana: z.string().min(1).max(100).optional(),
  birthDate: birthDate.optional(),
  // Trimmed as a number is when registered; empty is refused (it searched for nothing and listed everyone).
  patientNumber: z.string().trim().min(1).max(20).optional(),
  cursor: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});
export type PatientSearch = z.output<typeof searchPatientsSchema>;

/** The personal fields, all sealed at rest. */
export const PERSONAL_FIELDS = ['name', 'kana', 'birthDate', 'phone', 'email', 'address'] as const;
export type PersonalField = (typeof PERSONAL_FIELDS)[number];

export interface Patient {
  id: string;
  patientNumber: string;
  name: string;
  kana: string;
  birthDate: string;
  phone: string | null;
  email: string | null;
  address: string | null;
  createdAt: string;
  updatedAt: string;
}

/** The number a clinic did not choose: P and eight digits. */
export const newPatientNumber = () => `P${String(randomInt(0, 1e8)).padStart(8, '0')}`;
