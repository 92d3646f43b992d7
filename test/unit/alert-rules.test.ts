import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

/**
 * The alerting rules are only worth something if they name metrics we really export: a renamed
 * metric would silence its alert without anyone noticing. Every `forclinic_*` name a rule uses
 * must be registered somewhere in lib/ or api/ (histograms add _count/_sum/_bucket).
 */
const root = path.resolve(__dirname, '../..');
const rules = parse(readFileSync(path.join(root, 'deploy/prometheus/alerts.yml'), 'utf8')) as {
  groups: { name: string; rules: { alert: string; expr: string; labels?: Record<string, string>; annotations?: Record<string, string> }[] }[];
};
const source = ['lib/metrics.ts', 'api/server.ts', 'workers/main.ts'].map((f) => readFileSync(path.join(root, f), 'utf8')).join('\n');

it('every rule has a name, an expression, a severity and a summary', () => {
  const all = rules.groups.flatMap((g) => g.rules);
  expect(all.length).toBeGreaterThanOrEqual(6);
  for (const r of all) {
    expect(r.alert).toMatch(/^ForClinic[A-Za-z]+$/);
    expect(r.expr.trim().length).toBeGreaterThan(0);
    expect(['page', 'ticket']).toContain(r.labels?.severity);
    expect(r.annotations?.summary).toBeTruthy();
  }
});

it('names only metrics we export', () => {
  const used = new Set(rules.groups.flatMap((g) => g.rules).flatMap((r) => r.expr.match(/forclinic_[a-z_]+/g) ?? []));
  expect(used.size).toBeGreaterThan(0);
  for (const name of used) {
    const base = name.replace(/_(count|sum|bucket)$/, '');
    expect({ name, exported: source.includes(`'${base}'`) || source.includes(`'${name}'`) }).toEqual({ name, exported: true });
  }
});
