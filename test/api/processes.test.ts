import { Readable } from 'node:stream';
import { createObjectStore } from '../../lib/storage';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { call } from '../harness/http';
import { activate, clinicWithAdmin, createAccount } from '../harness/clinic';
import { startTestStack, type TestStack } from '../harness/stack';
import * as processRights from '../../db/migrations/20261203000050_process_rights';

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
    // The creator manages the area; a group listed by id alone may read (the default right).
    expect(created.body).toMatchObject({ allowedAccounts: [{ id: nurse.accountId, right: 'manage' }], allowedGroups: [{ id: group.body.id, right: 'read' }] });
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

    // A name of Latin-1 letters keeps them (it used to go out as raw bytes, without filename*), and
    // the media type is the one uploaded, not one guessed from the name's extension.
    const latin = await upload(nurseToken, pid, png, 'image/png', 'Röntgen 37.5°C.txt');
    expect(latin.status).toBe(201);
    const got = await fetch(`${stack.url}/v1/processes/${pid}/files/${latin.body.id}`, { headers: { authorization: `Bearer ${doctorToken}` } });
    expect(got.headers.get('content-disposition')).toBe(`attachment; filename="R_ntgen 37.5_C.txt"; filename*=UTF-8''R%C3%B6ntgen%2037.5%C2%B0C.txt`);
    expect(got.headers.get('content-type')).toBe('image/png');
    await got.arrayBuffer();

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
    expect(log.body.items.map((e: { action: string }) => e.action).sort()).toEqual(['file.read', 'file.read', 'file.upload', 'file.upload']);
  });

  it('answers a file damaged in storage with 500 file_unreadable, not a 200 whose body breaks off', async () => {
    const { token } = await clinicWithAdmin(stack);
    const pid = (await call(stack.url, 'POST', '/v1/processes', { token, json: { name: 'Damaged' } })).body.id;
    const up = await upload(token, pid, Buffer.from('a small note'), 'text/plain', 'note.txt');
    expect(up.status).toBe(201);
    // One byte flipped where it is stored, through the store itself (a folder or S3).
    const store = createObjectStore(stack.config);
    const [row] = await stack.database.ownerDb('process_files').where({ id: up.body.id });
    const chunks: Buffer[] = [];
    for await (const c of await store.get(row.storageKey)) chunks.push(c as Buffer);
    const sealed = Buffer.concat(chunks);
    sealed[sealed.length - 3]! ^= 0xff;
    await store.put(row.storageKey, Readable.from([sealed]));
    const reply = await call(stack.url, 'GET', `/v1/processes/${pid}/files/${up.body.id}`, { token });
    expect([reply.status, reply.body.code]).toEqual([500, 'file_unreadable']);
    expect(reply.headers.get('content-type')).toContain('application/problem+json');
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

  it('refuses file and area names with control, zero-width or bidirectional formatting characters (400 validation_failed)', async () => {
    const { token } = await clinicWithAdmin(stack);
    const pid = (await call(stack.url, 'POST', '/v1/processes', { token, json: { name: 'Inbox' } })).body.id;
    const deceptive = [
      'invoice\u202Efdp.exe', // RIGHT-TO-LEFT OVERRIDE: shows as "invoiceexe.pdf"
      'a\u202Ab.png', 'a\u202Bb.png', 'a\u202Cb.png', 'a\u202Db.png',
      'a\u2066b.png', 'a\u2067b.png', 'a\u2068b.png', 'a\u2069b.png',
      'a\u200Bb.png', 'a\u200Cb.png', 'a\u200Db.png', '\uFEFFscan.png', 'scan.png\uFEFF',
      'evil\u0000.png', 'a\tb.png', 'a\u001Bb.png', 'a\u007Fb.png', 'a\u0085b.png', 'a\u009Bb.png',
    ];
    for (const name of deceptive) {
      const r = await upload(token, pid, png, 'image/png', name);
      expect([JSON.stringify(name), r.status, r.body.code, r.body.errors?.[0]?.field]).toEqual([JSON.stringify(name), 400, 'validation_failed', 'name']);
      const created = await call(stack.url, 'POST', '/v1/processes', { token, json: { name } });
      expect([JSON.stringify(name), created.status, created.body.code, created.body.errors?.[0]?.field]).toEqual([JSON.stringify(name), 400, 'validation_failed', 'name']);
      const renamed = await call(stack.url, 'PATCH', `/v1/processes/${pid}`, { token, json: { name } });
      expect([JSON.stringify(name), renamed.status, renamed.body.code]).toEqual([JSON.stringify(name), 400, 'validation_failed']);
    }
    expect((await call(stack.url, 'GET', `/v1/processes/${pid}/files`, { token })).body.items).toEqual([]);
    expect((await call(stack.url, 'GET', '/v1/processes', { token })).body.items.map((p: { name: string }) => p.name)).toEqual(['Inbox']);
    // Japanese text, ideographic spaces and ordinary punctuation are names like any other.
    expect((await upload(token, pid, png, 'image/png', '検査結果\u3000（2026年）.png')).status).toBe(201);
    expect((await call(stack.url, 'PATCH', `/v1/processes/${pid}`, { token, json: { name: '紹介状・返書' } })).status).toBe(200);
  });

  // Rights do not depend on the object store: checked once, on the filesystem.
  const rightsIt = _name === 'filesystem' ? it : it.skip;

  rightsIt('gives each role and right exactly its actions (role × right matrix over every process route)', async () => {
    const { clinic, token: adminToken } = await clinicWithAdmin(stack);
    const account = async (loginId: string, roles: string[]) => {
      const { accountId, initialPassword } = await createAccount(stack, adminToken, loginId, roles);
      return { id: accountId, token: await activate(stack, clinic, loginId, initialPassword) };
    };
    const admin2 = await account('admin-listed', ['admin']);
    const doctor = await account('doctor-out', ['doctor']);
    const staff = await account('staff-out', ['staff']);
    const auditor = await account('auditor-out', ['auditor']);
    const auditorIn = await account('auditor-in', ['auditor']);
    const adminAuditor = await account('admin-auditor', ['admin', 'auditor']);
    const reader = await account('reader', ['staff']);
    const writer = await account('writer', ['doctor']);
    const manager = await account('manager', ['staff']);
    const groupWriter = await account('group-writer', ['staff']);
    const groupReader = await account('group-reader', ['doctor']);
    const writers = (await call(stack.url, 'POST', '/v1/groups', { token: adminToken, json: { name: 'Writers', memberIds: [groupWriter.id] } })).body.id;
    const readers = (await call(stack.url, 'POST', '/v1/groups', { token: adminToken, json: { name: 'Readers', memberIds: [groupReader.id] } })).body.id;

    const created = await call(stack.url, 'POST', '/v1/processes', {
      token: manager.token,
      json: {
        name: 'Matrix',
        allowedAccounts: [
          { id: admin2.id, right: 'read' },
          { id: auditorIn.id, right: 'manage' },
          { id: reader.id },
          { id: writer.id, right: 'write' },
          { id: groupWriter.id, right: 'read' },
        ],
        allowedGroups: [{ id: writers, right: 'write' }, { id: readers }],
      },
    });
    expect(created.status).toBe(201);
    const area = created.body;
    const rightOf = (entries: Array<{ id: string; right: string }>, id: string) => entries.find((e) => e.id === id)?.right;
    expect([rightOf(area.allowedAccounts, manager.id), rightOf(area.allowedAccounts, reader.id), rightOf(area.allowedGroups, readers)]).toEqual(['manage', 'read', 'read']);
    expect(area.allowedAccountIds).toHaveLength(6);
    const fid = (await upload(manager.token, area.id, png, 'image/png', 'matrix.png')).body.id;

    const actions = ['create', 'list', 'get', 'files', 'download', 'upload', 'rename', 'access'] as const;
    const attempt = async (token: string): Promise<number[]> => [
      (await call(stack.url, 'POST', '/v1/processes', { token, json: { name: 'Own area' } })).status,
      (await call(stack.url, 'GET', '/v1/processes', { token })).body.items.some((p: { id: string }) => p.id === area.id) ? 200 : 404,
      (await call(stack.url, 'GET', `/v1/processes/${area.id}`, { token })).status,
      (await call(stack.url, 'GET', `/v1/processes/${area.id}/files`, { token })).status,
      (await fetch(`${stack.url}/v1/processes/${area.id}/files/${fid}`, { headers: { authorization: `Bearer ${token}` } })).status,
      (await upload(token, area.id, png, 'image/png', 'attempt.png')).status,
      (await call(stack.url, 'PATCH', `/v1/processes/${area.id}`, { token, json: { name: 'Matrix' } })).status,
      // The same list again: allowed or not, nobody's right changes between rows.
      (await call(stack.url, 'PATCH', `/v1/processes/${area.id}`, { token, json: { allowedAccounts: area.allowedAccounts, allowedGroups: area.allowedGroups } })).status,
    ];
    const hidden = [404, 404, 404, 404, 404, 404, 404];
    const reads = [200, 200, 200, 200];
    const matrix = async (rows: Array<[string, string, number[]]>) => {
      const tokens: Record<string, string> = {
        admin: adminToken, admin2: admin2.token, doctor: doctor.token, staff: staff.token, auditor: auditor.token, auditorIn: auditorIn.token,
        adminAuditor: adminAuditor.token, reader: reader.token, writer: writer.token, manager: manager.token, groupWriter: groupWriter.token, groupReader: groupReader.token,
      };
      const actual: Array<[string, Record<string, number>]> = [];
      const wanted: Array<[string, Record<string, number>]> = [];
      for (const [who, what, expected] of rows) {
        const statuses = await attempt(tokens[who]!);
        actual.push([`${who} (${what})`, Object.fromEntries(actions.map((a, i) => [a, statuses[i]!]))]);
        wanted.push([`${who} (${what})`, Object.fromEntries(actions.map((a, i) => [a, expected[i]!]))]);
      }
      expect(actual).toEqual(wanted);
    };

    await matrix([
      // actions: create, list, get, files, download, upload, rename, access
      ['admin', 'admin, not listed', [201, ...hidden]],
      ['admin2', 'admin, listed with read', [201, ...reads, 201, 200, 200]],
      ['doctor', 'doctor, not listed', [201, ...hidden]],
      ['staff', 'staff, not listed', [201, ...hidden]],
      ['auditor', 'auditor, not listed', [403, ...hidden]],
      ['auditorIn', 'auditor, listed with manage', [403, ...reads, 403, 403, 403]],
      ['adminAuditor', 'admin and auditor, not listed', [403, ...hidden]],
      ['reader', 'member with read (the default)', [201, ...reads, 403, 403, 403]],
      ['writer', 'member with write', [201, ...reads, 201, 403, 403]],
      ['manager', 'member with manage (the creator)', [201, ...reads, 201, 200, 200]],
      ['groupWriter', 'read directly, write through a group', [201, ...reads, 201, 403, 403]],
      ['groupReader', 'read through a group', [201, ...reads, 403, 403, 403]],
    ]);

    // When the clinic lets admins see every area, they manage it; auditors stay read-only.
    expect((await call(stack.url, 'PUT', '/v1/settings/processes', { token: adminToken, json: { adminsSeeAllProcesses: true } })).status).toBe(200);
    await matrix([
      ['admin', 'admin, not listed, admins see all', [201, ...reads, 201, 200, 200]],
      ['adminAuditor', 'admin and auditor, not listed, admins see all', [403, ...reads, 403, 403, 403]],
      ['auditor', 'auditor, not listed, admins see all', [403, ...hidden]],
      ['doctor', 'doctor, not listed, admins see all', [201, ...hidden]],
    ]);

    // Refusals change nothing: the list is as created, and only allowed uploads landed.
    const after = await call(stack.url, 'GET', `/v1/processes/${area.id}`, { token: manager.token });
    expect(after.body.allowedAccounts).toEqual(area.allowedAccounts);
    expect(after.body.allowedGroups).toEqual(area.allowedGroups);
    const uploads = (await call(stack.url, 'GET', `/v1/processes/${area.id}/files`, { token: manager.token })).body.items;
    expect(uploads.filter((f: { name: string }) => f.name === 'attempt.png')).toHaveLength(5); // admin2, writer, manager, groupWriter; then admin
  });

  rightsIt('keeps access lists backward compatible: ids alone keep rights, new ids get read', async () => {
    const { token, adminId } = await clinicWithAdmin(stack);
    const a = await createAccount(stack, token, 'compat-a', ['staff']);
    const b = await createAccount(stack, token, 'compat-b', ['doctor']);
    const c = await createAccount(stack, token, 'compat-c', ['staff']);
    const area = await call(stack.url, 'POST', '/v1/processes', { token, json: { name: 'Compat', allowedAccounts: [{ id: a.accountId, right: 'write' }, { id: b.accountId, right: 'manage' }] } });
    expect(area.status).toBe(201);
    const pid = area.body.id;
    // An older client re-sends the list as ids and adds one: nobody's right changes, the newcomer may read.
    const patched = await call(stack.url, 'PATCH', `/v1/processes/${pid}`, { token, json: { allowedAccountIds: [adminId, a.accountId, b.accountId, c.accountId] } });
    expect(patched.status).toBe(200);
    const rights = Object.fromEntries(patched.body.allowedAccounts.map((e: { id: string; right: string }) => [e.id, e.right]));
    expect(rights).toEqual({ [adminId]: 'manage', [a.accountId]: 'write', [b.accountId]: 'manage', [c.accountId]: 'read' });
    expect([...patched.body.allowedAccountIds].sort()).toEqual([adminId, a.accountId, b.accountId, c.accountId].sort());
    // A right can be lowered; an id listed twice gets the higher right.
    const lowered = await call(stack.url, 'PATCH', `/v1/processes/${pid}`, { token, json: { allowedAccounts: [{ id: adminId }, { id: b.accountId, right: 'read' }, { id: c.accountId, right: 'read' }, { id: c.accountId, right: 'write' }] } });
    expect(Object.fromEntries(lowered.body.allowedAccounts.map((e: { id: string; right: string }) => [e.id, e.right]))).toEqual({ [adminId]: 'manage', [b.accountId]: 'read', [c.accountId]: 'write' });
    // One spelling per kind; rights from the list only.
    for (const json of [
      { allowedAccountIds: [a.accountId], allowedAccounts: [{ id: a.accountId }] },
      { allowedGroupIds: [], allowedGroups: [] },
      { allowedAccounts: [{ id: a.accountId, right: 'owner' }] },
      { allowedAccounts: [{ id: a.accountId, right: 'write', extra: true }] },
    ]) {
      const r = await call(stack.url, 'PATCH', `/v1/processes/${pid}`, { token, json });
      expect([json, r.status, r.body.code]).toEqual([json, 400, 'validation_failed']);
      expect((await call(stack.url, 'POST', '/v1/processes', { token, json: { name: 'x', ...json } })).status).toBe(400);
    }
  });

  rightsIt('migrates existing access lists: members may write, the creator manages', async () => {
    const { token, adminId } = await clinicWithAdmin(stack);
    const nurse = await createAccount(stack, token, 'legacy-nurse', ['staff']);
    const group = (await call(stack.url, 'POST', '/v1/groups', { token, json: { name: 'Legacy', memberIds: [] } })).body.id;
    const pid = (await call(stack.url, 'POST', '/v1/processes', { token, json: { name: 'Legacy', allowedAccountIds: [nurse.accountId], allowedGroupIds: [group] } })).body.id;
    const db = stack.database.ownerDb;
    await processRights.down(db); // the table as it was before rights
    await processRights.up(db);
    const rows = await db('process_access').where({ process_id: pid }).select('principal_id', 'access_right');
    expect(Object.fromEntries(rows.map((r: { principalId: string; accessRight: string }) => [r.principalId, r.accessRight]))).toEqual({
      [adminId]: 'manage',
      [nurse.accountId]: 'write',
      [group]: 'write',
    });
    // Rows inserted without a right from now on (an older instance mid-deploy) get the least one.
    const [{ fallback }] = (await db.raw(`select column_default as fallback from information_schema.columns where table_name = 'process_access' and column_name = 'access_right'`)).rows;
    expect(fallback).toContain("'read'");
  });

  it('lists an area\'s files page by page with limit and cursor, none skipped or repeated, and all of them without a limit', async () => {
    const { token } = await clinicWithAdmin(stack, 'proc-pages');
    const pid = (await call(stack.url, 'POST', '/v1/processes', { token, json: { name: 'Many files' } })).body.id;
    const names: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      names.push(`page-${i}.png`);
      expect((await upload(token, pid, png, 'image/png', names[i]!)).status).toBe(201);
    }
    const all = await call(stack.url, 'GET', `/v1/processes/${pid}/files`, { token });
    expect([all.body.items.map((f: { name: string }) => f.name), all.body.nextCursor]).toEqual([names, null]);
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 5; page += 1) {
      const res: { status: number; body: any } = await call(stack.url, 'GET', `/v1/processes/${pid}/files?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token });
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((f: { name: string }) => f.name));
      cursor = res.body.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toEqual(names);
    // A file name whose bytes are not UTF-8 is refused, not stored with U+FFFD.
    const notUtf8 = await call(stack.url, 'POST', `/v1/processes/${pid}/files?name=%FF%FE.txt`, { token, raw: png, headers: { 'content-type': 'image/png' } });
    expect([notUtf8.status, notUtf8.body.code, notUtf8.body.errors]).toEqual([400, 'validation_failed', [{ field: 'name', message: 'must be percent-encoded UTF-8' }]]);
    for (const bad of ['limit=0', 'limit=201', 'limit=2&cursor=bm9wZQ', 'cursor=x', 'limit=2&x=1']) {
      const res = await call(stack.url, 'GET', `/v1/processes/${pid}/files?${bad}`, { token });
      expect([bad, res.status]).toEqual([bad, 400]);
    }
  });

  it('lists the areas one may see page by page with limit and cursor, none skipped, repeated or hidden, and all of them without a limit', async () => {
    const { clinic, token } = await clinicWithAdmin(stack, 'proc-area-pages');
    const nurse = await createAccount(stack, token, 'nurse-pages');
    const nurseToken = await activate(stack, clinic, 'nurse-pages', nurse.initialPassword);
    const names: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      names.push(`Area ${i}`);
      const json = { name: names[i], allowedAccountIds: i % 2 === 0 ? [nurse.accountId] : [] };
      expect((await call(stack.url, 'POST', '/v1/processes', { token, json })).status).toBe(201);
    }
    const pages = async (who: string, limit: number) => {
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 10; page += 1) {
        const res: { status: number; body: any } = await call(stack.url, 'GET', `/v1/processes?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, { token: who });
        expect(res.status).toBe(200);
        expect(res.body.items.length).toBeLessThanOrEqual(limit);
        seen.push(...res.body.items.map((p: { name: string }) => p.name));
        cursor = res.body.nextCursor;
        if (!cursor) break;
      }
      return seen;
    };
    const all = await call(stack.url, 'GET', '/v1/processes', { token });
    expect([all.body.items.map((p: { name: string }) => p.name), all.body.nextCursor]).toEqual([names, null]);
    expect(await pages(token, 2)).toEqual(names);
    // Only the areas that list the nurse, however the pages fall.
    expect(await pages(nurseToken, 1)).toEqual(['Area 0', 'Area 2', 'Area 4']);
    for (const bad of ['limit=0', 'limit=201', 'limit=2&cursor=bm9wZQ', 'cursor=x', 'limit=2&x=1']) {
      const res = await call(stack.url, 'GET', `/v1/processes?${bad}`, { token });
      expect([bad, res.status]).toEqual([bad, 400]);
    }
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
