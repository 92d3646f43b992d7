import { z } from 'zod';

/** Field rules used by several entities. */

/** A human-readable name: NFC-normalised, trimmed, non-empty, bounded. */
export const displayText = (max: number) =>
  z
    .string()
    .transform((s) => s.normalize('NFC').trim())
    .pipe(z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`));

/** An e-mail address, trimmed and lower-cased so comparisons and uniqueness work. */
export const emailAddress = z
  .string()
  .trim()
  .max(254, 'must be at most 254 characters')
  .email('must be an e-mail address')
  .transform((e) => e.toLowerCase());
