import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../lib/config';
import { temporalConnectionOptions } from '../../temporal/connection-options';

const dir = mkdtempSync(path.join(os.tmpdir(), 'temporal-tls-'));
const file = (name: string, content: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};
const base = { OPERATOR_TOKEN: 'o'.repeat(40), DATABASE_URL: 'postgres://app@db/forclinic', TEMPORAL_ADDRESS: 'temporal.internal:7233' };

describe('reaching Temporal over TLS, mTLS and with an API key', () => {
  it('connects in plain TCP only when TLS is off (the local dev server)', () => {
    expect(temporalConnectionOptions(loadConfig(base))).toEqual({ address: 'temporal.internal:7233' });
  });

  it('passes the CA, the client certificate pair, the server name and the API key', () => {
    const ca = file('ca.pem', 'CA');
    const crt = file('client.pem', 'CRT');
    const key = file('client.key', 'KEY');
    const options = temporalConnectionOptions(
      loadConfig({ ...base, TEMPORAL_TLS: 'true', TEMPORAL_TLS_CA_FILE: ca, TEMPORAL_TLS_CERT_FILE: crt, TEMPORAL_TLS_KEY_FILE: key, TEMPORAL_TLS_SERVER_NAME: 'frontend.temporal.internal', TEMPORAL_API_KEY: 'k'.repeat(32) }),
    );
    expect(options).toEqual({
      address: 'temporal.internal:7233',
      tls: { serverNameOverride: 'frontend.temporal.internal', serverRootCACertificate: Buffer.from('CA'), clientCertPair: { crt: Buffer.from('CRT'), key: Buffer.from('KEY') } },
      apiKey: 'k'.repeat(32),
    });
  });

  it('refuses credentials without TLS, half a certificate pair and unreadable files at start-up', () => {
    expect(() => loadConfig({ ...base, TEMPORAL_API_KEY: 'k'.repeat(32) })).toThrow(/TEMPORAL_TLS: must be true/);
    expect(() => loadConfig({ ...base, TEMPORAL_TLS: 'true', TEMPORAL_TLS_CERT_FILE: file('only.pem', 'x') })).toThrow(/set together/);
    expect(() => loadConfig({ ...base, TEMPORAL_TLS: 'true', TEMPORAL_TLS_CA_FILE: path.join(dir, 'missing.pem') })).toThrow(/TEMPORAL_TLS_CA_FILE: must be a readable file/);
  });
});
