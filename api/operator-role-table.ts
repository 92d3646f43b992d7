import { OPERATOR_ROLES } from '../domain/operator-roles';
import type { AnyRoute } from './route';

/**
 * The README's role × route table (section Operators), generated from the route declarations so
 * that it cannot drift: test/unit/operator-role-table.test.ts compares the README with it, and
 * `node --import tsx scripts/operator-role-table.ts` prints it after a route changes.
 */
export function operatorRoleTable(routes: AnyRoute[]): string {
  const rows = routes
    .filter((r) => r.security === 'operator')
    .map((r) => `| \`${r.method.toUpperCase()} ${r.path}\` | ${OPERATOR_ROLES.map((role) => (r.operatorRoles?.includes(role) ? '✓' : '—')).join(' | ')} |`)
    .sort();
  return [`| route | ${OPERATOR_ROLES.join(' | ')} |`, `| --- | ${OPERATOR_ROLES.map(() => ':-:').join(' | ')} |`, ...rows].join('\n');
}
