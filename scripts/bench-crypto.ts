import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDb } from '../db/connection';
import { insertTenant } from '../db/tenants';
import type { KeyProvider } from '../lib/crypto/key-provider';
import { kmsKeyProvider } from '../lib/crypto/kms-key-provider';
import { localKeyProvider } from '../lib/crypto/local-key-provider';
import { Vault } from '../lib/crypto/vault';
import { startLocalKms } from '../lib/local-kms';

/**
 * Encryption figures for `npm run bench`: AES-256-GCM on a 1 KB field and a 10 MB file (through
 * the vault, data key cached), and how many key-service calls 1,000 request-like operations cost
 * (each: encrypt a field, decrypt it, compute a blind index), for both key providers.
 */
const say = (m: string) => process.stderr.write(`[bench] ${m}\n`);

async function measure(vault: Vault, tenantId: string) {
  const field = 'あ'.repeat(341) + 'x'; // 1,024 bytes of UTF-8
  const n = 20_000;
  let t = process.hrtime.bigint();
  const sealed: Buffer[] = [];
  for (let i = 0; i < n; i += 1) sealed.push(await vault.encryptText(tenantId, `f:${i}`, field));
  const encPerSec = Math.round(n / (Number(process.hrtime.bigint() - t) / 1e9));
  t = process.hrtime.bigint();
  for (let i = 0; i < n; i += 1) await vault.decryptText(tenantId, `f:${i}`, sealed[i]!);
  const decPerSec = Math.round(n / (Number(process.hrtime.bigint() - t) / 1e9));

  const file = Buffer.alloc(10 * 1024 * 1024, 0x5a);
  const chunks: Buffer[] = [];
  t = process.hrtime.bigint();
  await pipeline(Readable.from([file]), await vault.encryptStream(tenantId, 'file'), new Writable({ write(c, _e, cb) { chunks.push(c); cb(); } }));
  const encMBs = Math.round(10 / (Number(process.hrtime.bigint() - t) / 1e9));
  t = process.hrtime.bigint();
  await pipeline(Readable.from([Buffer.concat(chunks)]), await vault.decryptStream(tenantId, 'file'), new Writable({ write(_c, _e, cb) { cb(); } }));
  const decMBs = Math.round(10 / (Number(process.hrtime.bigint() - t) / 1e9));
  return { field1KB: { encryptPerSec: encPerSec, decryptPerSec: decPerSec }, file10MB: { encryptMBps: encMBs, decryptMBps: decMBs } };
}

async function callsPer1000(db: ReturnType<typeof createDb>, provider: KeyProvider, tenantId: string) {
  const vault = new Vault(db, provider); // a fresh process: empty cache
  const before = provider.calls();
  for (let i = 0; i < 1000; i += 1) {
    const s = await vault.encryptText(tenantId, `r:${i}`, `patient ${i}`);
    await vault.decryptText(tenantId, `r:${i}`, s);
    await vault.blindIndex(tenantId, 'name', `patient ${i}`);
  }
  return provider.calls() - before;
}

export async function benchCrypto(dbUrl: string, dataDir: string) {
  const db = createDb({ url: dbUrl, poolMax: 2 });
  const kms = await startLocalKms({ dataDir: path.join(dataDir, 'kms'), region: 'ap-northeast-1' });
  const keyDir = await mkdtemp(path.join(os.tmpdir(), 'for-clinic-bench-keys-'));
  try {
    const results: Record<string, unknown> = {};
    for (const [name, provider] of [
      ['kms', kmsKeyProvider({ region: 'ap-northeast-1', endpoint: kms.endpoint })],
      ['local', localKeyProvider({ dir: keyDir })],
    ] as const) {
      say(`crypto: ${name} provider`);
      const tenantId = (await insertTenant(db, { slug: `bench-crypto-${name}`, name, contractEmails: ['c@bench.example'] })).id;
      const vault = new Vault(db, provider);
      await vault.encryptText(tenantId, 'warm', 'up');
      await vault.blindIndex(tenantId, 'warm', 'up');
      results[`crypto_${name}`] = { ...(await measure(vault, tenantId)), keyServiceCallsPer1000Requests: await callsPer1000(db, provider, tenantId) };
    }
    return results;
  } finally {
    await kms.stop();
    await rm(keyDir, { recursive: true, force: true });
    await db.destroy();
  }
}
