/** Clinic roles. Only `admin` manages accounts, groups and security settings. */
export const ROLES = ['admin', 'doctor', 'staff', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export const hasAnyRole = (roles: readonly string[], wanted: readonly Role[]) => wanted.some((r) => roles.includes(r));

/** The clinic's care team: who books, sees and runs consultations, patients and practitioners. */
export const CARE_TEAM = ['admin', 'doctor', 'staff'] as const satisfies readonly Role[];
