import { z } from 'zod';

/** Field rules used by several entities. */

/**
 * Characters that make a name show something other than what it is: C0 and C1 control characters
 * (and DEL), zero-width characters (U+200B–U+200D, U+FEFF), and bidirectional formatting
 * characters — embeddings and overrides U+202A–U+202E, isolates U+2066–U+2069, and the marks
 * U+200E, U+200F, U+061C — with which "report\u202Efdp.exe" displays as "reportexe.pdf"; and the
 * other characters that show nothing: line and paragraph separators (U+2028, U+2029), every
 * format character (Unicode category Cf: the soft hyphen, word joiner and invisible operators,
 * U+206A–U+206F, the interlinear annotation marks U+FFF9–U+FFFB, musical and Egyptian format
 * controls, tag characters, …), every default-ignorable code point (the combining grapheme
 * joiner U+034F, the Hangul fillers U+115F, U+1160, U+3164 and U+FFA0, U+17B4, U+17B5, the
 * Mongolian selectors U+180B–U+180F, …), the blank braille pattern U+2800, and noncharacters
 * (U+FDD0–U+FDEF, U+FFFE, U+FFFF and the last two of every plane).
 * Variation selectors are the one default-ignorable kept, where they pick a defined variant: an
 * ideographic one (U+E0100–U+E01EF, U+FE00–U+FE02) after a kanji — the 異体字 a person's
 * registered name is written with — and a presentation one (U+FE0E, U+FE0F) after a pictograph or
 * on a keycap (1️⃣); anywhere else ("Doctors\uFE0F", "山田\uFE0F") they only make a look-alike.
 * Names (of people, clinics, groups, files, process areas, …) containing any of them are refused,
 * never cleaned.
 */
// eslint-disable-next-line no-control-regex
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u2800\p{Cf}\p{Noncharacter_Code_Point}\p{Default_Ignorable_Code_Point}]/gu;
/** Ideographic variation selectors (IVS) and the standardized ones CJK compatibility variants use. */
const IDEOGRAPHIC_SELECTOR = /^[\u{fe00}-\u{fe02}\u{e0100}-\u{e01ef}]$/u;
/** Text and emoji presentation selectors. */
const PRESENTATION_SELECTOR = /^[\u{fe0e}\u{fe0f}]$/u;
const HAN = /^\p{Script=Han}$/u;
const PICTOGRAPH = /^\p{Extended_Pictographic}$/u;
const KEYCAP_BASE = /^[0-9#*]$/;
export const DECEPTIVE_MESSAGE = 'must not contain control characters, zero-width or other invisible characters, or bidirectional formatting characters (U+202A–U+202E, U+2066–U+2069)';

/** The code point that ends just before index `i` of `s` (a surrogate pair counts as one). */
function codePointBefore(s: string, i: number): string {
  const low = s.charCodeAt(i - 1);
  const start = low >= 0xdc00 && low <= 0xdfff && i >= 2 ? i - 2 : i - 1;
  return start < 0 ? '' : String.fromCodePoint(s.codePointAt(start)!);
}

export function hasDeceptiveCharacters(s: string): boolean {
  for (const m of s.matchAll(INVISIBLE)) {
    const base = codePointBefore(s, m.index);
    // A variation selector is kept only where it picks a defined variant: an ideographic one after
    // a kanji, a presentation one after a pictograph or on a keycap (1️⃣: digit, U+FE0F, U+20E3).
    if (IDEOGRAPHIC_SELECTOR.test(m[0]) && HAN.test(base)) continue;
    if (PRESENTATION_SELECTOR.test(m[0]) && (PICTOGRAPH.test(base) || (KEYCAP_BASE.test(base) && s[m.index + 1] === '\u20e3'))) continue;
    return true;
  }
  return false;
}

/** A string without deceptive characters (checked before any trimming, which would drop U+FEFF at the ends). */
export const withoutDeceptiveCharacters = z.string().refine((s) => !hasDeceptiveCharacters(s), DECEPTIVE_MESSAGE);

/** Half of a UTF-16 pair without its other half: PostgreSQL cannot store it (it became U+FFFD). */
export const LONE_SURROGATE = /\p{Surrogate}/u;
export const LONE_SURROGATE_MESSAGE = 'must be valid Unicode (no unpaired surrogate)';

/** Human-readable text: valid Unicode, NFC-normalised, trimmed, non-empty, bounded. */
export const displayText = (max: number) =>
  z
    .string()
    .refine((s) => !LONE_SURROGATE.test(s), LONE_SURROGATE_MESSAGE)
    .transform((s) => s.normalize('NFC').trim())
    .pipe(z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`));

/** An e-mail address, trimmed and lower-cased so comparisons and uniqueness work. */
/**
 * Addresses SES would refuse: it takes only ASCII addresses with one '@', a dot-atom local part
 * of at most 64 characters and a dotted domain name. The mailer checks it before calling SES, so
 * that such an address fails the same way locally (the local SES accepts anything) as in
 * production; every address field checks it when the address is given, so that none is stored
 * that no mail can reach (a contract address like that failed its clinic's provisioning).
 */
export function isDeliverableAddress(address: string): boolean {
  const m = /^([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*)@([A-Za-z0-9.-]+)$/.exec(address);
  if (!m || m[1]!.length > 64 || address.length > 254) return false;
  const labels = m[2]!.split('.');
  return labels.length >= 2 && labels.every((l) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l));
}

export const emailAddress = z
  .string()
  .trim()
  .max(254, 'must be at most 254 characters')
  .email('must be an e-mail address')
  .refine(isDeliverableAddress, {
    message: 'must be an address mail can reach (a local part of at most 64 characters, domain labels that start and end with a letter or digit)',
    // Only for what passed as an address: one problem a field, not two for "not-an-email".
    when: (payload) => payload.issues.length === 0,
  })
  .transform((e) => e.toLowerCase());

/** A name (of a person, clinic, group, area, notice): display text without deceptive characters. */
export const nameText = (max: number) => withoutDeceptiveCharacters.pipe(displayText(max));
