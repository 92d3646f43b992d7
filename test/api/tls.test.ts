import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { startApi, type RunningApi } from '../../api/server';
import { loadConfig } from '../../lib/config';
import { createTestDatabase, type TestDatabase } from '../harness/database';

/** With TLS_CERT_FILE/TLS_KEY_FILE the API speaks HTTPS only, TLS 1.2 or newer, and sends HSTS. */
let dir: string;
let database: TestDatabase;
let api: RunningApi;
let cert: Buffer;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'for-clinic-tls-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  cert = readFileSync(path.join(dir, 'cert.pem'));
  database = await createTestDatabase();
  api = await startApi(
    loadConfig({
      LOG_LEVEL: 'silent',
      PORT: '0',
      OPERATOR_PORT: '0',
      OPERATOR_TOKEN: 'o'.repeat(64),
      DATABASE_URL: database.url,
      TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
      TLS_CERT_FILE: path.join(dir, 'cert.pem'),
      TLS_KEY_FILE: path.join(dir, 'key.pem'),
    }),
  );
});

afterAll(async () => {
  await api?.close();
  await database?.drop();
  rmSync(dir, { recursive: true, force: true });
});

function get(url: string, options: https.RequestOptions = {}) {
  return new Promise<{ status: number; headers: Record<string, unknown>; protocol: string }>((resolve, reject) => {
    const req = https.get(url, { ca: cert, ...options }, (res) => {
      const protocol = (res.socket as import('node:tls').TLSSocket).getProtocol() ?? '';
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, protocol }));
    });
    req.on('error', reject);
  });
}

describe('TLS listener', () => {
  it('serves HTTPS with HSTS', async () => {
    expect(api.url).toMatch(/^https:/);
    // The operator listener speaks TLS with the same certificate.
    expect(api.operatorUrl).toMatch(/^https:/);
    expect((await get(`${api.operatorUrl}/healthz`)).protocol).toMatch(/^TLSv1\.[23]$/);
    const res = await get(`${api.url}/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(['TLSv1.2', 'TLSv1.3']).toContain(res.protocol);
  });

  it('refuses TLS 1.1 and older', async () => {
    await expect(get(`${api.url}/healthz`, { maxVersion: 'TLSv1.1', minVersion: 'TLSv1' })).rejects.toThrow();
  });
});
