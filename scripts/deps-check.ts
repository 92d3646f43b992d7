/**
 * `npm run deps:check`: vulnerability scan of what production runs (npm audit --omit=dev).
 * Fails (exit 1) on a high or critical advisory that is not on the dated allowlist
 * (deps-allowlist.json), or on an allowlist entry past its date. Where the audit endpoint does
 * not answer (our build machines get 405), it says so loudly and exits 2: "not scanned" must
 * never read as "clean". The SBOM (CycloneDX, `npm sbom --omit dev`) is written either way, so
 * the components can be checked elsewhere.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface AllowedAdvisory {
  /** The advisory (GHSA id or URL) as npm audit names it. */
  advisory: string;
  package: string;
  reason: string;
  /** The last day (YYYY-MM-DD, UTC) this entry holds; then it must be fixed or renewed with a new reason. */
  until: string;
}

export interface AuditVerdict {
  blocking: string[];
  allowed: string[];
  expiredAllowances: string[];
}

type AuditReport = { vulnerabilities?: Record<string, { severity: string; via: Array<string | { url?: string; source?: number; title?: string; severity?: string }> }> };

/** Which findings block a release, given npm audit's JSON report, the allowlist and today's date. */
export function judgeAudit(report: AuditReport, allowlist: AllowedAdvisory[], today: string): AuditVerdict {
  const expiredAllowances = allowlist.filter((a) => a.until < today).map((a) => `${a.package} ${a.advisory} (allowed until ${a.until})`);
  const live = allowlist.filter((a) => a.until >= today);
  const blocking: string[] = [];
  const allowed: string[] = [];
  for (const [pkg, v] of Object.entries(report.vulnerabilities ?? {})) {
    for (const via of v.via) {
      if (typeof via === 'string') continue; // a dependency path; its package is listed on its own
      const severity = via.severity ?? v.severity;
      if (severity !== 'high' && severity !== 'critical') continue;
      const id = via.url ?? String(via.source);
      const line = `${pkg}: ${severity} ${id} ${via.title ?? ''}`.trim();
      if (live.some((a) => a.package === pkg && id.includes(a.advisory))) allowed.push(line);
      else blocking.push(line);
    }
  }
  return { blocking, allowed, expiredAllowances };
}

async function main(): Promise<number> {
  const root = path.resolve(__dirname, '..');
  const out = path.join(root, 'reports');
  mkdirSync(out, { recursive: true });
  const sbom = await run('npm', ['sbom', '--sbom-format', 'cyclonedx', '--omit', 'dev'], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
  writeFileSync(path.join(out, 'sbom.cdx.json'), sbom.stdout);
  console.log(`[deps] SBOM (CycloneDX, runtime dependencies): ${path.join('reports', 'sbom.cdx.json')}`);

  const allowlist = JSON.parse(readFileSync(path.join(root, 'deps-allowlist.json'), 'utf8')) as AllowedAdvisory[];
  const audit = await run('npm', ['audit', '--omit=dev', '--json'], { cwd: root, maxBuffer: 64 * 1024 * 1024 }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  let report: AuditReport & { error?: unknown; message?: string; statusCode?: number };
  try {
    report = JSON.parse(audit.stdout);
  } catch {
    report = { message: 'npm audit printed no JSON' };
  }
  if (!report.vulnerabilities) {
    const why = report.message ?? (report.error ? JSON.stringify(report.error) : 'no report');
    console.error('');
    console.error('[deps] ##########################################################################');
    console.error('[deps] #  VULNERABILITY SCAN DID NOT RUN: the npm audit endpoint did not answer.  #');
    console.error(`[deps] #  ${why.slice(0, 70).padEnd(70)}  #`);
    console.error('[deps] #  Nothing was checked. Scan reports/sbom.cdx.json where advisories are    #');
    console.error('[deps] #  reachable (npm audit, osv-scanner, Dependency-Track) before release.    #');
    console.error('[deps] ##########################################################################');
    return 2;
  }
  const verdict = judgeAudit(report, allowlist, new Date().toISOString().slice(0, 10));
  for (const a of verdict.allowed) console.log(`[deps] allowed (deps-allowlist.json): ${a}`);
  for (const e of verdict.expiredAllowances) console.error(`[deps] allowlist entry expired: ${e}`);
  for (const b of verdict.blocking) console.error(`[deps] HIGH/CRITICAL: ${b}`);
  if (verdict.blocking.length || verdict.expiredAllowances.length) return 1;
  console.log('[deps] no high or critical advisory in the runtime dependencies');
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(`[deps] failed: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
