import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { openApiDocument, openApiRoutes } from '../../scripts/openapi';

/**
 * /openapi.json is accepted by the tools front-end developers use: Redocly's linter (recommended
 * rules), an independent validator against the official OpenAPI 3.1 schema, and
 * openapi-typescript (whose output, test/contract/api-types.ts, the typed client in
 * test/contract/ is type-checked against by `npm test`). Nothing here starts a server.
 */
const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');
const bin = (name: string) => path.join(root, 'node_modules/.bin', name);

type Doc = { paths: Record<string, Record<string, { security?: unknown[]; requestBody?: { content: Record<string, { example?: unknown }> }; operationId: string }>> };
const doc = openApiDocument() as Doc;
const dir = mkdtempSync(path.join(os.tmpdir(), 'openapi-'));
const file = path.join(dir, 'openapi.json');
writeFileSync(file, JSON.stringify(doc, null, 2));

it('passes `redocly lint` with the recommended rules, without a warning', async () => {
  const { stdout } = await run(bin('redocly'), ['lint', '--config', path.join(root, 'redocly.yaml'), '--format', 'json', file], { cwd: root }).catch(
    (err: { stdout: string }) => ({ stdout: err.stdout }),
  );
  const report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { totals: Record<string, number>; problems: { ruleId: string; message: string }[] };
  expect(report.problems.map((p) => `${p.ruleId}: ${p.message}`)).toEqual([]);
  expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
}, 60_000);

it('is valid against the official OpenAPI 3.1 schema (an independent validator)', async () => {
  const { stdout } = await run(bin('validate-api'), [file]).catch((err: { stdout: string }) => ({ stdout: err.stdout }));
  expect(JSON.parse(stdout.slice(stdout.indexOf('{')))).toMatchObject({ valid: true });
}, 60_000);

it('test/contract/api-types.ts is what openapi-typescript generates from today\'s document (else: npm run openapi -- --types test/contract/api-types.ts)', async () => {
  // openapi-typescript loads ES modules jest cannot: generate in a child process, as `npm run openapi` does.
  const fresh = path.join(dir, 'api-types.ts');
  await run(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/openapi.ts'), '--types', fresh], { cwd: root });
  expect(readFileSync(path.join(root, 'test/contract/api-types.ts'), 'utf8')).toBe(readFileSync(fresh, 'utf8'));
}, 60_000);

it('every operation declares how it is authenticated: a session, the operator token, or nothing', () => {
  const schemes = new Set<string>();
  for (const methods of Object.values(doc.paths)) {
    for (const op of Object.values(methods)) {
      expect(Array.isArray(op.security)).toBe(true);
      for (const s of op.security ?? []) for (const name of Object.keys(s as object)) schemes.add(name);
    }
  }
  expect([...schemes].sort()).toEqual(['clinicSession', 'operatorToken']);
  expect(doc.paths['/v1/auth/login']!.post!.security).toEqual([]);
  expect(doc.paths['/v1/me']!.get!.security).toEqual([{ clinicSession: [] }]);
  expect(doc.paths['/v1/operator/tenants']!.post!.security).toEqual([{ operatorToken: [] }]);
});

it('every request example is a body its route accepts', () => {
  const withExamples = openApiRoutes().filter((r) => r.bodyExample !== undefined);
  expect(withExamples.length).toBeGreaterThanOrEqual(5);
  for (const r of withExamples) {
    const parsed = r.body!.safeParse(r.bodyExample);
    expect({ operation: r.operationId, issues: parsed.error?.issues ?? [] }).toEqual({ operation: r.operationId, issues: [] });
  }
});
