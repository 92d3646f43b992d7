import { loadConfig } from '../../lib/config';
import { checkLeadTime, declareIncidentSchema, DETECTED_AT_SKEW_MS, reminderMoments, statusMayFollow } from '../../domain/notices';
import { Problem } from '../../domain/problems';

const DAY = 86_400;
const base = { OPERATOR_TOKEN: 'x'.repeat(32), DATABASE_URL: 'postgres://app@localhost/db' };

describe('notice rules', () => {
  it('plans reminders at each lead time before the change, latest lead first, skipping moments already past', () => {
    const now = Date.UTC(2026, 11, 1);
    const effective = now + 10 * DAY * 1000;
    expect(reminderMoments(effective, [DAY, 7 * DAY], now)).toEqual([effective - 7 * DAY * 1000, effective - DAY * 1000]);
    expect(reminderMoments(now + 3 * DAY * 1000, [7 * DAY, DAY, DAY], now)).toEqual([now + 2 * DAY * 1000]);
  });

  it('takes an incident detected up to now (a few minutes ahead for the operator\'s clock), never one detected in the future', () => {
    const declared = (detectedAt: string) =>
      declareIncidentSchema.safeParse({ title: 'Leak', description: 'What happened.', severity: 'high', affectedTenantIds: 'all', detectedAt }).success;
    const at = (ms: number) => new Date(Date.now() + ms).toISOString();
    expect(declared(at(-3_600_000))).toBe(true);
    expect(declared(at(DETECTED_AT_SKEW_MS - 60_000))).toBe(true);
    expect(declared(at(DETECTED_AT_SKEW_MS + 60_000))).toBe(false);
    expect(declared('2999-01-01')).toBe(false);
    // A bare date would be midnight UTC (Japan's morning): a moment is asked for; and a plausible one.
    expect(declared(new Date().toISOString().slice(0, 10))).toBe(false);
    expect(declared('1900-01-01T00:00:00Z')).toBe(false);
    // The text is checked like every text: an unpaired surrogate was stored and mailed as U+FFFD.
    const parsed = declareIncidentSchema.safeParse({ title: 'Leak', description: 'D\ud800', severity: 'high', affectedTenantIds: 'all', detectedAt: at(-60_000) });
    expect(parsed.success).toBe(false);
  });

  it('refuses a change inside the minimum lead time as too_late unless urgent, and one in the past always', () => {
    const now = Date.now();
    const refusal = (fn: () => void) => {
      try {
        fn();
      } catch (err) {
        return (err as Problem).code;
      }
      return 'accepted';
    };
    expect(refusal(() => checkLeadTime(now + 6 * DAY * 1000, now, 7 * DAY, false))).toBe('too_late');
    expect(refusal(() => checkLeadTime(now + 6 * DAY * 1000, now, 7 * DAY, true))).toBe('accepted');
    expect(refusal(() => checkLeadTime(now + 8 * DAY * 1000, now, 7 * DAY, false))).toBe('accepted');
    expect(refusal(() => checkLeadTime(now - 1, now, 7 * DAY, true))).toBe('validation_failed');
  });

  it('moves statuses forward only; resolved is final', () => {
    expect(statusMayFollow('investigating', 'contained')).toBe(true);
    expect(statusMayFollow('contained', 'investigating')).toBe(false);
    expect(statusMayFollow('investigating', 'investigating')).toBe(true);
    expect(statusMayFollow('resolved', 'resolved')).toBe(false);
  });
});

describe('notice configuration', () => {
  it('defaults to 10 mails/s, lead times of 7 days and 1 day, a minimum of 7 days', () => {
    const c = loadConfig(base);
    expect([c.MAIL_SEND_RATE, c.CHANGE_NOTICE_LEAD_SECONDS, c.CHANGE_NOTICE_MIN_LEAD_SECONDS]).toEqual([10, [7 * DAY, DAY], 7 * DAY]);
  });

  it.each([
    ['MAIL_SEND_RATE', '0'],
    ['MAIL_SEND_RATE', '2.5'],
    ['MAIL_SEND_RATE', 'fast'],
    ['CHANGE_NOTICE_LEAD_SECONDS', '604800,,86400'],
    ['CHANGE_NOTICE_LEAD_SECONDS', '86400,86400'],
    ['CHANGE_NOTICE_MIN_LEAD_SECONDS', '-1'],
    ['SECURITY_CONTACT_EMAIL', 'security'],
  ])('refuses %s=%s at start-up, naming it', (key, value) => {
    expect(() => loadConfig({ ...base, [key]: value })).toThrow(new RegExp(key));
  });
});
