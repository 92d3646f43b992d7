import { z } from 'zod';
import { isOfferedSlot, rulesSchema, type Exception, type Rule } from './availability';
import { nameText } from './fields';
import { badRequest } from './problems';
import { uuidInput } from './ids';

/** Doctors: how long their slots are, which modes they offer, and when (see availability.ts). */
export interface Practitioner {
  id: string;
  displayName: string;
  accountId: string | null;
  slotMinutes: number;
  modes: string[];
  rules: Rule[];
  exceptions: Exception[];
}

const modes = z.array(z.enum(['in_person', 'online'])).min(1).transform((m) => [...new Set(m)]);

/** The longest slot, and so the longest consultation: what a search for overlapping bookings looks back. */
export const MAX_SLOT_MINUTES = 240;

export const createPractitionerSchema = z.strictObject({
  displayName: nameText(100),
  accountId: uuidInput().optional(),
  slotMinutes: z.number().int().min(5).max(MAX_SLOT_MINUTES).default(15),
  modes: modes.default(['in_person', 'online']),
  rules: rulesSchema.default([]),
});
export type CreatePractitionerInput = z.output<typeof createPractitionerSchema>;

/**
 * A booking or a reschedule must name a slot the doctor offers, in a mode the doctor offers.
 * Returns when that slot ends (a consultation lasts one slot).
 */
export function assertOffered(practitioner: Practitioner, startsAt: Date, mode: string): Date {
  if (!practitioner.modes.includes(mode)) throw badRequest('mode_not_offered', `This practitioner does not offer ${mode} consultations.`);
  if (!isOfferedSlot({ rules: practitioner.rules, exceptions: practitioner.exceptions, slotMinutes: practitioner.slotMinutes, startsAt })) {
    throw badRequest('not_a_slot', 'The practitioner does not offer a slot starting at that time.');
  }
  return new Date(startsAt.getTime() + practitioner.slotMinutes * 60_000);
}
