import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DescribeKeyCommand, KMSClient, ListAliasesCommand, ListKeysCommand, ListResourceTagsCommand } from '@aws-sdk/client-kms';
import { createDb, type Db } from '../../db/connection';
import { insertTenant } from '../../db/tenants';
import { kmsKeyProvider } from '../../lib/crypto/kms-key-provider';
import { localKeyProvider } from '../../lib/crypto/local-key-provider';
import type { KeyProvider } from '../../lib/crypto/key-provider';
import { Vault } from '../../lib/crypto/vault';
import { keyRotationWorkflowId } from '../../temporal/workflow-ids';
import { createKeyManagementActivities } from '../../activities/key-management';
import { createConsultationActivities } from '../../activities/consultations';
import { call } from '../harness/http';
import { book, bookingClinic } from '../harness/consultations';
import { slotOn } from '../harness/slots';
import { startTestStack, type TestStack } from '../harness/stack';

let stack: TestStack;
let keyDir: string;
beforeAll(async () => {
  stack = await startTestStack();
  keyDir = await mkdtemp(path.join(os.tmpdir(), 'for-clinic-keys-'));
});
afterAll(async () => {
  await stack?.stop();
  await rm(keyDir, { recursive: true, force: true });
});

const kms = () => kmsKeyProvider({ region: 'ap-northeast-1', endpoint: process.env.TEST_KMS_ENDPOINT });
const newTenant = async () =>
  (await insertTenant(stack.database.db, { slug: `enc-${Math.random().toString(36).slice(2, 9)}`, name: 'Enc', contractEmails: ['e@enc.example'] })).id;

async function streamRoundTrip(vault: Vault, tenantId: string, data: Buffer, context: string) {
  const sealed: Buffer[] = [];
  await pipeline(Readable.from([data]), await vault.encryptStream(tenantId, context), async function* (src) {
    for await (const c of src) sealed.push(c as Buffer);
  });
  const ciphertext = Buffer.concat(sealed);
  const opened: Buffer[] = [];
  await pipeline(Readable.from([ciphertext]), await vault.decryptStream(tenantId, context), async function* (src) {
    for await (const c of src) opened.push(c as Buffer);
  });
  return { ciphertext, plaintext: Buffer.concat(opened) };
}

