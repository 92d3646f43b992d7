import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { appDeps, createApp } from '../../api/app';
import { createLogger } from '../../lib/logger';
import { STRONG_PASSWORD, activate, createAccount, login } from '../harness/clinic';
import { bookingClinic, created, furnishClinic } from '../harness/consultations';
import {
  BROKEN_JSON,
  HOSTILE_QUERY_VALUES,
  WRONG_CONTENT_TYPES,
  WRONG_METHODS,
  asCurl,
  closeFuzzAgent,
  dateFieldsOf,
  deepJson,
  hash32,
  hostileCursors,
  hostileIds,
  hostileJsonValues,
  IMPOSSIBLE_DATES,
  operationsOf,
  pathsIn,
  prng,
  sample,
  send,
  setIn,
  toJson,
  rowIdFor,
  type ClinicRows,
  type Operation,
  type RawReply,
  type RawRequest,
  type Rng,
} from '../harness/fuzz';
import { call } from '../harness/http';
import { softwarePasskey } from '../harness/passkey';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * Every operation in /openapi.json, as every kind of caller, with malformed input. Whatever is
 * sent, the API answers below 500; every 4xx is application/problem+json with a `code`; no
 * answer carries a stack trace, a secret, or data of another clinic.
 *
 * Each case is a plausible request broken in one way (a wrong method, broken or deeply nested
 * JSON, a body of the wrong shape, a hostile field value, a wrong content type, a hostile query
 * value, cursor, date, control character, path id or header); some kinds also say what the
 * answer must be (405 with Allow, invalid_json, 400 validation_failed, or at least a refusal).
 * The cases come from a seeded PRNG (FUZZ_SEED, printed; fixed by default so CI is
 * deterministic) and their number is fixed: operations × roles × CASES_PER_OPERATION.
 * Reproduce a failure with FUZZ_SEED=<seed> and the printed request; FUZZ_REPORT=<file> writes
 * every failure and every accepted change.
 *
 * Before the fuzzer, one test per class of hostile input the attack run found answers 5xx for.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261130);
const ROLES = ['operator', 'admin', 'doctor', 'staff', 'auditor', 'anonymous'] as const;
type Role = (typeof ROLES)[number];
/** Cases per operation and role: by default one per kind of breakage (see buildCase); FUZZ_CASES=28 runs each kind twice. */
const CASES_PER_OPERATION = Number(process.env.FUZZ_CASES ?? 14);
/**
 * Successful changes (2xx to POST/PUT/PATCH/DELETE) a run may cause, and so a bound on the
 * workflows it starts: almost every case is refused; what gets through is mostly passkey
 * challenges and logouts (about 50 with the default seed).
 */
const MUTATION_BUDGET = Math.ceil((100 * CASES_PER_OPERATION) / 14);
const LOGIN_IDS: Record<Exclude<Role, 'operator' | 'anonymous'>, string> = { admin: 'admin', doctor: 'dr.sato', staff: 'desk', auditor: 'auditor1' };

let stack: TestStack;
const tokens: Partial<Record<Role, string>> = {};
/** Our clinic's rows, so reads reach real data. */
const own: Record<string, string> = {};
/** Ids of the other clinic that requests name on purpose (a 404 may echo them back). */
let probeIds: string[] = [];
/** What each probe id names, for the failure report. */
const probeNames = new Map<string, string>();
/** The other clinic's values no request ever names: they must never appear in an answer to a clinic user. */
let canaries: string[] = [];
/** The other clinic's admin session and slug. */
const other: { adminToken?: string; slug?: string; id?: string } = {};

