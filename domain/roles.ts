/** Clinic roles. Only `admin` manages accounts, groups and security settings. */
export const ROLES = ['admin', 'doctor', 'staff', 'auditor'] as const;
export type Role = (typeof ROLES)[number];

export const hasAnyRole = (roles: readonly string[], wanted: readonly Role[]) => wanted.some((r) => roles.includes(r));
