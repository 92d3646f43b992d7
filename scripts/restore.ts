import { parseArgs } from 'node:util';
import { restoreInto, RestoreRefused } from '../db/backup-restore';
import { openGeneration } from '../lib/backup/verify';
import { ConfigError, loadRestoreConfig } from '../lib/config';
import { createKeyProvider } from '../lib/crypto/provider';
import { createBackupStore } from '../lib/storage/backup-store';

/**
 * Disaster recovery: `npm run restore -- --generation <id> --target <database url> [--force]`.
 *
 * Reads the generation from the backup store (BACKUP_STORAGE, BACKUP_DIR or BACKUP_S3_*), unwraps
 * its data key with the key provider (KEY_PROVIDER, KEY_STORE_DIR or KMS), checks the manifest's
 * MAC, migrates the target to the generation's schema version and restores every table in one
 * transaction, comparing counts and checksums before it commits. The target URL is its OWNER's
 * (MIGRATION_DATABASE_URL of the new server). A target holding any rows is refused unless
 * --force (which empties it in the same transaction). Needs nothing else: no API, no Temporal,
 * no access to the old database.
 */
async function main(): Promise<number> {
  const { values } = parseArgs({ options: { generation: { type: 'string' }, target: { type: 'string' }, force: { type: 'boolean', default: false } } });
  if (!values.generation || !values.target) {
    console.error('usage: npm run restore -- --generation <id> --target <postgres://owner@host/db> [--force]');
    return 2;
  }
  const config = loadRestoreConfig();
  const store = createBackupStore(config);
  const started = Date.now();
  const { manifest, dataKey } = await openGeneration(store, createKeyProvider(config), values.generation);
  console.log(`generation ${manifest.id}: taken ${manifest.startedAt}–${manifest.finishedAt} from PostgreSQL ${manifest.postgresVersion}, schema ${manifest.latestMigration}, ${manifest.tables.length} tables`);
  let shown = 0;
  const outcome = await restoreInto({
    store,
    manifest,
    dataKey,
    targetUrl: values.target,
    force: values.force,
    onBytes: (n) => {
      shown += n;
      if (shown > 256 * 1024 * 1024) {
        process.stdout.write('.');
        shown = 0;
      }
    },
  });
  for (const t of outcome.tables) if (!t.checksumOk || t.rows !== t.expectedRows) console.error(`  ${t.name}: ${t.rows}/${t.expectedRows} rows${t.checksumOk ? '' : ', checksum differs'}`);
  const rows = outcome.tables.reduce((n, t) => n + t.rows, 0);
  if (!outcome.ok) {
    console.error('restore FAILED: the restored tables differ from the manifest; nothing was committed');
    return 1;
  }
  console.log(`restored ${rows} rows in ${outcome.tables.length} tables; counts and checksums equal the manifest (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  console.log('next: npm run migrate (as the owner, with DATABASE_URL) to apply newer migrations and provision the login, then start the API and the worker');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`restore failed: ${err instanceof ConfigError || err instanceof RestoreRefused ? err.message : ((err as Error).stack ?? String(err))}`);
    process.exit(1);
  },
);
