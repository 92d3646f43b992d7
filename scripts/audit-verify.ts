import { verifyAuditChain } from '../db/audit';
import { createDb } from '../db/connection';
import { verifyPlatformChain } from '../db/platform-log';
import { withPlatform } from '../db/platform-scope';
import { withTenant } from '../db/tenant-scope';
import { findTenant, findTenantBySlug } from '../db/tenants';
import { embeddedLogin } from '../db/embedded-postgres';
import { withLogin } from '../db/roles';
import { dataDirOf, devOwnerUrl } from './dev-owner-url';
import path from 'node:path';

/**
 * `npm run audit:verify -- <clinic slug or id> [fromSeq] [toSeq]`: walks a clinic's operation log
 * hash chain and prints the result as JSON; `npm run audit:verify -- --platform [fromSeq]
 * [toSeq]` walks the platform operation log (what operators did). Exit code 0: intact; 1: broken
 * (the first broken link is printed); 2: usage or connection error. Uses DATABASE_URL, as the
 * application role (on npm start's embedded PostgreSQL, that login without DATABASE_URL).
 */
/**
 * DATABASE_URL, or on `npm start`'s own embedded PostgreSQL (development) the application's login
 * there: the owner URL it recorded with the login's password from its data folder, as `npm run
 * operator` finds the owner.
 */
async function databaseUrl(): Promise<string | undefined> {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  const dataDir = dataDirOf(process.env, path.join(__dirname, '..'));
  const owner = await devOwnerUrl(dataDir);
  if (!owner) return undefined;
  console.error('[audit:verify] DATABASE_URL is unset: using the embedded PostgreSQL that npm start runs');
  return withLogin(owner, await embeddedLogin(dataDir));
}

async function main(): Promise<number> {
  const [clinic, from, to] = process.argv.slice(2);
  const url = await databaseUrl();
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