describe.each([
  ['kms (local-kms, the real KMS API)', () => kms()],
  ['local key store', () => localKeyProvider({ dir: keyDir })],
] as Array<[string, () => KeyProvider]>)('envelope encryption with %s', (_name, makeProvider) => {
  it('stores no plaintext and only wrapped keys, and decrypts only in the right clinic and context', async () => {
    const tenantId = await newTenant();
    const vault = new Vault(stack.database.db, makeProvider());
    const secret = '山田 太郎 / ヤマダ タロウ / 1980-04-01 / 090-1234-5678';
    const sealed = await vault.encryptText(tenantId, 'patients.name:p1', secret);
    expect(sealed.includes(Buffer.from(secret))).toBe(false);
    expect(await vault.decryptText(tenantId, 'patients.name:p1', sealed)).toBe(secret);
    // Another field, row or clinic: the authentication tag does not match.
    await expect(vault.decryptText(tenantId, 'patients.name:p2', sealed)).rejects.toThrow();
    const other = await newTenant();
    await expect(vault.decryptText(other, 'patients.name:p1', sealed)).rejects.toThrow();
    // A row id is one id however it is spelled (PostgreSQL finds the row for either case).
    const rowId = '0b3a2c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d';
    const byUpper = await vault.encryptText(tenantId, `patients.name:${rowId.toUpperCase()}`, secret);
    expect(await vault.decryptText(tenantId, `patients.name:${rowId}`, byUpper)).toBe(secret);

    const keys = await stack.database.ownerDb('data_keys').where({ tenant_id: tenantId });
    expect(keys).toHaveLength(1);
    expect(keys[0].wrapped.length).toBeGreaterThan(32); // wrapped, never the bare 32-byte key
  });

  it('streams files in authenticated segments and detects tampering and truncation', async () => {
    const tenantId = await newTenant();
    const vault = new Vault(stack.database.db, makeProvider());
    const data = Buffer.alloc(200 * 1024 + 123);
    for (let i = 0; i < data.length; i += 1) data[i] = (i * 31) % 251;
    const { ciphertext, plaintext } = await streamRoundTrip(vault, tenantId, data, 'files:f1');
    expect(plaintext.equals(data)).toBe(true);
    expect(ciphertext.includes(data.subarray(1000, 1064))).toBe(false);

    const decrypt = async (bytes: Buffer) =>
      pipeline(Readable.from([bytes]), await vault.decryptStream(tenantId, 'files:f1'), async function* (src) {
        for await (const _ of src) void _;
      });
    const flipped = Buffer.from(ciphertext);
    flipped.writeUInt8(flipped.readUInt8(70_000) ^ 1, 70_000);
    await expect(decrypt(flipped)).rejects.toThrow();
    expect(ciphertext[0]).toBe(2); // format 2: a key per file (test/crypto/file-format.test.ts)
    await expect(decrypt(ciphertext.subarray(0, 40 + 65_552))).rejects.toThrow(); // cut after a whole segment
    await expect(decrypt(ciphertext.subarray(0, ciphertext.length - 1))).rejects.toThrow();
  });

  it('caches unwrapped keys: a thousand operations cost one unwrap', async () => {
    const tenantId = await newTenant();
    const provider = makeProvider();
    await new Vault(stack.database.db, provider).encryptText(tenantId, 'x', 'warm'); // creates the keys
    const vault = new Vault(stack.database.db, provider);
    const before = provider.calls();
    for (let i = 0; i < 1000; i += 1) await vault.encryptText(tenantId, 'x', `value ${i}`);
    expect(provider.calls() - before).toBe(1);
  });

  it('gives equal blind-index tokens for equal values within a clinic only', async () => {
    const a = await newTenant();
    const b = await newTenant();
    const vault = new Vault(stack.database.db, makeProvider());
    const t1 = await vault.blindIndex(a, 'name', 'やまだ');
    expect(await vault.blindIndex(a, 'name', 'やまだ')).toBe(t1);
    expect(await vault.blindIndex(a, 'name', 'やまた')).not.toBe(t1);
    expect(await vault.blindIndex(b, 'name', 'やまだ')).not.toBe(t1);
  });
});