beforeAll(async () => {
  // The fuzzer sends hundreds of bad logins from one address; the per-address limit is not under test here.
  stack = await startTestStack({ LOGIN_FAILURES_PER_IP: '10000' });
  const a = await bookingClinic(stack);
  const auditor = await createAccount(stack, a.adminToken, LOGIN_IDS.auditor, ['auditor']);
  Object.assign(tokens, {
    operator: stack.operatorToken,
    admin: a.adminToken,
    doctor: a.doctorToken,
    staff: a.staffToken,
    auditor: await activate(stack, a.clinic, LOGIN_IDS.auditor, auditor.initialPassword),
  });
  const staffMe = await call(stack.url, 'GET', '/v1/me', { token: a.staffToken });
  Object.assign(own, {
    clinicId: a.clinic.id,
    slug: a.clinic.slug,
    patientId: a.patientId,
    practitionerId: a.practitionerId,
    staffId: staffMe.body.accountId,
    ...(await furnishClinic(stack, a, 'A')),
  });

  const b = await bookingClinic(stack);
  Object.assign(other, { adminToken: b.adminToken, slug: b.clinic.slug, id: b.clinic.id });
  const bRows = await furnishClinic(stack, b, 'B');
  const bAccounts = (await call(stack.url, 'GET', '/v1/accounts', { token: b.adminToken })).body.items as Array<{ id: string; loginId: string }>;
  const bAdmin = bAccounts.find((x) => x.loginId === 'admin')!.id;
  const canaryName = `Canary ${b.clinic.slug}`;
  const canaryPatient = await call(stack.url, 'POST', '/v1/patients', {
    token: b.staffToken,
    json: { name: canaryName, kana: 'カナリア', birthDate: '1970-01-01', email: `canary@${b.clinic.slug}.example` },
  });
  const probes = { clinic: b.clinic.id, patient: b.patientId, practitioner: b.practitionerId, admin: bAdmin, ...bRows };
  for (const [name, id] of Object.entries(probes)) probeNames.set(id, `the other clinic's ${name.replace(/Id$/, '')} ${id}`);
  probeIds = Object.values(probes);
  canaries = [
    b.clinic.slug,
    canaryName,
    `canary@${b.clinic.slug}.example`,
    await created(canaryPatient, 'canary patient'),
    ...bAccounts.filter((x) => x.id !== bAdmin).map((x) => x.id),
  ];
}, 180_000);

afterAll(async () => {
  closeFuzzAgent();
  await stack?.stop();
});

// ---------------------------------------------------------------- class by class

/** The answer as a problem: status, code and Allow, for compact assertions. */
async function problem(method: string, target: string, opts: { token?: string; body?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] ??= 'application/json';
  const reply = await send(target.startsWith('/v1/operator/') ? stack.operatorUrl : stack.url, { method, target, headers, body: opts.body });
  const json = reply.contentType.startsWith('application/problem+json') ? JSON.parse(reply.text) : undefined;
  return { status: reply.status, code: json?.code as string | undefined, allow: reply.allow, errors: json?.errors as Array<{ field: string }> | undefined, contentType: reply.contentType };
}

const b64 = (s: string) => Buffer.from(s).toString('base64url');
const keyset = (ts: string, id = '3f1c2d4e-1111-4222-8333-444455556666') => b64(JSON.stringify([ts, id]));

