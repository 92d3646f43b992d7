/**
 * Roles of the provider's own staff (operators), least privilege first. An operator holds one or
 * more; a route names the roles that may call it (`operatorRoles` in api/route.ts) and nothing
 * else gets in. No operator role reads clinical data: operators see clinics, their workflows'
 * state and their records of what happened, never a patient's record.
 *
 * - `viewer`: read clinics and the state of their processes.
 * - `support`: creating a clinic's administrator, clearing its network allowlist (both by people only).
 * - `security`: incidents, change and vulnerability notices, denial logs.
 * - `platform-admin`: operators and API keys, backups and restore tests, contract end, legal
 *   hold, key operations.
 */
export const OPERATOR_ROLES = ['viewer', 'support', 'security', 'platform-admin'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/**
 * Roles that watch the others (the security events, the platform log): given (to a person, a new
 * operator or a key), taken or reset only by someone who holds them, or a platform admin could read
 * what is kept to watch platform admins through a key, an operator or a reset of their own making
 * (attack runs). Every widening of operator access is also mailed to the security addresses.
 */
export const WATCHING_ROLES: readonly OperatorRole[] = ['security'];

/** The watching roles among `roles` that the caller (`callerRoles`) does not hold: those they may not give, take or reset. */
export const watchingRolesNotHeld = (callerRoles: readonly OperatorRole[], roles: readonly OperatorRole[]): OperatorRole[] =>
  WATCHING_ROLES.filter((r) => roles.includes(r) && !callerRoles.includes(r));

/** Whether the caller holds every watching role: only such a hand issues credentials that may carry one. */
export const holdsWatchingRoles = (callerRoles: readonly OperatorRole[]): boolean => watchingRolesNotHeld(callerRoles, WATCHING_ROLES).length === 0;

/** How an operator request was authenticated. */
export type OperatorVia = 'session' | 'api-key' | 'break-glass';

/**
 * The operator behind a request, as every log records them: a person (session), a named
 * automation key, or the break-glass token (`OPERATOR_TOKEN`).
 */
export interface OperatorPrincipal {
  via: OperatorVia;
  /** Operator account id, API key id, or 'break-glass'. */
  id: string;
  /** The person's name, the key's name, or 'break-glass'. */
  name: string;
  roles: readonly OperatorRole[];
}

export const hasOperatorRole = (roles: readonly string[], wanted: readonly OperatorRole[]) => wanted.some((r) => roles.includes(r));

/** Every operator role: routes that only show clinics (never clinical data) and their process state. */
export const OPERATOR_READERS: OperatorRole[] = [...OPERATOR_ROLES];