describe('key rotation and crypto-shredding (KMS)', () => {
  it('re-wraps data keys under a new master key through a workflow; data stays readable; the old key is kept for older backups', async () => {
    const tenantId = await newTenant();
    await stack.database.ownerDb('tenants').where({ id: tenantId }).update({ status: 'active' });
    const vault = new Vault(stack.database.db, kms());
    const sealed = await vault.encryptText(tenantId, 'notes:1', 'カルテ: 頭痛');
    await vault.blindIndex(tenantId, 'name', 'x');
    const before = await stack.database.ownerDb('data_keys').where({ tenant_id: tenantId }).orderBy('purpose');

    const started = await call(stack.operatorUrl, 'POST', `/v1/operator/tenants/${tenantId}/key-rotation`, { token: stack.operatorToken });
    expect(started.status).toBe(202);
    const result = await stack.temporal.client.workflow.getHandle(keyRotationWorkflowId(tenantId)).result();
    expect(result).toMatchObject({ tenantId, rewrapped: 2, destroyed: 0 });
    expect(result.to).not.toBe(result.from);

    const after = await stack.database.ownerDb('data_keys').where({ tenant_id: tenantId }).orderBy('purpose');
    expect(after.map((k: { masterKeyId: string }) => k.masterKeyId)).toEqual([result.to, result.to]);
    expect(after[0].wrapped.equals(before[0].wrapped)).toBe(false);
    // A fresh process (no cache) still reads the data, through the new master key.
    expect(await new Vault(stack.database.db, kms()).decryptText(tenantId, 'notes:1', sealed)).toBe('カルテ: 頭痛');
    // A backup taken before the rotation holds the data key wrapped by the old master key: it still opens.
    const oldDataKey = await kms().unwrapDataKey(tenantId, result.from, 'data', before[0].wrapped);
    expect(oldDataKey.length).toBe(32);
    const keys = await stack.database.ownerDb('tenant_master_keys').where({ tenant_id: tenantId }).orderBy('version');
    expect(keys.map((k: { status: string }) => k.status)).toEqual(['retired', 'active']);
    // Only crypto-shredding (contract end) destroys them: then the old backup's key is gone too.
    expect(await createKeyManagementActivities({ db: stack.database.db, vault }).shredTenantKeys(tenantId)).toBe(2);
    await expect(kms().unwrapDataKey(tenantId, result.from, 'data', before[0].wrapped)).rejects.toThrow();
  });

  it('resumes a rotation whose steps already ran (idempotent activities)', async () => {
    const tenantId = await newTenant();
    const vault = new Vault(stack.database.db, kms());
    await vault.encryptText(tenantId, 'a', 'b');
    const acts = createKeyManagementActivities({ db: stack.database.db, vault });
    const from = (await acts.activeMasterKey(tenantId))!;
    const to = await acts.rotateMasterKey({ tenantId, previous: from });
    // A retry of the same step after a crash must not rotate again.
    expect(await acts.rotateMasterKey({ tenantId, previous: from })).toBe(to);
    expect(await acts.rewrapDataKeys(tenantId)).toBe(1);
    expect(await acts.rewrapDataKeys(tenantId)).toBe(0);
    expect(await acts.destroyRetiredMasterKeys(tenantId)).toBe(1);
    expect(await acts.destroyRetiredMasterKeys(tenantId)).toBe(0);
  });

  it('shreds a clinic: its ciphertext becomes unreadable everywhere, other clinics are untouched', async () => {
    const doomed = await newTenant();
    const other = await newTenant();
    const vault = new Vault(stack.database.db, kms());
    const sealed = await vault.encryptText(doomed, 'n', 'to be forgotten');
    const kept = await vault.encryptText(other, 'n', 'kept');
    const acts = createKeyManagementActivities({ db: stack.database.db, vault });
    expect(await acts.shredTenantKeys(doomed)).toBe(1);
    // Even a copy of the database (a backup) with the wrapped key is useless now.
    await expect(new Vault(stack.database.db, kms()).decryptText(doomed, 'n', sealed)).rejects.toThrow();
    expect(await new Vault(stack.database.db, kms()).decryptText(other, 'n', kept)).toBe('kept');
  });

  it('local key store: shredding erases the clinic\'s key files', async () => {
    const tenantId = await newTenant();
    const provider = localKeyProvider({ dir: keyDir });
    const vault = new Vault(stack.database.db, provider);
    const sealed = await vault.encryptText(tenantId, 'n', 'gone');
    expect((await readdir(path.join(keyDir, tenantId))).length).toBe(1);
    await createKeyManagementActivities({ db: stack.database.db, vault }).shredTenantKeys(tenantId);
    // Its folder too: nothing named after the clinic is left in the key store.
    expect(existsSync(path.join(keyDir, tenantId))).toBe(false);
    await expect(new Vault(stack.database.db, provider).decryptText(tenantId, 'n', sealed)).rejects.toThrow();
  });

  it('makes no new key for a clinic being deleted (a job still running when its keys were destroyed)', async () => {
    const tenantId = await newTenant();
    const provider = localKeyProvider({ dir: keyDir });
    await new Vault(stack.database.db, provider).encryptText(tenantId, 'n', 'before');
    await createKeyManagementActivities({ db: stack.database.db, vault: new Vault(stack.database.db, provider) }).shredTenantKeys(tenantId);
    await stack.database.ownerDb('data_keys').where({ tenant_id: tenantId }).delete();
    await stack.database.ownerDb('tenants').where({ id: tenantId }).update({ contract_state: 'purging' });
    // An export's retry after the purge destroyed the keys: refused, with a type no retry cures.
    await expect(new Vault(stack.database.db, provider).encryptText(tenantId, 'n', 'after')).rejects.toMatchObject({ name: 'ClinicKeysDestroyed' });
    expect(existsSync(path.join(keyDir, tenantId))).toBe(false);
    expect(await stack.database.ownerDb('tenant_master_keys').where({ tenant_id: tenantId, status: 'active' })).toEqual([]);
    expect(await stack.database.ownerDb('data_keys').where({ tenant_id: tenantId })).toEqual([]);
  });
});

