import { createDb, migrateLatest } from './connection';

/** `npm run migrate`: applies pending migrations to DATABASE_URL (deploy step before new code starts). */
async function main() {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set');
  const db = createDb({ url, poolMax: 1, applicationName: 'for-clinic-migrate', as: 'owner' });
  try {
    const applied = await migrateLatest(db);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
  } finally {
    await db.destroy();
  }
}

main().catch((err) => {
  console.error(`migrate failed: ${(err as Error).message}`);
  process.exit(1);
});
