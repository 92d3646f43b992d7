import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { open, seal } from './aead';
import { keyContext, type KeyProvider } from './key-provider';

/**
 * The embedded default for `npm start`: master keys are files in a key store of their own
 * (KEY_STORE_DIR, by default .data/keys), one folder per clinic. The key store must be backed up
 * apart from the data (or not at all): then erasing a clinic's folder shreds every copy of its
 * data, old backups included.
 */
export function localKeyProvider(opts: { dir: string }): KeyProvider {
  let calls = 0;
  const file = (tenantId: string, masterKeyId: string) => {
    const [, owner, version] = /^local:([0-9a-f-]{36})\/([0-9a-f-]{36})$/.exec(masterKeyId) ?? [];
    if (owner !== tenantId || !version) throw new Error('master key does not belong to this clinic');
    return path.join(opts.dir, tenantId, `${version}.key`);
  };
  const masterKey = async (tenantId: string, id: string) => {
    calls += 1;
    return readFile(file(tenantId, id));
  };
  const aad = (tenantId: string, purpose: string) => Buffer.from(JSON.stringify(keyContext(tenantId, purpose)));
  return {
    kind: 'local',
    async createMasterKey(tenantId) {
      calls += 1;
      const id = `local:${tenantId}/${randomUUID()}`;
      await mkdir(path.join(opts.dir, tenantId), { recursive: true, mode: 0o700 });
      await writeFile(file(tenantId, id), randomBytes(32), { mode: 0o600, flag: 'wx' });
      return id;
    },
    async generateDataKey(tenantId, masterKeyId, purpose) {
      const plaintext = randomBytes(32);
      return { plaintext, wrapped: seal(await masterKey(tenantId, masterKeyId), plaintext, aad(tenantId, purpose)) };
    },
    async unwrapDataKey(tenantId, masterKeyId, purpose, wrapped) {
      return open(await masterKey(tenantId, masterKeyId), wrapped, aad(tenantId, purpose));
    },
    async rewrapDataKey(tenantId, from, to, purpose, wrapped) {
      const plaintext = open(await masterKey(tenantId, from), wrapped, aad(tenantId, purpose));
      return seal(await masterKey(tenantId, to), plaintext, aad(tenantId, purpose));
    },
    async destroyMasterKey(tenantId, masterKeyId) {
      calls += 1;
      await rm(file(tenantId, masterKeyId), { force: true });
    },
    calls: () => calls,
  };
}
