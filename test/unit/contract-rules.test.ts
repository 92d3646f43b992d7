import { canonicalJson } from '../../domain/canonical-json';
import { CONTRACT_END_SKEW_MS, contractEndTooEarly, contractSteps, isReadOnly, stateForEnd } from '../../domain/contract';
import { loadConfig, workerConfigProblems } from '../../lib/config';
import { contractBookingsCancelledMail, contractNoticeMail, deletionCertificateMail } from '../../activities/mail-templates/contract-end';

const DAY = 86_400_000;
const NOW = Date.parse('2027-01-10T00:00:00Z');

describe('contract end rules', () => {
  it('takes an end from now on (with a few minutes for a clock behind ours), never one further back', () => {
    const now = Date.UTC(2027, 2, 1);
    expect(contractEndTooEarly(now + 86_400_000, now)).toBe(false);
    expect(contractEndTooEarly(now, now)).toBe(false);
    expect(contractEndTooEarly(now - CONTRACT_END_SKEW_MS, now)).toBe(false);
    expect(contractEndTooEarly(now - CONTRACT_END_SKEW_MS - 1, now)).toBe(true);
    expect(contractEndTooEarly(Date.UTC(2025, 11, 1), now)).toBe(true);
    // A grace shorter than the allowance caps it at half the grace: 60 s of grace, 30 s back at most.
    expect(contractEndTooEarly(now - 30_000, now, 60)).toBe(false);
    expect(contractEndTooEarly(now - 30_001, now, 60)).toBe(true);
    expect(contractEndTooEarly(now - CONTRACT_END_SKEW_MS, now, 30 * 86_400)).toBe(false);
  });

  it('plans the announcement, the reminders still ahead, the end and the purge after the grace', () => {
    const end = NOW + 90 * DAY;
    const steps = contractSteps(end, [14 * 86_400, 60 * 86_400], 30 * 86_400, NOW);
    expect(steps.map((s) => [s.key, s.at])).toEqual([
      ['announce', NOW],
      ['reminder-5184000', end - 60 * DAY],
      ['reminder-1209600', end - 14 * DAY],
      ['end', end],
      ['purge', end + 30 * DAY],
    ]);
    // Set 20 days ahead: the 60-day reminder is already past (the announcement covers it).
    expect(contractSteps(NOW + 20 * DAY, [60 * 86_400, 14 * 86_400], 1, NOW).map((s) => s.key)).toEqual(['announce', 'reminder-1209600', 'end', 'purge']);
    // An end already past: no announcement, the end's notice comes at once.
    expect(contractSteps(NOW - DAY, [60 * 86_400], 1, NOW).map((s) => s.key)).toEqual(['end', 'purge']);
  });

  it('decides read-only from the stored end, whatever the workflow has done', () => {
    expect(isReadOnly('ending', NOW - 1, NOW)).toBe(true);
    expect(isReadOnly('ending', NOW + 1, NOW)).toBe(false);
    expect(isReadOnly('active', null, NOW)).toBe(false);
    expect(isReadOnly('read_only', NOW + DAY, NOW)).toBe(true);
    expect(isReadOnly('purging', null, NOW)).toBe(true);
    expect(stateForEnd(null, NOW)).toBe('active');
    expect(stateForEnd(NOW, NOW)).toBe('read_only');
    expect(stateForEnd(NOW + 1, NOW)).toBe('ending');
  });

  it('writes canonical JSON: keys sorted at every level, no spaces, arrays in order', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 'x', c: null }, 2], e: 'é' })).toBe('{"a":[{"c":null,"d":"x"},2],"b":1,"e":"é"}');
    expect(canonicalJson(JSON.parse(canonicalJson({ z: { y: 1, x: 2 } })))).toBe('{"z":{"x":2,"y":1}}');
  });

  it('writes a date as JSON.stringify does, so two dates never give the same text', () => {
    // An Idempotency-Key's request fingerprint is canonical JSON: a date written as {} made every
    // reschedule look like the same request.
    const at = new Date('2027-01-10T01:00:00Z');
    expect(canonicalJson({ startsAt: at })).toBe('{"startsAt":"2027-01-10T01:00:00.000Z"}');
    expect(canonicalJson({ startsAt: at })).not.toBe(canonicalJson({ startsAt: new Date('2027-01-10T01:05:00Z') }));
  });

  it('configures lead times and grace in seconds, and requires the certificate key of a production worker', () => {
    const base = { DATABASE_URL: 'postgres://app@db/x', OPERATOR_TOKEN: 'x'.repeat(32) };
    const c = loadConfig(base);
    expect([c.CONTRACT_NOTICE_LEAD_SECONDS, c.CONTRACT_GRACE_SECONDS, c.PURGE_BATCH_ROWS]).toEqual([[60 * 86_400, 14 * 86_400], 30 * 86_400, 5_000]);
    expect(() => loadConfig({ ...base, CONTRACT_NOTICE_LEAD_SECONDS: '4,4' })).toThrow(/CONTRACT_NOTICE_LEAD_SECONDS/);
    expect(() => loadConfig({ ...base, CONTRACT_GRACE_SECONDS: '0' })).toThrow(/CONTRACT_GRACE_SECONDS/);
    expect(() => loadConfig({ ...base, PURGE_DATABASE_URL: 'postgres://app@db/x' })).toThrow(/PURGE_DATABASE_URL/);
    expect(workerConfigProblems({ ...c, NODE_ENV: 'production' })).toEqual([expect.stringMatching(/^DELETION_CERTIFICATE_KEY/)]);
    expect(workerConfigProblems({ ...c, NODE_ENV: 'production', DELETION_CERTIFICATE_KEY: 'k'.repeat(32) })).toEqual([]);
  });

  it('writes every contract mail Japanese first with English below, with Japan time and UTC', () => {
    const clinic = { name: 'さくらクリニック', slug: 'sakura' };
    const dates = { endsAt: new Date('2027-03-31T15:00:00Z'), purgeAt: new Date('2027-04-30T15:00:00Z'), previousEndsAt: new Date('2027-02-28T15:00:00Z') };
    for (const kind of ['announce', 'reminder', 'end', 'changed', 'cancelled'] as const) {
      const mail = contractNoticeMail(kind, clinic, dates);
      const [jaHead, enHead] = mail.subject.split(' / ');
      expect([kind, /[ぁ-んァ-ン一-龯]/.test(jaHead!), /^[\x20-\x7e]+$/.test(enHead!)]).toEqual([kind, true, true]);
      const firstEnglish = mail.text.search(/^(The |After |At |New )/m);
      expect(mail.text.indexOf('2027-04-01 00:00（日本時間）')).toBeGreaterThan(-1); // 15:00 UTC is the next day in Japan
      expect(mail.text.indexOf('（日本時間）')).toBeLessThan(firstEnglish);
      expect(mail.text).toContain('2027-03-31T15:00:00.000Z');
    }
    expect(contractNoticeMail('announce', clinic, dates).text).toContain('医師法第24条');
    // A reminder reads as one; English says "Japan time", not （日本時間）.
    const [announce, reminder] = [contractNoticeMail('announce', clinic, dates), contractNoticeMail('reminder', clinic, dates)];
    expect(reminder.subject).not.toBe(announce.subject);
    expect(reminder.subject).toContain('Reminder: your contract ends');
    // Both halves of the subject in Japan time, as the clinic reads the date.
    expect(announce.subject).toContain('2027-04-01 00:00 / Your contract ends on 2027-04-01 00:00 Japan time');
    const english = announce.text.slice(announce.text.indexOf('The FOR CLINIC contract'));
    expect(english).toContain('2027-04-01 00:00 Japan time (2027-03-31T15:00:00.000Z)');
    expect(english).not.toContain('日本時間');
    // Under a legal hold no mail names a deletion date that will not come.
    for (const kind of ['announce', 'end', 'changed'] as const) {
      const held = contractNoticeMail(kind, clinic, { ...dates, held: true });
      expect([kind, held.text.includes('2027-04-30T15:00:00.000Z'), /保留/.test(held.text), /on hold/.test(held.text)]).toEqual([kind, false, true, true]);
    }
    expect(contractBookingsCancelledMail(clinic, 1).subject).toContain('1 booking cancelled');
    expect(contractBookingsCancelledMail(clinic, 2).text).toContain('2 bookings scheduled after the end were cancelled');
    const cert = deletionCertificateMail({ slug: 'sakura' }, { canonical: '{"a":1}', sha256: 'ab'.repeat(32), signature: 'cd'.repeat(32), purgedAt: dates.purgeAt });
    expect(cert.text).toContain('SHA-256: ' + 'ab'.repeat(32));
    expect(cert.text.endsWith('{"a":1}')).toBe(true);
  });
});
