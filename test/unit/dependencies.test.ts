import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Runtime dependencies are few and each is justified in the README's table (README "Dependency notes"). */
it('lists every runtime dependency in the README\'s table, and nothing that is not one', () => {
  const root = path.join(__dirname, '..', '..');
  const declared = Object.keys(JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).dependencies).sort();
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Dependency notes'));
  const rows = section.split('\n').filter((l) => l.startsWith('| `'));
  const named = rows.flatMap((row) => {
    const cell = row.split('|')[1]!;
    const names = [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    // `@temporalio/activity`, `client`, … : later names share the first one's scope.
    const scope = names[0]!.startsWith('@') ? names[0]!.split('/')[0] : undefined;
    return names.map((n) => (scope && !n.startsWith('@') ? `${scope}/${n}` : n));
  });
  expect(named.sort()).toEqual(declared);
});
