import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { call } from '../harness/http';
import { activate, clinicWithAdmin, createAccount } from '../harness/clinic';
import { startTestStack, type TestStack } from '../harness/stack';

/** Process areas with files, against both object stores: a folder, and a real S3 API (s3rver). */
const pdf = (text: string) => Buffer.from(`%PDF-1.7\n1 0 obj << /Title (${text}) >> endobj\n%%EOF\n`);
const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(300, 7)]);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'for-clinic-objects-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rawObjects(stack: TestStack): Promise<Buffer[]> {
  if (stack.config.STORAGE === 'fs') {
    const out: Buffer[] = [];
    const walk = async (d: string): Promise<void> => {
      for (const e of await readdir(d, { withFileTypes: true })) {
        if (e.isDirectory()) await walk(path.join(d, e.name));
        else out.push(await readFile(path.join(d, e.name)));
      }
    };
    await walk(stack.config.STORAGE_DIR);
    return out;
  }
  const s3 = new S3Client({ region: 'ap-northeast-1', endpoint: process.env.TEST_S3_ENDPOINT, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  const list = await s3.send(new ListObjectsV2Command({ Bucket: process.env.TEST_S3_BUCKET }));
  const out: Buffer[] = [];
  for (const o of list.Contents ?? []) {
    const got = await s3.send(new GetObjectCommand({ Bucket: process.env.TEST_S3_BUCKET, Key: o.Key }));
    out.push(Buffer.from(await got.Body!.transformToByteArray()));
  }
  return out;
}

describe.each([
  ['filesystem', () => ({ STORAGE: 'fs', STORAGE_DIR: path.join(dir, 'fs') })],
  ['S3 (s3rver)', () => ({ STORAGE: 's3', S3_BUCKET: process.env.TEST_S3_BUCKET!, S3_ENDPOINT: process.env.TEST_S3_ENDPOINT!, S3_FORCE_PATH_STYLE: 'true' })],
])('process areas on %s storage', (_name, storage) => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ ...storage(), FILE_MAX_BYTES: String(1024 * 1024) });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const upload = (token: string, processId: string, body: Buffer, type: string, name: string) =>
    call(stack.url, 'POST', `/v1/processes/${processId}/files?name=${encodeURIComponent(name)}`, { token, raw: body, headers: { 'content-type': type } });

  it('stores files encrypted, lists and streams them back only to those allowed', async () => {
    const { clinic, token } = await clinicWithAdmin(stack);
    const nurse = await createAccount(stack, token, 'nurse');
    const doctor = await createAccount(stack, token, 'doctor', ['doctor']);
    const nurseToken = await activate(stack, clinic, 'nurse', nurse.initialPassword);
    const doctorToken = await activate(stack, clinic, 'doctor', doctor.initialPassword);
    const group = await call(stack.url, 'POST', '/v1/groups', { token, json: { name: 'Doctors', memberIds: [doctor.accountId] } });

    const created = await call(stack.url, 'POST', '/v1/processes', { token: nurseToken, json: { name: '山田太郎様 紹介状', allowedGroupIds: [group.body.id] } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: '山田太郎様 紹介状', allowedAccountIds: [nurse.accountId], allowedGroupIds: [group.body.id] });
    const pid = created.body.id;

    const secret = 'Yamada Taro referral: hypertension';
    const up = await upload(nurseToken, pid, pdf(secret), 'application/pdf', '紹介状 山田.pdf');
    expect(up.status).toBe(201);
    expect(up.body).toMatchObject({ name: '紹介状 山田.pdf', contentType: 'application/pdf', size: pdf(secret).length });

    // A group member sees it and downloads the exact bytes.
    const list = await call(stack.url, 'GET', `/v1/processes/${pid}/files`, { token: doctorToken });
    expect(list.body.items.map((f: { name: string }) => f.name)).toEqual(['紹介状 山田.pdf']);
    const res = await fetch(`${stack.url}/v1/processes/${pid}/files/${up.body.id}`, { headers: { authorization: `Bearer ${doctorToken}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    expect(res.headers.get('content-disposition')).toContain("filename*=UTF-8''%E7%B4%B9%E4%BB%8B%E7%8A%B6%20%E5%B1%B1%E7%94%B0.pdf");
    expect(Buffer.from(await res.arrayBuffer()).equals(pdf(secret))).toBe(true);

    // The admin is not listed: the area does not exist for them, until the clinic allows admins in.
    expect((await call(stack.url, 'GET', `/v1/processes/${pid}`, { token })).status).toBe(404);
    expect((await call(stack.url, 'GET', '/v1/processes', { token })).body.items).toEqual([]);
    expect((await call(stack.url, 'GET', `/v1/processes/${pid}/files/${up.body.id}`, { token })).status).toBe(404);
    expect((await call(stack.url, 'PUT', '/v1/settings/processes', { token, json: { adminsSeeAllProcesses: true } })).status).toBe(200);
    expect((await call(stack.url, 'GET', `/v1/processes/${pid}`, { token })).status).toBe(200);

    // Removing the group from the area shuts the doctor out.
    expect((await call(stack.url, 'PATCH', `/v1/processes/${pid}`, { token: nurseToken, json: { allowedGroupIds: [] } })).status).toBe(200);
    expect((await call(stack.url, 'GET', `/v1/processes/${pid}/files`, { token: doctorToken })).status).toBe(404);

    // At rest: no plaintext in the object store nor in the database rows.
    const objects = await rawObjects(stack);
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) {
      expect(o.includes(Buffer.from(secret))).toBe(false);
      expect(o.includes(Buffer.from('%PDF'))).toBe(false);
    }
    const rows = JSON.stringify([
      ...(await stack.database.ownerDb('processes')),
      ...(await stack.database.ownerDb('process_files')),
    ]);
    expect(rows).not.toContain('山田');
    expect(Buffer.from(rows).includes(Buffer.from('紹介状'))).toBe(false);

    // Reads and uploads are in the operation log.
    const log = await call(stack.url, 'GET', '/v1/audit-logs?action=file.*', { token });
    expect(log.body.items.map((e: { action: string }) => e.action).sort()).toEqual(['file.read', 'file.upload']);
  });

  it('refuses lying content types, unknown types, path tricks and oversized uploads with clear 4xx', async () => {
    const { token } = await clinicWithAdmin(stack);
    const pid = (await call(stack.url, 'POST', '/v1/processes', { token, json: { name: 'Inbox' } })).body.id;
    const html = Buffer.from('<!doctype html><script>alert(1)</script>');
    const lie = await upload(token, pid, html, 'application/pdf', 'x.pdf');
    expect([lie.status, lie.body.code]).toEqual([415, 'content_type_mismatch']);
    const textHtml = await upload(token, pid, html, 'text/plain', 'x.txt');
    expect([textHtml.status, textHtml.body.code]).toEqual([415, 'content_type_mismatch']);
    const unknown = await upload(token, pid, html, 'text/html', 'x.html');
    expect([unknown.status, unknown.body.code]).toEqual([415, 'unsupported_media_type']);
    for (const name of ['../../etc/passwd', 'a/b.png', '..', '']) {
      const r = await upload(token, pid, png, 'image/png', name);
      expect([name, r.status, r.body.code]).toEqual([name, 400, 'invalid_file_name']);
    }
    // Control characters never get past the query string (api/middleware/request-target.ts).
    const nul = await upload(token, pid, png, 'image/png', 'evil\u0000.png');
    expect([nul.status, nul.body.code, nul.body.errors]).toEqual([400, 'validation_failed', [{ field: 'name', message: 'must not contain control characters' }]]);
    // Declared far beyond the limit: refused before a byte is read.
    const huge = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${stack.url}/v1/processes/${pid}/files?name=big.png`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'image/png', 'content-length': String(5 * 1024 ** 3) },
      }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode!, body });
        });
      });
      req.on('error', reject);
      req.write(png); // the other 5 GB never come: the answer must not wait for them
    });
    expect(huge.status).toBe(413);
    expect(JSON.parse(huge.body).code).toBe('payload_too_large');
    // Streamed past the limit: cut off at the limit, nothing kept.
    const chunks = new ReadableStream({
      start(c) {
        c.enqueue(new Uint8Array(png));
        for (let i = 0; i < 24; i += 1) c.enqueue(new Uint8Array(64 * 1024));
        c.close();
      },
    });
    const streamed = await fetch(`${stack.url}/v1/processes/${pid}/files?name=big.png`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'image/png' },
      body: chunks,
      duplex: 'half',
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect((await call(stack.url, 'GET', `/v1/processes/${pid}/files`, { token })).body.items).toEqual([]);
    const ok = await upload(token, pid, png, 'image/png', 'scan.png');
    expect(ok.status).toBe(201);
  });

  it('answers 404 for another clinic\'s process or file', async () => {
    const a = await clinicWithAdmin(stack, 'proc-a');
    const b = await clinicWithAdmin(stack, 'proc-b');
    const pid = (await call(stack.url, 'POST', '/v1/processes', { token: b.token, json: { name: 'B private' } })).body.id;
    const fid = (await upload(b.token, pid, png, 'image/png', 'b.png')).body.id;
    for (const [method, p] of [['GET', `/v1/processes/${pid}`], ['GET', `/v1/processes/${pid}/files`], ['GET', `/v1/processes/${pid}/files/${fid}`], ['PATCH', `/v1/processes/${pid}`]] as const) {
      const r = await call(stack.url, method, p, { token: a.token, json: method === 'PATCH' ? { name: 'x' } : undefined });
      expect([p, r.status]).toEqual([p, 404]);
    }
    expect((await upload(a.token, pid, png, 'image/png', 'x.png')).status).toBe(404);
    const bad = await call(stack.url, 'POST', '/v1/processes', { token: a.token, json: { name: 'x', allowedAccountIds: [b.adminId] } });
    expect(bad.status).toBe(404);
  });
});
