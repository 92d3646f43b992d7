import { OPERATOR_ROLES } from '../domain/operator-roles';
import type { AnyRoute } from './route';

/** Routes whose handler acts on the caller's own session: they document 403 operator_session_required themselves. */
const ownSession = (r: AnyRoute) => !r.notByApiKey && !Array.isArray(r.problems) && (r.problems?.[403] ?? []).includes('operator_session_required');

/**
 * What a route asks of the caller beyond a role: a person and not an API key (`notByApiKey`), a
 * signed-in person's own session (the sign-in steps, logout, one's password: neither a key nor
 * break-glass has one), a passkey proved in the last 5 minutes (`operatorFreshProof`; for some
 * bodies only when it is a function).
 */
function who(r: AnyRoute): string {
  const parts: string[] = [];
  if (ownSession(r)) parts.push('own session');
  else if (r.notByApiKey) parts.push('person, not a key');
  if (r.operatorFreshProof === true) parts.push('passkey ≤ 5 min');
  else if (r.operatorFreshProof && r.notByApiKey) parts.push(`passkey ≤ 5 min ${r.operatorFreshProofFor ?? 'to give access'}`);
  // Open to keys but for some bodies, which need a person who has just proved their passkey.
  else if (r.operatorFreshProof) parts.push(`any; ${r.operatorFreshProofFor ?? 'to give access'}: a person with passkey ≤ 5 min`);
  return parts.join('; ') || 'any';
}

/**
 * The README's role × route table (section Operators), generated from the route declarations so
 * that it cannot drift: test/unit/operator-role-table.test.ts compares the README with it, and
 * `node --import tsx scripts/operator-role-table.ts` prints it after a route changes.
 */
export function operatorRoleTable(routes: AnyRoute[]): string {
  const rows = routes
    .filter((r) => r.security === 'operator')
    .map((r) => `| \`${r.method.toUpperCase()} ${r.path}\` | ${OPERATOR_ROLES.map((role) => (r.operatorRoles?.includes(role) ? '✓' : '—')).join(' | ')} | ${who(r)} |`)
    .sort();
  return [`| route | ${OPERATOR_ROLES.join(' | ')} | caller |`, `| --- | ${OPERATOR_ROLES.map(() => ':-:').join(' | ')} | --- |`, ...rows].join('\n');
}
