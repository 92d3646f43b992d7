import { z } from 'zod';

/** Field rules used by several entities. */

/**
 * Characters that make a name show something other than what it is: C0 and C1 control characters
 * (and DEL), zero-width characters (U+200B–U+200D, U+FEFF), and bidirectional formatting
 * characters — embeddings and overrides U+202A–U+202E, isolates U+2066–U+2069, and the marks
 * U+200E, U+200F, U+061C — with which "report\u202Efdp.exe" displays as "reportexe.pdf"; and the
 * other characters that show nothing: line and paragraph separators (U+2028, U+2029), the soft
 * hyphen (U+00AD), word joiner and invisible operators (U+2060–U+2064), U+180E, the Hangul filler
 * (U+3164) and tag characters (U+E0000–U+E007F).
 * Names (of people, clinics, groups, files, process areas, …) containing any of them are refused,
 * never cleaned.
 */
// eslint-disable-next-line no-control-regex
const DECEPTIVE_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\u3164\ufeff\u{e0000}-\u{e007f}]/u;
export const DECEPTIVE_MESSAGE = 'must not contain control characters, zero-width or other invisible characters, or bidirectional formatting characters (U+202A–U+202E, U+2066–U+2069)';

export const hasDeceptiveCharacters = (s: string) => DECEPTIVE_CHARACTERS.test(s);

/** A string without deceptive characters (checked before any trimming, which would drop U+FEFF at the ends). */
export const withoutDeceptiveCharacters = z.string().refine((s) => !hasDeceptiveCharacters(s), DECEPTIVE_MESSAGE);

/** Half of a UTF-16 pair without its other half: PostgreSQL cannot store it (it became U+FFFD). */
const LONE_SURROGATE = /\p{Surrogate}/u;

/** Human-readable text: valid Unicode, NFC-normalised, trimmed, non-empty, bounded. */
export const displayText = (max: number) =>
  z
    .string()
    .refine((s) => !LONE_SURROGATE.test(s), 'must be valid Unicode (no unpaired surrogate)')
    .transform((s) => s.normalize('NFC').trim())
    .pipe(z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`));

/** An e-mail address, trimmed and lower-cased so comparisons and uniqueness work. */
export const emailAddress = z
  .string()
  .trim()
  .max(254, 'must be at most 254 characters')
  .email('must be an e-mail address')
  .transform((e) => e.toLowerCase());

/** A name (of a person, clinic, group, area, notice): display text without deceptive characters. */
export const nameText = (max: number) => withoutDeceptiveCharacters.pipe(displayText(max));
