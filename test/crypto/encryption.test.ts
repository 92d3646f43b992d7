import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { insertTenant } from '../../db/tenants';
import { kmsKeyProvider } from '../../lib/crypto/kms-key-provider';
import { localKeyProvider } from '../../lib/crypto/local-key-provider';
import type { KeyProvider } from '../../lib/crypto/key-provider';
import { Vault } from '../../lib/crypto/vault';
import { keyRotationWorkflowId } from '../../temporal/workflow-ids';
import { createKeyManagementActivities } from '../../activities/key-management';
import { call } from '../harness/http';
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
    await expect(decrypt(ciphertext.subarray(0, 7 + 65_552))).rejects.toThrow(); // cut after a whole segment
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
  it('re-wraps data keys under a new master key through a workflow; data stays readable; the old key is destroyed', async () => {
    const tenantId = await newTenant();
    await stack.database.ownerDb('tenants').where({ id: tenantId }).update({ status: 'active' });
    const vault = new Vault(stack.database.db, kms());
    const sealed = await vault.encryptText(tenantId, 'notes:1', 'カルテ: 頭痛');
    await vault.blindIndex(tenantId, 'name', 'x');
    const before = await stack.database.ownerDb('data_keys').where({ tenant_id: tenantId }).orderBy('purpose');

    const started = await call(stack.url, 'POST', `/v1/operator/tenants/${tenantId}/key-rotation`, { token: stack.operatorToken });
    expect(started.status).toBe(202);
    const result = await stack.temporal.client.workflow.getHandle(keyRotationWorkflowId(tenantId)).result();
    expect(result).toMatchObject({ tenantId, rewrapped: 2, destroyed: 1 });
    expect(result.to).not.toBe(result.from);

    const after = await stack.database.ownerDb('data_keys').where({ tenant_id: tenantId }).orderBy('purpose');
    expect(after.map((k: { masterKeyId: string }) => k.masterKeyId)).toEqual([result.to, result.to]);
    expect(after[0].wrapped.equals(before[0].wrapped)).toBe(false);
    // A fresh process (no cache) still reads the data, through the new master key.
    expect(await new Vault(stack.database.db, kms()).decryptText(tenantId, 'notes:1', sealed)).toBe('カルテ: 頭痛');
    // The old master key can no longer unwrap anything.
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
    expect(await readdir(path.join(keyDir, tenantId))).toEqual([]);
    await expect(new Vault(stack.database.db, provider).decryptText(tenantId, 'n', sealed)).rejects.toThrow();
  });
});