describe('hostile input, class by class', () => {
  it('answers methods a path does not offer with 405 method_not_allowed and Allow, before authentication', async () => {
    for (const [method, path, allow] of [
      ['TRACE', '/healthz', 'GET, HEAD'],
      ['PROPFIND', '/v1/patients', 'GET, HEAD, POST'],
      ['MKCOL', '/v1/operator/tenants', 'GET, HEAD, POST'],
      ['PURGE', '/v1/me', 'GET, HEAD'],
      ['PATCH', '/readyz', 'GET, HEAD'],
      ['PUT', `/v1/patients/${'3f1c2d4e-1111-4222-8333-444455556666'}`, 'GET, HEAD, PATCH'],
      ['DELETE', '/v1/operator/tenants', 'GET, HEAD, POST'],
    ] as const) {
      expect([method, path, await problem(method, path)]).toEqual([method, path, expect.objectContaining({ status: 405, code: 'method_not_allowed', allow })]);
    }
    expect(await problem('OPTIONS', '/v1/patients')).toMatchObject({ status: 200, allow: 'GET, HEAD, POST' });
    expect(await problem('TRACE', '/v1/nothing-here')).toMatchObject({ status: 404, code: 'not_found' });
    // A verb Node's HTTP parser does not know never reaches the app; the server's clientError handler answers it.
    expect(await problem('FOOBAR', '/healthz')).toMatchObject({ status: 400, code: 'bad_request', contentType: expect.stringMatching(/^application\/problem\+json/) });
  });

  it('answers what the HTTP parser rejects with a problem and a stable code, then closes the connection', async () => {
    const { hostname, port } = new URL(stack.url);
    /** Writes raw bytes on a connection of its own and reads until the server closes it. */
    const exchange = (bytes: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(port), hostname);
        const chunks: Buffer[] = [];
        // A guard, not a wait: a server that keeps the connection open fails the test here.
        socket.setTimeout(15_000, () => socket.destroy(new Error('the server kept the connection open')));
        socket.on('data', (c: Buffer) => chunks.push(c));
        socket.on('error', reject);
        socket.on('end', () => {
          resolve(Buffer.concat(chunks).toString('utf8'));
          socket.destroy();
        });
        socket.write(bytes);
      });
    const parse = (raw: string) => {
      const [head = '', body = ''] = raw.split('\r\n\r\n');
      const [statusLine, ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      return { statusLine, contentType: headers['content-type'], connection: headers.connection, code: JSON.parse(body).code as string, body };
    };
    const bad = { statusLine: 'HTTP/1.1 400 Bad Request', contentType: expect.stringMatching(/^application\/problem\+json/), connection: 'close', code: 'bad_request' };
    for (const [what, bytes, expected] of [
      ['an unknown verb', 'FOOBAR /healthz HTTP/1.1\r\nHost: x\r\n\r\n', bad],
      ['a lower-case verb', 'get /healthz HTTP/1.1\r\nHost: x\r\n\r\n', bad],
      ['a verb with a bad character', 'GE(T /healthz HTTP/1.1\r\nHost: x\r\n\r\n', bad],
      ['an HTTP version that does not exist', 'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n', bad],
      ['a space inside the target', 'GET /he lthz HTTP/1.1\r\nHost: x\r\n\r\n', bad],
      ['bare LF line ends', 'GET /healthz HTTP/1.1\nHost: x\n\n', bad],
      ['a folded header line', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n', bad],
      ['binary garbage', '\u0000\u0001\u0002\u00ff\r\n\r\n', bad],
      ['a header without a colon', 'GET /healthz HTTP/1.1\r\nHost x\r\n\r\n', bad],
      ['a control character in a header value', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\u0001b\r\n\r\n', bad],
      ['a non-numeric Content-Length', 'POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', bad],
      ['Content-Length beside chunked (smuggling)', 'POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', bad],
      ['headers past the size limit', `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, { ...bad, statusLine: 'HTTP/1.1 431 Request Header Fields Too Large', code: 'headers_too_large' }],
    ] as const) {
      const raw = await exchange(bytes);
      const reply = parse(raw);
      expect([what, reply]).toEqual([what, expect.objectContaining(expected)]);
      expect([what, STACK_TRACE.test(reply.body), /HPE_|llhttp|Parse Error/i.test(reply.body)]).toEqual([what, false, false]);
    }
    // Verbs the parser knows reach the app: 405 with Allow, as a problem (and the connection may stay open).
    const propfind = await problem('PROPFIND', '/healthz');
    expect(propfind).toMatchObject({ status: 405, code: 'method_not_allowed', allow: 'GET, HEAD' });
    // And the server still answers normally afterwards.
    expect((await call(stack.url, 'GET', '/healthz')).status).toBe(200);
  });

  it('refuses JSON nested deeper than 32 levels as invalid_json, before authentication', async () => {
    const tenant = (extra: string) => `{"slug":"deep-${Date.now()}","name":"Deep","contractEmails":["a@deep.example"],"extra":${extra}}`;
    const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    // 32 levels in all (the outer object is one): parsed, then refused for its unknown field.
    expect(await problem('POST', '/v1/operator/tenants', { token: stack.operatorToken, body: tenant(nested(31)) })).toMatchObject({ status: 400, code: 'validation_failed' });
    expect(await problem('POST', '/v1/operator/tenants', { token: stack.operatorToken, body: tenant(nested(32)) })).toMatchObject({ status: 400, code: 'invalid_json' });
    expect(await problem('POST', '/v1/patients', { body: `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}` })).toMatchObject({ status: 400, code: 'invalid_json' });
    expect(await problem('POST', '/v1/auth/logout', { token: tokens.staff, body: nested(50_000) })).toMatchObject({ status: 400, code: 'invalid_json' });
    // Brackets inside strings are text, not nesting.
    expect(await problem('POST', '/v1/operator/tenants', { token: stack.operatorToken, body: tenant(JSON.stringify('['.repeat(1000))) })).toMatchObject({ status: 400, code: 'validation_failed' });
  });

  it('refuses malformed cursors on every paged list with 400, and still pages with real ones', async () => {
    const malformed = [
      '%%%', 'AAAA', b64('null'), b64('[1,2]'), keyset('1'), keyset('now'), keyset('2026-02-30T00:00:00.000000Z'), keyset('0000-01-01T00:00:00.000000Z'),
      keyset('9999-12-31T23:59:59.999999Z'), keyset('+275760-09-13T00:00:00.000Z'), keyset('2026-01-01T00:00:00.000000Z', 'not-a-uuid'),
      b64('s:99999999999999999999'), b64('s:-1'), b64('not-a-uuid'), 'x'.repeat(600),
    ];
    for (const [path, token] of [
      ['/v1/operator/tenants', stack.operatorToken],
      ['/v1/accounts', tokens.admin],
      ['/v1/patients', tokens.staff],
      ['/v1/audit-logs', tokens.admin],
    ] as const) {
      for (const cursor of malformed) {
        const reply = await problem('GET', `${path}?cursor=${cursor}`, { token });
        expect([path, cursor.slice(0, 40), reply.status, ['invalid_cursor', 'validation_failed'].includes(reply.code!)]).toEqual([path, cursor.slice(0, 40), 400, true]);
      }
    }
    const first = await call(stack.operatorUrl, 'GET', '/v1/operator/tenants?limit=1', { token: stack.operatorToken });
    const second = await call(stack.operatorUrl, 'GET', `/v1/operator/tenants?limit=1&cursor=${first.body.nextCursor}`, { token: stack.operatorToken });
    expect([second.status, second.body.items[0].id === first.body.items[0].id]).toEqual([200, false]);
  });

  it('refuses impossible dates and years in every date field and parameter with 400 validation_failed', async () => {
    const pid = own.practitionerId!;
    const day = (d: string): Array<[string, string, string | undefined, string?]> => [
      ['GET', `/v1/consultations?date=${d}`, tokens.staff],
      ['GET', `/v1/patients?birthDate=${d}`, tokens.staff],
      ['POST', '/v1/patients', tokens.staff, JSON.stringify({ name: '日付 太郎', kana: 'ヒヅケ タロウ', birthDate: d })],
      ['PATCH', `/v1/patients/${own.patientId}`, tokens.staff, JSON.stringify({ birthDate: d })],
      ['PUT', `/v1/practitioners/${pid}/availability`, tokens.admin, JSON.stringify({ rules: [], exceptions: [{ date: d, kind: 'closed' }] })],
      ['GET', `/v1/audit-logs?from=${d}`, tokens.admin],
      ['GET', `/v1/audit-logs?to=${d}`, tokens.auditor],
      ['GET', `/v1/audit-logs.csv?from=${d}&to=2026-12-01`, tokens.admin],
    ];
    const instant = (t: string): Array<[string, string, string | undefined, string?]> => [
      ['GET', `/v1/practitioners/${pid}/slots?from=${encodeURIComponent(t)}&to=2026-12-02T00:00:00Z`, tokens.staff],
      ['GET', `/v1/practitioners/${pid}/slots?from=2026-12-01T00:00:00Z&to=${encodeURIComponent(t)}`, tokens.staff],
      ['POST', '/v1/consultations', tokens.staff, JSON.stringify({ patientId: own.patientId, practitionerId: pid, startsAt: t, mode: 'in_person' })],
      ['POST', `/v1/consultations/${own.consultationId}/reschedule`, tokens.staff, JSON.stringify({ startsAt: t })],
      ['GET', `/v1/audit-logs?from=${encodeURIComponent(t)}&to=2026-12-01T00:00:00Z`, tokens.admin],
      ['GET', `/v1/audit-logs?to=${encodeURIComponent(t)}`, tokens.admin],
    ];
    const cases = [
      ...['2026-02-30', '2026-04-31', '0000-01-01', '9999-12-31'].flatMap(day),
      ...['2026-02-30T09:00:00+09:00', '0000-01-01T00:00:00Z', '9999-12-31T00:00:00Z', '2026-12-01T24:00:00Z'].flatMap(instant),
    ];
    for (const [method, target, token, body] of cases) {
      const reply = await problem(method, target, { token, body, headers: { 'idempotency-key': `dates-${Math.random().toString(36).slice(2)}` } });
      expect([method, target, reply.status, reply.code]).toEqual([method, target, 400, 'validation_failed']);
    }
    // Real dates still work, with or without seconds.
    expect((await problem('GET', '/v1/audit-logs?from=2026-11-30T00:00Z&to=2026-12-01', { token: tokens.admin })).status).toBe(200);
  });

  it('refuses control characters anywhere in the path or query string with 400 validation_failed, for every caller', async () => {
    for (const [target, token, field] of [
      ['/v1/patients?patientNumber=%00', tokens.staff, 'patientNumber'],
      ['/v1/patients?name=a%00b', tokens.staff, 'name'],
      ['/v1/patients?name=%C2%85', tokens.staff, 'name'],
      ['/v1/audit-logs?target=%1B%5B31m', tokens.admin, 'target'],
      ['/v1/operator/tenants?status=%07', stack.operatorToken, 'status'],
      ['/healthz?x=%0D%0ASet-Cookie:%20a=1', undefined, 'x'],
      ['/v1/patients?%00=1', undefined, '\\u0000'],
      ['/v1/processes/x/files/%00', tokens.staff, '(path)'],
    ] as const) {
      const reply = await problem('GET', target, { token });
      expect([target, reply.status, reply.code, reply.errors?.map((e) => e.field)]).toEqual([target, 400, 'validation_failed', [field]]);
    }
    expect((await problem('GET', `/v1/patients?name=${encodeURIComponent('山田 花子')}`, { token: tokens.staff })).status).toBe(200);
  });

  it('answers the same passkey registered in a second clinic with 409 passkey_exists', async () => {
    const origin = stack.config.WEBAUTHN_ORIGINS[0]!;
    const passkey = softwarePasskey({ origin, rpId: stack.config.WEBAUTHN_RP_ID });
    const register = async (token: string) => {
      const options = await call(stack.url, 'POST', '/v1/auth/webauthn/registration/options', { token });
      expect(options.status).toBe(200);
      return call(stack.url, 'POST', '/v1/auth/webauthn/registration/verify', { token, json: { response: passkey.registrationResponse(options.body.challenge) } });
    };
    const inClinic = async (adminToken: string, clinic: { id: string; slug: string }) => {
      const account = await createAccount(stack, adminToken, 'passkey-user', ['staff']);
      return activate(stack, { id: clinic.id, slug: clinic.slug }, 'passkey-user', account.initialPassword);
    };
    const first = await register(await inClinic(tokens.admin!, { id: own.clinicId!, slug: own.slug! }));
    expect(first.status).toBe(201);
    const second = await register(await inClinic(other.adminToken!, { id: other.id!, slug: other.slug! }));
    expect([second.status, second.body.code, second.headers.get('content-type')]).toEqual([409, 'passkey_exists', expect.stringMatching(/^application\/problem\+json/)]);
  });

  it('logs a client that hangs up mid-request as 499 at info level, sends nothing, and logs no error', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger({ name: 'api', level: 'debug', destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
    const { app } = createApp(appDeps(stack.config, { db: stack.database.db, temporal: stack.temporal, log }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as AddressInfo).port;
    const hangUp = (head: string, partial: string) =>
      new Promise<void>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => {
          socket.write(`${head}\r\n\r\n${partial}`);
          setTimeout(() => socket.destroy(), 200);
        });
        socket.on('close', () => resolve());
      });
    const requests = () => lines.filter((l) => l.msg === 'request');
    try {
      await hangUp(`POST /v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tokens.admin}\r\nContent-Type: application/json\r\nContent-Length: 10000`, '{"loginId":"half');
      await hangUp(
        `POST /v1/processes/${own.processId}/files?name=half.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tokens.admin}\r\nContent-Type: text/plain\r\nContent-Length: 100000`,
        'hello '.repeat(1000),
      );
      const deadline = Date.now() + 10_000;
      while (requests().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(requests().map((l) => [l.path, l.status, l.level])).toEqual([
        ['/v1/accounts', 499, 'info'],
        [`/v1/processes/${own.processId}/files`, 499, 'info'],
      ]);
      expect(lines.filter((l) => l.level === 'error' || l.level === 'warn')).toEqual([]);
    } finally {
      server.close();
    }
  });
});

// ---------------------------------------------------------------- building cases

/** Body fields that name rows (not loginId, which is free text). */
const REFERENCE_FIELD = /^(?:id|(?:account|group|member|patient|practitioner|consultation|process|file|tenant|allowedAccount|allowedGroup)Ids?)$/;

interface Case {
  kind: string;
  request: RawRequest;
  /** What this kind of breakage must get, beyond the rules for every answer; undefined when any 4xx will do. */
  expect?: (reply: RawReply, code: string | undefined) => string | undefined;
}

const enc = encodeURIComponent;

/** The resource a path parameter names, in our clinic (reads only: writes get ids that name nothing). */
function ownIdFor(op: Operation, param: string, rng: Rng): string {
  if (op.method !== 'GET') return rng.uuid();
  const rows: ClinicRows = {
    tenants: own.clinicId, accounts: own.staffId, groups: own.groupId, processes: own.processId, files: own.fileId,
    patients: own.patientId, practitioners: own.practitionerId, consultations: own.consultationId,
  };
  return rowIdFor(op.path, param, rows) ?? rng.uuid();
}

function baseQuery(op: Operation, rng: Rng): Array<[string, string]> {
  return op.query
    .filter((q) => q.required || (q.name !== 'cursor' && rng.chance(0.3)))
    .map((q) => [q.name, enc(String(q.name === 'name' ? 'note.txt' : sample(q.schema, rng, q.name)))]);
}

function target(op: Operation, params: Record<string, string>, query: Array<[string, string]>): string {
  const path = op.path.replace(/\{([^}]+)\}/g, (_m, name: string) => params[name]!);
  return query.length ? `${path}?${query.map(([k, v]) => `${k}=${v}`).join('&')}` : path;
}

/** One case: a plausible request broken in exactly one way (the kind), with details from `rng`. */
function buildCase(op: Operation, role: Role, index: number, rng: Rng): Case {
  const params = Object.fromEntries(op.pathParams.map((p) => [p, ownIdFor(op, p, rng)]));
  let query = baseQuery(op, rng);
  let method = op.method;
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = role === 'anonymous' ? undefined : tokens[role];
  if (token) headers.authorization = `Bearer ${token}`;
  if (op.method === 'POST' && op.path === '/v1/consultations') headers['idempotency-key'] = `fuzz-${rng.uuid()}`;
  let body: unknown = op.body ? sample(op.body, rng) : undefined;
  let text: string | undefined;
  const hostile = hostileJsonValues();
  // The other clinic's ids go where ids belong: a free-text field would store them as text, and a
  // later listing would show them back. In an id field, accepting one is a finding of its own.
  const hostileAt = (path: string[]) => rng.pick(path.some((k) => REFERENCE_FIELD.test(k)) ? [...hostile, ...probeIds, ...probeIds] : hostile);
  const dates = dateFieldsOf(op);
  let expect: Case['expect'];
  const refused = (what: string): Case['expect'] => (reply) => (reply.status < 400 ? `${what} was accepted` : undefined);

  const kinds: Array<[string, () => void]> = [
    ['wrong method', () => {
      method = rng.pick(WRONG_METHODS.filter((m) => !op.pathMethods.includes(m)));
      expect = (reply, code) => (reply.status === 405 && code === 'method_not_allowed' && reply.allow ? undefined : 'not 405 method_not_allowed with Allow');
    }],
    ['invalid JSON', () => {
      text = rng.pick(BROKEN_JSON);
    }],
    ['deep nesting', () => {
      text = deepJson(rng);
      // JSON bodies are parsed before authentication, so every caller gets invalid_json; a route that
      // streams its own body (uploads) refuses it its own way. GET bodies are ignored.
      if (method !== 'GET') {
        expect = op.body
          ? (_reply, code) => (code === 'invalid_json' ? undefined : 'deep nesting not refused as invalid_json')
          : refused('a deeply nested body');
      }
    }],
    ['wrong body shape', () => {
      body = rng.pick<unknown>(['text', 42, null, true, [], [body], [{}], {}, 'x'.repeat(100_000)]);
    }],
    ['extra field', () => {
      body = { ...(body && typeof body === 'object' ? body : {}), [rng.pick(['extra', 'id', 'tenantId', 'roles', 'isAdmin', '$where', ''])]: rng.pick(hostile) };
    }],
    ['hostile field value', () => {
      const at = pathsIn(body);
      const path = at.length ? rng.pick(at) : [];
      body = setIn(body, path, hostileAt(path));
    }],
    ['hostile or impossible field value', () => {
      const at = [...dates.body, ...pathsIn(body)];
      const path = at.length ? rng.pick(at) : [rng.pick(['a', 'from', 'startsAt'])];
      body = setIn(body ?? {}, path, rng.chance(0.5) ? rng.pick(IMPOSSIBLE_DATES) : hostileAt(path));
    }],
    ['wrong content type', () => {
      headers['content-type'] = rng.pick(WRONG_CONTENT_TYPES);
      text = rng.chance(0.5) ? 'a=1&b=2' : toJson(body ?? {});
    }],
    ['hostile query value', () => {
      const name = op.query.length && rng.chance(0.7) ? rng.pick(op.query).name : rng.pick(['q', 'x', '__proto__', 'limit', '%00', 'a%01b']);
      const value = rng.pick(HOSTILE_QUERY_VALUES);
      query = rng.chance(0.3) ? [...query, [name, value], [name, value]] : [...query.filter(([k]) => k !== name), [name, value]];
    }],
    ['malformed cursor', () => {
      const paged = op.query.some((q) => q.name === 'cursor');
      query = [...query, [paged ? 'cursor' : rng.pick(['cursor', 'page', 'after']), rng.pick(hostileCursors(rng))]];
      if (paged) expect = refused('a malformed cursor');
    }],
    ['impossible date', () => {
      if (dates.query.length && (!dates.body.length || rng.chance(0.5))) {
        const name = rng.pick(dates.query);
        query = [...query.filter(([k]) => k !== name), [name, enc(rng.pick(IMPOSSIBLE_DATES))]];
        expect = refused('an impossible date');
      } else if (dates.body.length) {
        body = setIn(body, rng.pick(dates.body), rng.pick(IMPOSSIBLE_DATES));
        expect = refused('an impossible date');
      } else {
        query = [...query, [rng.pick(['date', 'from', 'to']), enc(rng.pick(IMPOSSIBLE_DATES))]];
      }
    }],
    ['control characters in the query', () => {
      const name = op.query.length && rng.chance(0.8) ? rng.pick(op.query).name : rng.pick(['q', 'name']);
      const value = rng.pick(['%00', 'a%00b', '%01', '%1B%5B31m', '%7F', '%0D%0A', '%08', '%C2%85', 'x%00'.repeat(100)]);
      query = [...query.filter(([k]) => k !== name), [name, value]];
      expect = (reply, code) => (reply.status === 400 && code === 'validation_failed' ? undefined : 'control characters in the query not refused with 400 validation_failed');
    }],
    ['hostile path parameter', () => {
      if (op.pathParams.length) params[rng.pick(op.pathParams)] = rng.pick(hostileIds(rng, probeIds));
      else query = [...query, [rng.pick(['id', 'q']), rng.pick(['%00', '%0A', '%1F'])]];
    }],
    ['hostile headers', () => {
      const pick = rng.int(0, 3);
      if (pick === 0) headers.authorization = rng.pick([
        'Bearer', 'Basic YWRtaW46YWRtaW4=', `Bearer ${'x'.repeat(4000)}`, `Bearer fcs_${'A'.repeat(64)}`, `Bearer fcs_${Buffer.alloc(48, 0xff).toString('base64url')}`,
        `Bearer fcs_${Buffer.concat([Buffer.from(probeIds[0]!.replace(/-/g, ''), 'hex'), Buffer.alloc(32)]).toString('base64url')}`, `Bearer ${token ?? ''}x`, `bearer  ${token ?? ''}`,
      ]);
      else if (pick === 1) headers['x-request-id'] = rng.pick(['x'.repeat(1000), 'a b', '<script>', '../..', '\t', 'ok-id-1']);
      else if (pick === 2) headers['idempotency-key'] = rng.pick(['', 'x'.repeat(3000), 'a b', '%00']);
      else headers['x-forwarded-for'] = rng.pick(['127.0.0.1, 10.0.0.1', 'not-an-ip', '::1', 'x'.repeat(2000)]);
    }],
  ];
  const [kind, mutate] = kinds[index % kinds.length]!;
  mutate();
  if (text === undefined && body !== undefined && method !== 'GET') text = toJson(body);
  if (text !== undefined) headers['content-type'] ??= 'application/json';
  return { kind, request: { method, target: target(op, params, query), headers, body: text }, expect };
}

// ---------------------------------------------------------------- judging answers

const STACK_TRACE = /node_modules|at Object\.|\bat (?:async )?[\w$.<>]+ \([^)]*:\d+:\d+\)|\.ts:\d+:\d+|\/work\//;

function problemsWith(reply: RawReply, role: Role, op: Operation, { request, expect }: Case): string[] {
  const found: string[] = [];
  let code: string | undefined;
  if (reply.contentType.startsWith('application/problem+json')) {
    try {
      code = JSON.parse(reply.text).code;
    } catch {
      code = undefined;
    }
  }
  // A 5xx is always a failure, except one the operation documents as its own answer (/readyz's 503
  // when a dependency does not answer in time, which a loaded machine can make happen).
  if (reply.status >= 500 && !op.ownStatuses.includes(reply.status)) found.push(`status ${reply.status}`);
  if (reply.status >= 400 && reply.status < 500) {
    if (!reply.contentType.startsWith('application/problem+json')) found.push(`4xx with content-type "${reply.contentType}"`);
    else if (typeof code !== 'string' || !code) found.push('problem without a code');
  }
  const unmet = expect?.(reply, code);
  if (unmet) found.push(unmet);
  if (STACK_TRACE.test(reply.text)) found.push(`stack trace marker: ${STACK_TRACE.exec(reply.text)![0]}`);
  for (const [name, secret] of Object.entries(tokens)) if (secret && reply.text.includes(secret)) found.push(`${name} token in the answer`);
  if (role !== 'operator') {
    // The operator manages every clinic; clinic users and strangers must never see another one.
    const answer = reply.text.toLowerCase();
    const asked = `${request.target} ${request.body ?? ''} ${Object.values(request.headers).join(' ')}`.toLowerCase();
    for (const c of canaries) if (answer.includes(c.toLowerCase())) found.push(`other clinic's data in the answer: ${c}`);
    // A probe id may come back as an echo of the request (a 404's `instance`), and our own clinic's
    // operation log records what earlier cases asked for; neither tells anything about the other clinic.
    const echoes = (id: string) => asked.includes(id) || request.target.startsWith('/v1/audit-logs');
    for (const id of probeIds) {
      const at = answer.indexOf(id);
      if (at >= 0 && !echoes(id)) found.push(`other clinic's id not asked for: ${probeNames.get(id)} in …${reply.text.slice(Math.max(0, at - 120), at + 40)}…`);
    }
  }
  return found;
}

/** Sessions a case ended (logout, password change) are replaced, so later cases still get past authentication. */
async function keepSessionsAlive(): Promise<void> {
  for (const role of Object.keys(LOGIN_IDS) as Array<keyof typeof LOGIN_IDS>) {
    const me = await call(stack.url, 'GET', '/v1/me', { token: tokens[role] });
    if (me.status === 200) continue;
    const again = await login(stack, { id: own.clinicId!, slug: own.slug! }, LOGIN_IDS[role], STRONG_PASSWORD);
    // An accepted change (a password policy or allowlist a case happened to get right) can make this
    // impossible; then the seed is the thing to look at.
    if (again.status !== 200 || again.body.state !== 'active') throw new Error(`[seed ${SEED}] re-login of ${role}: ${again.status} ${again.text}`);
    tokens[role] = again.body.token;
  }
}

describe('fuzzing every operation in /openapi.json', () => {
  it(`answers every malformed request below 500 with a problem and nothing internal (seed ${SEED})`, async () => {
    const started = Date.now();
    // Both listeners, each with the operations of its own document.
    const operations: Array<Operation & { base: string }> = [];
    for (const base of [stack.url, stack.operatorUrl]) {
      const doc = await call(base, 'GET', '/openapi.json');
      operations.push(...operationsOf(doc.body).map((op) => ({ ...op, base })));
    }
    expect(operations.length).toBeGreaterThan(50);
    console.log(`fuzz: seed ${SEED} (set FUZZ_SEED to change), ${operations.length} operations × ${ROLES.length} roles × ${CASES_PER_OPERATION} cases`);

    const failures: string[] = [];
    const tally = new Map<string, number>();
    const mutations: string[] = [];
    let sent = 0;
    for (const op of operations) {
      await Promise.all(
        ROLES.map(async (role) => {
          const rng = prng(hash32(`${SEED}:${op.operationId}:${role}`));
          for (let i = 0; i < CASES_PER_OPERATION; i++) {
            const fuzzCase = buildCase(op, role, i, rng);
            const { kind, request } = fuzzCase;
            let reply: RawReply;
            try {
              reply = await send(op.base, request);
            } catch (err) {
              reply = { status: 599, contentType: '', text: `no answer: ${(err as Error).message}` };
            }
            sent++;
            const found = problemsWith(reply, role, op, fuzzCase);
            if (found.length) {
              const key = `${kind}: ${found[0]!.replace(/: .*/, '')}`;
              tally.set(key, (tally.get(key) ?? 0) + 1);
              failures.push(`[seed ${SEED}] ${op.operationId} as ${role}, case ${i} (${kind}): ${found.join('; ')}\n    ${asCurl(op.base, request, tokens)}\n    → ${reply.status} ${reply.text.slice(0, 300)}`);
            }
            if (request.method !== 'GET' && reply.status >= 200 && reply.status < 300) mutations.push(`${request.method} ${request.target.slice(0, 80)} as ${role} → ${reply.status}`);
          }
        }),
      );
      await keepSessionsAlive();
    }
    const seconds = (Date.now() - started) / 1000;
    console.log(`fuzz: ${sent} requests in ${seconds.toFixed(1)} s, ${failures.length} failures, ${mutations.length} accepted changes`);
    expect(sent).toBe(operations.length * ROLES.length * CASES_PER_OPERATION);
    if (process.env.FUZZ_REPORT) writeFileSync(process.env.FUZZ_REPORT, [...failures, '', 'Accepted changes:', ...mutations].join('\n'));
    if (failures.length) {
      const summary = [...tally].sort((x, y) => y[1] - x[1]).map(([k, n]) => `  ${n} × ${k}`).join('\n');
      throw new Error(`${failures.length} bad answers (FUZZ_REPORT=<file> writes them all). By kind:\n${summary}\nFirst 40:\n${failures.slice(0, 40).join('\n')}`);
    }
    expect(mutations.length <= MUTATION_BUDGET ? [] : mutations).toEqual([]);
  }, 300_000);
});

