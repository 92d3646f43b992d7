import { verifyAuditChain } from '../db/audit';
import { createDb } from '../db/connection';
import { verifyPlatformChain } from '../db/platform-log';
import { withPlatform } from '../db/platform-scope';
import { withTenant } from '../db/tenant-scope';
import { findTenant, findTenantBySlug } from '../db/tenants';

/**
 * `npm run audit:verify -- <clinic slug or id> [fromSeq] [toSeq]`: walks a clinic's operation log
 * hash chain and prints the result as JSON; `npm run audit:verify -- --platform [fromSeq]
 * [toSeq]` walks the platform operation log (what operators did). Exit code 0: intact; 1: broken
 * (the first broken link is printed); 2: usage or connection error. Uses DATABASE_URL, as the
 * application role.
 */
async function main(): Promise<number> {
  const [clinic, from, to] = process.argv.slice(2);
  const url = process.env.DATABASE_URL;
  if (!clinic || !url) {
    console.error('usage: DATABASE_URL=… npm run audit:verify -- <clinic slug or id | --platform> [fromSeq] [toSeq]');
    return 2;
  }
  const db = createDb({ url, poolMax: 1, applicationName: 'for-clinic-audit-verify' });
  try {
    const range = { fromSeq: from ? Number(from) : undefined, toSeq: to ? Number(to) : undefined };
    if (clinic === '--platform') {
      const result = await withPlatform(db, (trx) => verifyPlatformChain(trx, range));
      console.log(JSON.stringify({ log: 'platform', ...result }, null, 2));
      return result.ok ? 0 : 1;
    }
    const tenant = (await findTenant(db, clinic)) ?? (await findTenantBySlug(db, clinic));
    if (!tenant) {
      console.error(`no clinic "${clinic}"`);
      return 2;
    }
    const result = await withTenant(db, tenant.id, (trx) => verifyAuditChain(trx, range));
    console.log(JSON.stringify({ clinic: { id: tenant.id, slug: tenant.slug }, ...result }, null, 2));
    return result.ok ? 0 : 1;
  } finally {
    await db.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`audit:verify failed: ${(err as Error).message}`);
    process.exit(2);
  },
);