/** What local-kms holds for a clinic: its aliases, and its enabled keys by version tag. */
async function kmsInventory(tenantId: string) {
  const client = new KMSClient({ region: 'ap-northeast-1', endpoint: process.env.TEST_KMS_ENDPOINT, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    const aliases: string[] = [];
    for (let marker: string | undefined, more = true; more; ) {
      const page = await client.send(new ListAliasesCommand({ Marker: marker, Limit: 100 }));
      aliases.push(...(page.Aliases ?? []).map((a) => a.AliasName!).filter((n) => n.startsWith(`alias/forclinic/${tenantId}/`)));
      [marker, more] = [page.NextMarker, page.Truncated === true];
    }
    const enabledVersions: string[] = [];
    for (let marker: string | undefined, more = true; more; ) {
      const page = await client.send(new ListKeysCommand({ Marker: marker, Limit: 100 }));
      for (const key of page.Keys ?? []) {
        const tags = (await client.send(new ListResourceTagsCommand({ KeyId: key.KeyId }))).Tags ?? [];
        if (!tags.some((t) => t.TagKey === 'TenantId' && t.TagValue === tenantId)) continue;
        if ((await client.send(new DescribeKeyCommand({ KeyId: key.KeyId }))).KeyMetadata?.KeyState !== 'Enabled') continue;
        enabledVersions.push(tags.find((t) => t.TagKey === 'KeyVersion')?.TagValue ?? '?');
      }
      [marker, more] = [page.NextMarker, page.Truncated === true];
    }
    return { aliases: aliases.sort(), enabledVersions: enabledVersions.sort() };
  } finally {
    client.destroy();
  }
}

describe('idempotent key management', () => {
  it('KMS: a rotation retried after the provider made the key but before the database recorded it gets that key, not a second one', async () => {
    const tenantId = await newTenant();
    const vault = new Vault(stack.database.db, kms());
    await vault.encryptText(tenantId, 'a', 'b'); // version 1
    const acts = createKeyManagementActivities({ db: stack.database.db, vault });
    const from = (await acts.activeMasterKey(tenantId))!;
    // The first attempt of rotateMasterKey: its provider call went through, then the worker died.
    const lost = await vault.provider.createMasterKey(tenantId, 2);
    // The retry.
    const to = await acts.rotateMasterKey({ tenantId, previous: from });
    expect(to).toBe(lost);
    expect(await acts.rotateMasterKey({ tenantId, previous: from })).toBe(to);
    expect(await kmsInventory(tenantId)).toEqual({
      aliases: [`alias/forclinic/${tenantId}/v1`, `alias/forclinic/${tenantId}/v2`],
      enabledVersions: ['1', '2'],
    });
    const rows = await stack.database.ownerDb('tenant_master_keys').where({ tenant_id: tenantId }).orderBy('version');
    expect(rows.map((r: { version: number; status: string }) => [r.version, r.status])).toEqual([[1, 'retired'], [2, 'active']]);
    expect(await acts.rewrapDataKeys(tenantId)).toBe(1);
    // Destroying is as repeatable: the provider call of a lost attempt, then the retry.
    await vault.provider.destroyMasterKey(tenantId, from);
    expect(await acts.destroyRetiredMasterKeys(tenantId)).toBe(1);
    expect((await kmsInventory(tenantId)).enabledVersions).toEqual(['2']);
  });

  it('local key store: the same version is one file, however often it is asked for', async () => {
    const tenantId = await newTenant();
    const provider = localKeyProvider({ dir: keyDir });
    const ids = await Promise.all([1, 2, 3].map(() => provider.createMasterKey(tenantId, 1)));
    expect(new Set(ids).size).toBe(1);
    const vault = new Vault(stack.database.db, provider);
    const sealed = await vault.encryptText(tenantId, 'n', 'kept'); // records version 1, the same file
    const acts = createKeyManagementActivities({ db: stack.database.db, vault });
    const lost = await provider.createMasterKey(tenantId, 2);
    expect(await acts.rotateMasterKey({ tenantId, previous: ids[0]! })).toBe(lost);
    expect((await readdir(path.join(keyDir, tenantId))).sort()).toEqual(['v1.key', 'v2.key']);
    expect(await acts.rewrapDataKeys(tenantId)).toBe(1);
    expect(await acts.destroyRetiredMasterKeys(tenantId)).toBe(1);
    expect(await new Vault(stack.database.db, provider).decryptText(tenantId, 'n', sealed)).toBe('kept');
  });

  describe('with a pool of one connection and a cold key cache', () => {
    let db: Db;
    beforeAll(() => {
      db = createDb({ url: stack.database.url, poolMax: 1 });
    });
    afterAll(async () => {
      await db.destroy();
    });
    const connectionsInUse = () => (db.client as { pool: { numUsed(): number } }).pool.numUsed();

    /**
     * A provider that, whenever it is called, notes how many connections are in use and itself
     * needs one (as another request would while KMS is slow): if the vault held the only
     * connection across the call, this would wait for the pool until it timed out.
     */
    function watched(inner: KeyProvider, seen: number[]): KeyProvider {
      const probe = async () => {
        seen.push(connectionsInUse());
        await db.raw('select 1');
      };
      return {
        ...inner,
        createMasterKey: async (...a) => (await probe(), inner.createMasterKey(...a)),
        generateDataKey: async (...a) => (await probe(), inner.generateDataKey(...a)),
        unwrapDataKey: async (...a) => (await probe(), inner.unwrapDataKey(...a)),
      };
    }

    it('the vault holds no connection while it waits for the key provider', async () => {
      const tenantId = await newTenant();
      const seen: number[] = [];
      const sealed = await new Vault(db, watched(kms(), seen)).encryptText(tenantId, 'n', '初診'); // creates master and data key
      expect(await new Vault(db, watched(kms(), seen)).decryptText(tenantId, 'n', sealed)).toBe('初診'); // unwraps
      expect(seen).toHaveLength(3); // createMasterKey, generateDataKey, then unwrapDataKey
      expect(seen.every((n) => n === 0)).toBe(true);
    });

    it('concurrent first uses and decrypts across clinics all complete', async () => {
      const tenants = await Promise.all([1, 2, 3].map(() => newTenant()));
      const sealed = await Promise.all(tenants.map((t) => new Vault(db, kms()).encryptText(t, 'n', `secret ${t}`)));
      const vault = new Vault(db, watched(kms(), []));
      const results = await Promise.all(tenants.flatMap((t, i) => [vault.decryptText(t, 'n', sealed[i]!), vault.blindIndex(t, 'name', 'やまだ')]));
      expect(results.filter((_, i) => i % 2 === 0)).toEqual(tenants.map((t) => `secret ${t}`));
    });

    it('the reminder activity reads its rows, commits, then decrypts the address', async () => {
      const { clinic, staffToken, practitionerId, patientId } = await bookingClinic(stack, { patientEmail: 'hanako@patient.example' });
      const booked = await book(stack, staffToken, { patientId, practitionerId, startsAt: slotOn(2, '10:60'), mode: 'in_person' });
      expect(booked.status).toBe(201);
      const acts = createConsultationActivities({ db, mailer: stack.mailer, vault: new Vault(db, watched(kms(), [])) });
      const sent = await acts.sendConsultationReminder({ tenantId: clinic.id, consultationId: booked.body.id, kind: 'before-1s', startsAt: booked.body.startsAt });
      expect(sent).toBe('sent');
    });
  });
});
