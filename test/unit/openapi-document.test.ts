import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { openApiDocument, openApiRoutes, TYPES_FILES } from '../../scripts/openapi';

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
const LISTENERS = ['public', 'operator'] as const;
const docs = Object.fromEntries(LISTENERS.map((l) => [l, openApiDocument(l) as Doc])) as Record<(typeof LISTENERS)[number], Doc>;
const dir = mkdtempSync(path.join(os.tmpdir(), 'openapi-'));
const fileOf = (listener: string) => path.join(dir, `openapi-${listener}.json`);
for (const l of LISTENERS) writeFileSync(fileOf(l), JSON.stringify(docs[l], null, 2));

describe.each(LISTENERS)('the %s listener\'s document', (listener) => {
  it('passes `redocly lint` with the recommended rules, without a warning', async () => {
    const { stdout } = await run(bin('redocly'), ['lint', '--config', path.join(root, 'redocly.yaml'), '--format', 'json', fileOf(listener)], { cwd: root }).catch(
      (err: { stdout: string }) => ({ stdout: err.stdout }),
    );
    const report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { totals: Record<string, number>; problems: { ruleId: string; message: string }[] };
    expect(report.problems.map((p) => `${p.ruleId}: ${p.message}`)).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
  }, 60_000);

  it('is valid against the official OpenAPI 3.1 schema (an independent validator)', async () => {
    const { stdout } = await run(bin('validate-api'), [fileOf(listener)]).catch((err: { stdout: string }) => ({ stdout: err.stdout }));
    expect(JSON.parse(stdout.slice(stdout.indexOf('{')))).toMatchObject({ valid: true });
  }, 60_000);

  it(`${TYPES_FILES[listener]} is what openapi-typescript generates from today's document (else: npm run openapi -- --listener ${listener} --types ${TYPES_FILES[listener]})`, async () => {
    // openapi-typescript loads ES modules jest cannot: generate in a child process, as `npm run openapi` does.
    const fresh = path.join(dir, `${listener}-types.ts`);
    await run(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/openapi.ts'), '--listener', listener, '--types', fresh], { cwd: root });
    expect(readFileSync(path.join(root, TYPES_FILES[listener]), 'utf8')).toBe(readFileSync(fresh, 'utf8'));
  }, 60_000);
});

it('every operation declares how it is authenticated; each document knows only its own listener\'s scheme', () => {
  const schemesOf = (doc: Doc) => {
    const schemes = new Set<string>();
    for (const methods of Object.values(doc.paths)) {
      for (const op of Object.values(methods)) {
        expect(Array.isArray(op.security)).toBe(true);
        for (const s of op.security ?? []) for (const name of Object.keys(s as object)) schemes.add(name);
      }
    }
    return [...schemes].sort();
  };
  expect(schemesOf(docs.public)).toEqual(['clinicSession']);
  expect(schemesOf(docs.operator)).toEqual(['operatorToken']);
  expect(docs.public.paths['/v1/auth/login']!.post!.security).toEqual([]);
  expect(docs.public.paths['/v1/me']!.get!.security).toEqual([{ clinicSession: [] }]);
  expect(docs.operator.paths['/v1/operator/tenants']!.post!.security).toEqual([{ operatorToken: [] }]);
});

it('operator routes are documented only on the operator listener, clinic routes only on the public one, health on both', () => {
  const publicPaths = Object.keys(docs.public.paths);
  const operatorPaths = Object.keys(docs.operator.paths);
  expect(publicPaths.filter((p) => p.startsWith('/v1/operator/'))).toEqual([]);
  expect(operatorPaths.filter((p) => !p.startsWith('/v1/operator/')).sort()).toEqual(['/healthz', '/openapi.json', '/passkeys', '/passkeys/app.js', '/passkeys/simplewebauthn-browser.js', '/readyz']); // the passkey reference page: outside production, on both
  expect(operatorPaths.length).toBeGreaterThan(10);
});

it('every request example is a body its route accepts', () => {
  const withExamples = LISTENERS.flatMap((l) => openApiRoutes(l)).filter((r) => r.bodyExample !== undefined);
  expect(withExamples.length).toBeGreaterThanOrEqual(5);
  for (const r of withExamples) {
    const parsed = r.body!.safeParse(r.bodyExample);
    expect({ operation: r.operationId, issues: parsed.error?.issues ?? [] }).toEqual({ operation: r.operationId, issues: [] });
  }
});
