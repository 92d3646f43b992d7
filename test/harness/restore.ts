import { randomUUID } from 'node:crypto';
import { restoreInto } from '../../db/backup-restore';
import { dropDatabase, ensureDatabase, withDatabase } from '../../db/database';
import { withLogin } from '../../db/roles';
import { openGeneration } from '../../lib/backup/verify';
import { createKeyProvider } from '../../lib/crypto/provider';
import type { BackupStore } from '../../lib/storage/backup-store';
import { testLogin } from './database';
import type { TestStack } from './stack';

/** Restores a generation into a new scratch database (as the restore test's role) and returns its URL for the test to inspect and drop. */
export async function restoreToScratch(stack: TestStack, store: BackupStore, generationId: string) {
  const name = `test_restore_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = stack.config.RESTORE_TEST_DATABASE_URL!;
  await ensureDatabase(admin, name);
  const { manifest, dataKey } = await openGeneration(store, createKeyProvider(stack.config), generationId);
  const outcome = await restoreInto({ store, manifest, dataKey, targetUrl: withDatabase(admin, name) });
  return { outcome, appUrl: withLogin(withDatabase(admin, name), testLogin()), drop: () => dropDatabase(admin, name) };
}
