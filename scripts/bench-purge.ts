import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Client as TemporalClient } from '@temporalio/client';
import { createContractEndActivities } from '../activities/contract-end';
import { createDb } from '../db/connection';
import { provisionPurgeLogin } from '../db/purge-role';
import { dropLoginRole, withLogin } from '../db/roles';
import { seedClinicVolume } from '../db/seed-clinic-volume';
import type { Mailer } from '../lib/mailer';
import { fsObjectStore } from '../lib/storage/object-store';
import { compared, elapsedMs, say } from './bench-lib';

/**
 * Contract-end purge of one clinic with BENCH_PURGE_PATIENTS patients (default 100,000) and three
 * consultations each (300,000), through the purge's own code and login (inventory in one
 * snapshot, batched deletes of PURGE_BATCH_ROWS each committed on its own, the count that proves
 * nothing is left, the certificate), next to the anchor: one plain DELETE per table of another
 * clinic with the same rows, as the owner, in one transaction. Goal: at most 3× the anchor (the
 * price of short transactions, a resumable purge and a verified certificate).
 */
export async function benchPurge(opts: { serverUrl: string; ownerUrl: string; appUrl: string; dataDir: string }): Promise<Record<string, unknown>> {
  const patients = Number(process.env.BENCH_PURGE_PATIENTS ?? 100_000);
  const volume = { patients, consultations: patients * 3 };
  const owner = createDb({ url: opts.ownerUrl, poolMax: 2, as: 'owner' });
  const app = createDb({ url: opts.appUrl, poolMax: 2 });
  const purgeLogin = { user: `forclinic_bench_purge_${randomBytes(4).toString('hex')}`, password: randomBytes(24).toString('hex') };
  const purgeDb = createDb({ url: withLogin(opts.ownerUrl, purgeLogin), poolMax: 2, as: 'purge' });
  try {
    await provisionPurgeLogin(opts.ownerUrl, purgeLogin);
    const clinic = async (slug: string) => {
      const { rows } = await owner.raw(`insert into tenants (slug, name, contract_emails, status, contract_state) values (?, ?, array['purge@bench.example'], 'active', 'purging') returning id`, [slug, slug]);
      const id = rows[0].id as string;
      say(`purge: seeding ${slug} with ${volume.patients} patients and ${volume.consultations} consultations`);
      await seedClinicVolume(owner, id, volume);
      return id;
    };
    const anchorClinic = await clinic(`bench-purge-anchor-${randomBytes(2).toString('hex')}`);
    const purgedClinic = await clinic(`bench-purge-${randomBytes(2).toString('hex')}`);
    await owner.raw('analyze');

    say('purge: anchor (plain DELETE per table, one transaction)');
    let t = process.hrtime.bigint();
    await owner.transaction(async (trx) => {
      for (const table of ['consultations', 'patients', 'practitioners']) await trx.raw(`delete from ${table} where tenant_id = ?`, [anchorClinic]);
    });
    const anchorMs = elapsedMs(t);

    say('purge: the contract-end purge (inventory, batches, proof, certificate)');
    const acts = createContractEndActivities({
      db: app,
      mailer: {} as Mailer,
      temporal: {} as TemporalClient,
      contractEnd: {
        leadTimesSec: [],
        graceSec: 1,
        purgeDb: () => purgeDb,
        batchRows: Number(process.env.PURGE_BATCH_ROWS ?? 5_000),
        storage: fsObjectStore(path.join(opts.dataDir, 'purge-objects')),
        certificateKey: randomBytes(32).toString('hex'),
        keyProvider: 'local',
      },
    });
    t = process.hrtime.bigint();
    const inventory = await acts.takePurgeInventory({ tenantId: purgedClinic, workflowId: 'bench', runId: 'bench' });
    const inventoryMs = elapsedMs(t);
    const { rows } = await acts.purgeClinicRows({ tenantId: purgedClinic });
    await acts.issueDeletionCertificate({ tenantId: purgedClinic });
    const purgeMs = elapsedMs(t);
    const ratio = purgeMs / anchorMs;
    return {
      purge: {
        rows: inventory.rows,
        deleted: rows,
        batchRows: Number(process.env.PURGE_BATCH_ROWS ?? 5_000),
        inventoryMs: Math.round(inventoryMs),
        rowsPerSec: Math.round(rows / (purgeMs / 1000)),
        ...compared({ purgeMs: Math.round(purgeMs) }, { plainDeleteMs: Math.round(anchorMs) }, ratio, 'purge ≤ 3× one plain DELETE per table', ratio <= 3),
      },
    };
  } finally {
    await purgeDb.destroy();
    await app.destroy();
    await owner.destroy();
    await dropLoginRole(opts.serverUrl, purgeLogin.user).catch(() => undefined);
  }
}

