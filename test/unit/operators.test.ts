import { BREAK_GLASS_ALERT_WINDOW_SECONDS, breakGlassWindow, OPERATOR_PASSWORD_POLICY, operatorRolesSchema } from '../../domain/operators';
import { stateAfterPassword, stateAfterPasswordChange } from '../../domain/sign-in';

/** The operators' rules (domain/operators.ts) as plain functions. */
describe('operator sign-in rules', () => {
  const now = new Date('2026-12-03T10:00:00Z');
  const facts = { passwordIsInitial: false, passwordChangedAt: new Date('2026-12-01T00:00:00Z'), roles: ['viewer'] };

  it('always needs a passkey: enrol one, or present one', () => {
    expect(stateAfterPassword({ ...facts, passwordIsInitial: true }, OPERATOR_PASSWORD_POLICY, 0, now)).toBe('password_change_required');
    expect(stateAfterPasswordChange(facts, OPERATOR_PASSWORD_POLICY, 0)).toBe('second_factor_enrollment_required');
    expect(stateAfterPassword(facts, OPERATOR_PASSWORD_POLICY, 1, now)).toBe('second_factor_required');
  });

  it('follows the clinics\' defaults for passwords and lockout, with a one-day initial password', () => {
    expect(OPERATOR_PASSWORD_POLICY).toMatchObject({ minLength: 13, secondFactor: 'everyone', initialPasswordTtlSeconds: 86_400, lockout: { maxFailures: 5 } });
  });

  it('names roles from the list, each once', () => {
    expect(operatorRolesSchema.safeParse(['viewer', 'security']).success).toBe(true);
    expect(operatorRolesSchema.safeParse([]).success).toBe(false);
    expect(operatorRolesSchema.safeParse(['admin']).success).toBe(false);
    expect(operatorRolesSchema.safeParse(['viewer', 'viewer']).success).toBe(false);
  });
});

describe('break-glass alert windows', () => {
  it('are 15 minutes, aligned in UTC, and every moment belongs to exactly one', () => {
    expect(BREAK_GLASS_ALERT_WINDOW_SECONDS).toBe(900);
    expect(breakGlassWindow(new Date('2026-12-03T10:14:59.999Z')).toISOString()).toBe('2026-12-03T10:00:00.000Z');
    expect(breakGlassWindow(new Date('2026-12-03T10:15:00.000Z')).toISOString()).toBe('2026-12-03T10:15:00.000Z');
  });
});
