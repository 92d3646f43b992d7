import { randomBytes } from 'node:crypto';
import { link, mkdir, open as openFile, readFile, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { open, seal } from './aead';
import { keyContext, keyError, type KeyProvider } from './key-provider';

/**
 * The embedded default for `npm start`: master keys are files in a key store of their own
 * (KEY_STORE_DIR, by default .data/keys), one folder per clinic and one file per version
 * (`v<n>.key`). The key store must be backed up apart from the data (or not at all): then erasing
 * a clinic's folder shreds every copy of its data, old backups included.
 */
export function localKeyProvider(opts: { dir: string }): KeyProvider {
  let calls = 0;
  // `local:<clinic>/v<n>`; stores written before versions existed name files by a UUID.
  const file = (tenantId: string, masterKeyId: string) => {
    const [, owner, name] = /^local:([0-9a-f-]{36})\/(v[1-9][0-9]*|[0-9a-f-]{36})$/.exec(masterKeyId) ?? [];
    if (owner !== tenantId || !name) throw keyError('IncorrectKeyException', 'master key does not belong to this clinic');
    return path.join(opts.dir, tenantId, `${name}.key`);
  };
  const masterKey = async (tenantId: string, id: string) => {
    calls += 1;
    try {
      return await readFile(file(tenantId, id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw keyError('NotFoundException', `master key ${id} does not exist (destroyed?)`);
      throw err;
    }
  };
  const aad = (tenantId: string, purpose: string) => Buffer.from(JSON.stringify(keyContext(tenantId, purpose)));
  const unwrap = async (tenantId: string, masterKeyId: string, purpose: string, wrapped: Buffer) => {
    const key = await masterKey(tenantId, masterKeyId);
    try {
      return open(key, wrapped, aad(tenantId, purpose));
    } catch {
      throw keyError('InvalidCiphertextException', 'the wrapped data key does not authenticate under this master key');
    }
  };
  return {
    kind: 'local',
    async createMasterKey(tenantId, version) {
      calls += 1;
      const id = `local:${tenantId}/v${version}`;
      const target = file(tenantId, id);
      await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
      // Written whole under a temporary name, then linked into place: link() fails if the
      // version exists, so concurrent or retried creators all end up with the first key.
      const temporary = `${target}.${randomBytes(6).toString('hex')}.tmp`;
      await writeFile(temporary, randomBytes(32), { mode: 0o600, flag: 'wx' });
      try {
        await link(temporary, target);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      } finally {
        await unlink(temporary);
      }
      return id;
    },
    async generateDataKey(tenantId, masterKeyId, purpose) {
      const plaintext = randomBytes(32);
      return { plaintext, wrapped: seal(await masterKey(tenantId, masterKeyId), plaintext, aad(tenantId, purpose)) };
    },
    unwrapDataKey: unwrap,
    async rewrapDataKey(tenantId, from, to, purpose, wrapped) {
      const plaintext = await unwrap(tenantId, from, purpose, wrapped);
      return seal(await masterKey(tenantId, to), plaintext, aad(tenantId, purpose));
    },
    async destroyMasterKey(tenantId, masterKeyId) {
      calls += 1;
      // Overwritten in place (and synced) before unlinking, so the key's bytes do not linger in
      // the file's old blocks; best effort on copy-on-write or journaling file systems, which is
      // why the key store's own backups must be short-lived (README: Encryption).
      const keyFile = file(tenantId, masterKeyId);
      try {
        const handle = await openFile(keyFile, 'r+');
        try {
          const { size } = await handle.stat();
          await handle.write(randomBytes(size), 0, size, 0);
          await handle.sync();
        } finally {
          await handle.close();
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      await rm(keyFile, { force: true });
      // The clinic's folder goes with its last key (its name is the clinic's id); another version
      // still in it keeps it.
      await rmdir(path.dirname(keyFile)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOTEMPTY' && err.code !== 'ENOENT' && err.code !== 'EEXIST') throw err;
      });
    },
    calls: () => calls,
  };
}
