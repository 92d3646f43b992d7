import { readFileSync } from 'node:fs';
import path from 'node:path';
import { operatorRoleTable } from '../../api/operator-role-table';
import { openApiRoutes } from '../../scripts/openapi';

/** The README's role × route table is what the routes declare (regenerate: node --import tsx scripts/operator-role-table.ts). */
test('README: the operator role table matches the route declarations', () => {
  const readme = readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
  const m = /<!-- operator-roles:start -->\n([\s\S]*?)\n<!-- operator-roles:end -->/.exec(readme);
  expect(m).not.toBeNull();
  expect(m![1]).toBe(operatorRoleTable(openApiRoutes('operator')));
});
