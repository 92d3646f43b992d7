/** Clinic roles. Only `admin` manages accounts, groups and security settings. */
export const ROLES = ['admin', 'doctor', 'staff', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export const hasAnyRole = (roles: readonly string[], wanted: readonly Role[]) => wanted.some((r) => roles.includes(r));

/**
 * Auditors are read-only, whatever other role the account has: an auditor reviews what the
 * others did and changes nothing (the role's reads stay, and an auditor who is also a doctor still
 * reads what a doctor reads). What any signed-in account does for itself (its password, passkeys,
 * sessions, a notice read) is not gated by a role and stays theirs.
 */
export const mayUseRoleGatedWrite = (roles: readonly string[]) => !roles.includes('auditor');

/** The clinic's care team: who books, sees and runs consultations, patients and practitioners. */
export const CARE_TEAM = ['admin', 'doctor', 'staff'] as const satisfies readonly Role[];
