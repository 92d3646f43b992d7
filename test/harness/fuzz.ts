import http from 'node:http';

/**
 * The pieces of the API fuzz test (test/api/fuzz.test.ts): a seeded PRNG, a sampler that turns
 * the OpenAPI document's JSON Schemas into plausible requests, the hostile values those requests
 * are mutated with, and a raw HTTP client (fetch refuses TRACE and friends).
 */

// ---------------------------------------------------------------- PRNG

/** mulberry32: tiny, fast, and the same sequence for the same seed on every machine. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    chance: (p: number) => next() < p,
    /** A version-4 UUID from this stream (reproducible, unlike crypto.randomUUID). */
    uuid: () => {
      const hex = Array.from({ length: 32 }, () => Math.floor(next() * 16).toString(16)).join('');
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${'89ab'[Math.floor(next() * 4)]}${hex.slice(17, 20)}-${hex.slice(20)}`;
    },
  };
}
export type Rng = ReturnType<typeof prng>;

/** A stable 32-bit hash (FNV-1a), so each operation gets its own stream from the one seed. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

// ---------------------------------------------------------------- OpenAPI walking

export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
}

export interface Operation {
  method: string;
  /** OpenAPI path, e.g. /v1/patients/{id} */
  path: string;
  operationId: string;
  /** Methods documented for the same path (upper case). */
  pathMethods: string[];
  pathParams: string[];
  query: Array<{ name: string; required: boolean; schema: JsonSchema }>;
  body?: JsonSchema;
  /** Statuses the operation documents as answers of its own (not problems), e.g. /readyz's 503. */
  ownStatuses: number[];
}

export function operationsOf(doc: { paths: Record<string, Record<string, any>> }): Operation[] {
  const out: Operation[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    const pathMethods = Object.keys(ops).map((m) => m.toUpperCase());
    for (const [method, op] of Object.entries(ops)) {
      const params = (op.parameters ?? []) as Array<{ name: string; in: string; required: boolean; schema: JsonSchema }>;
      out.push({
        method: method.toUpperCase(),
        path,
        operationId: op.operationId,
        pathMethods,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        query: params.filter((p) => p.in === 'query').map(({ name, required, schema }) => ({ name, required, schema })),
        body: op.requestBody?.content?.['application/json']?.schema,
        ownStatuses: Object.entries((op.responses ?? {}) as Record<string, { content?: Record<string, unknown> }>)
          .filter(([, r]) => r.content && !r.content['application/problem+json'])
          .map(([status]) => Number(status)),
      });
    }
  }
  return out;
}

/** A clinic's rows by resource, as path parameters name them. */
export type ClinicRows = Partial<Record<'tenants' | 'accounts' | 'groups' | 'processes' | 'files' | 'patients' | 'practitioners' | 'consultations', string>>;

/**
 * The row of `rows` a path parameter names: by its own name (`tenantId`, `fileId`, `accountId`),
 * else by the resource before it (`/v1/patients/{id}` → patients); undefined for anything else.
 */
export function rowIdFor(path: string, param: string, rows: ClinicRows): string | undefined {
  const byName: Record<string, keyof ClinicRows> = { tenantId: 'tenants', fileId: 'files', accountId: 'accounts' };
  const segments = path.split('/');
  const resource = byName[param] ?? segments[segments.indexOf(`{${param}}`) - 1];
  return rows[resource as keyof ClinicRows];
}

const isDateField = (name: string, s: JsonSchema) => s.format === 'date' || s.format === 'date-time' || /date|At$|^from$|^to$/i.test(name);

/** A plausible value for a schema: the base that each fuzz case then breaks in one place. */
export function sample(schema: JsonSchema | undefined, rng: Rng, name = ''): unknown {
  if (!schema) return null;
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return rng.pick(schema.enum);
  const union = schema.anyOf ?? schema.oneOf;
  if (union) return sample(union.find((s) => s.type !== 'null') ?? union[0], rng, name);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, s] of Object.entries(schema.properties ?? {})) {
        if ((schema.required ?? []).includes(key) || rng.chance(0.5)) out[key] = sample(s, rng, key);
      }
      if (!schema.properties && schema.additionalProperties) out.q1 = 'answer';
      return out;
    }
    case 'array':
      return Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => sample(schema.items, rng, name));
    case 'integer':
    case 'number':
      return schema.minimum ?? (schema.maximum !== undefined ? Math.min(schema.maximum, 1) : 1);
    case 'boolean':
      return false;
    case 'string':
      if (schema.format === 'uuid' || /Id$|^id$/.test(name)) return rng.uuid();
      if (schema.format === 'email' || /email/i.test(name)) return 'fuzz@example.jp';
      if (schema.format === 'date' || /date/i.test(name)) return '2026-12-01';
      if (schema.format === 'date-time' || /At$|^from$|^to$/.test(name)) return '2026-12-01T09:00:00+09:00';
      if (/time/i.test(name)) return '09:00';
      return 'fuzz'.padEnd(Math.max(4, schema.minLength ?? 0), 'z').slice(0, schema.maxLength ?? 64);
    default:
      return 'fuzz';
  }
}

/** Every path (as keys) to a value inside `value`, the root excluded. */
export function pathsIn(value: unknown, prefix: string[] = []): string[][] {
  if (Array.isArray(value)) return value.flatMap((v, i) => [[...prefix, String(i)], ...pathsIn(v, [...prefix, String(i)])]);
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => [[...prefix, k], ...pathsIn(v, [...prefix, k])]);
  }
  return [];
}

export function setIn(value: unknown, path: string[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path;
  if (Array.isArray(value)) return value.map((v, i) => (String(i) === head ? setIn(v, rest, replacement) : v));
  const obj = { ...(value as Record<string, unknown>) };
  obj[head!] = setIn(obj[head!], rest, replacement);
  return obj;
}

export function dateFieldsOf(op: Operation): { query: string[]; body: string[][] } {
  const query = op.query.filter((q) => isDateField(q.name, q.schema)).map((q) => q.name);
  const body: string[][] = [];
  const walk = (s: JsonSchema | undefined, at: string[]) => {
    if (!s) return;
    for (const [k, p] of Object.entries(s.properties ?? {})) {
      if (isDateField(k, p) && (p.type === 'string' || p.format)) body.push([...at, k]);
      walk(p, [...at, k]);
      if (p.items) walk(p.items, [...at, k, '0']);
    }
  };
  walk(op.body, []);
  return { query, body };
}

// ---------------------------------------------------------------- hostile values

/** Marks a JSON value written verbatim (numbers JSON.stringify cannot produce, a literal __proto__ key). */
export const RAW = (text: string) => ({ __raw: text });
export function toJson(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_k, v) => (v && typeof v === 'object' && '__raw' in v ? `__RAW_${raws.push((v as { __raw: string }).__raw) - 1}__` : v));
  return text.replace(/"__RAW_(\d+)__"/g, (_m, i: string) => raws[Number(i)]!);
}

export const IMPOSSIBLE_DATES = [
  '2026-02-30', '2026-02-29', '2026-04-31', '2026-13-01', '2026-00-10', '0000-01-01', '9999-12-31', '1899-12-31', '+275760-09-13',
  '2026-02-30T10:00:00Z', '2026-02-30T10:00:00+09:00', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2026-12-01T25:00:00Z',
  '2026-12-01T09:00:00', '2026-12-01T24:00:00Z', '+275760-09-13T00:00:00Z', '-000001-01-01T00:00:00Z', '2026-12-01T09:00:00+25:00',
  'tomorrow', '1', '1e400', '',
];

export function hostileJsonValues(): unknown[] {
  return [
    null, true, false, 0, -1, 1.5, -0, 1e308, -1e308, 2 ** 53 + 1, 2 ** 31, 2 ** 63, 5e-324,
    RAW('1e400'), RAW('-1e400'), RAW('123456789012345678901234567890'), RAW('0.1e-99999'),
    '', ' ', 'a'.repeat(70_000), '\u0000', 'a\u0000b', '\u0001\u001f\u007f', '\u202e\u200b', '\ud800', '\udfff',
    '𠮷'.repeat(500), "' OR 1=1 --", '"; DROP TABLE tenants; --', '<script>alert(1)</script>', '../../etc/passwd',
    '${jndi:ldap://x/a}', '%00', '{{7*7}}', 'NaN', 'Infinity', '-0', '00000000-0000-0000-0000-000000000000',
    'ffffffff-ffff-ffff-ffff-ffffffffffff', 'AAAAAAAA-AAAA-4AAA-8AAA-AAAAAAAAAAAA', ...IMPOSSIBLE_DATES,
    [], {}, [[]], { a: { b: {} } }, Array.from({ length: 3000 }, (_, i) => i), Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i])),
    RAW('{"__proto__":{"admin":true}}'), { constructor: { prototype: { admin: true } } },
  ];
}

/** Query values, already percent-encoded as they travel. */
export const HOSTILE_QUERY_VALUES = [
  '%00', 'a%00b', '%01', '%1F', '%7F', '%0D%0ASet-Cookie:%20x=1', '%09', '%ZZ', '%E0%A4%A', '%C0%AF', '%FF%FE', '%ED%A0%80',
  'x'.repeat(4000), '-1', '0', '1e400', '0x10', 'NaN', 'Infinity', '1.5', '99999999999999999999', '%20', '',
  "'%20OR%201=1--", '%3Cscript%3E', ...IMPOSSIBLE_DATES.map(encodeURIComponent),
];

export function hostileCursors(rng: Rng): string[] {
  const b64 = (s: string) => Buffer.from(s).toString('base64url');
  const keyset = (ts: string, id = rng.uuid()) => b64(JSON.stringify([ts, id]));
  return [
    '%%%', '%00', 'x'.repeat(4000), b64('null'), b64('[]'), b64('{}'), b64('"x"'), b64('[null,null]'), b64('\u0000'), b64('a'.repeat(3000)),
    keyset('1'), keyset('12'), keyset('now'), keyset('2026-02-30T00:00:00.000000Z'), keyset('2026-13-01T00:00:00.000000Z'),
    keyset('0000-01-01T00:00:00.000000Z'), keyset('0000-12-31T23:59:59Z'), keyset('9999-12-31T23:59:59.999999Z'),
    keyset('+275760-09-13T00:00:00.000Z'), keyset('-271821-04-20T00:00:00.000Z'), keyset('2026-01-01T24:00:00Z'),
    keyset('2026-01-01 00:00:00 BC'), keyset('2026-01-01T00:00:00.000000Z', 'not-a-uuid'), keyset('2026-01-01T00:00:00.000000Z', `${rng.uuid()}\u0000`),
    b64('s:99999999999999999999'), b64('s:-1'), b64('s:1e9'), b64('s:0'), b64('not-a-uuid'),
  ];
}

/** Path segments, percent-encoded. */
export function hostileIds(rng: Rng, foreignIds: string[]): string[] {
  return [
    '%00', 'abc', '..%2F..%2Fetc%2Fpasswd', '1', '-1', '0', "'%20OR%201=1--", 'x'.repeat(2000), '00000000-0000-0000-0000-00000000000g',
    rng.uuid().toUpperCase(), `${rng.uuid()}%00`, `${rng.uuid()}x`, '%E0%A4%A', '%FF', 'null', 'undefined', '__proto__',
    'constructor', '%20', '%0A', rng.uuid(), '00000000-0000-0000-0000-000000000000', ...foreignIds,
  ];
}

export const WRONG_METHODS = [
  'TRACE', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'SEARCH', 'PURGE', 'REPORT', 'MKCALENDAR',
  'M-SEARCH', 'NOTIFY', 'SUBSCRIBE', 'UNSUBSCRIBE', 'LINK', 'UNLINK', 'BIND', 'REBIND', 'UNBIND', 'ACL', 'CHECKOUT', 'MERGE',
  'MKACTIVITY', 'SOURCE', 'QUERY', 'GET', 'POST', 'PUT', 'PATCH', 'DELETE',
];

export const BROKEN_JSON = [
  '{', '{"a":', '{"a":1,}', "{'a':1}", '[1,2', 'NaN', 'undefined', '{"a":1}{"b":2}', '\uFEFF{"a":1}', '{"a":"\\x41"}',
  '{"a":"\\ud800"}', '"unterminated', '{"a":01}', '{"__proto__":', 'nul', '\u0000', '{"a":1e}', '[' + ','.repeat(100) + ']',
];

export const WRONG_CONTENT_TYPES = [
  'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'text/html',
  'application/octet-stream', 'image/png', 'application/jsonx', 'json', '*/*',
];

export function deepJson(rng: Rng): string {
  const depth = rng.pick([33, 64, 3_000, 20_000, 60_000]);
  return rng.chance(0.5) ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

// ---------------------------------------------------------------- raw HTTP

export interface RawRequest {
  method: string;
  /** Path and query, percent-encoded as sent. */
  target: string;
  headers: Record<string, string>;
  body?: string;
}

export interface RawReply {
  status: number;
  contentType: string;
  allow?: string;
  text: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

export function send(baseUrl: string, req: RawRequest, timeoutMs = 30_000): Promise<RawReply> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const body = req.body === undefined ? undefined : Buffer.from(req.body, 'utf8');
    const r = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: req.target,
        headers: { ...req.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            allow: res.headers.allow,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    r.on('error', reject);
    r.end(body);
  });
}

export const closeFuzzAgent = () => agent.destroy();

/** A request as a copy-pasteable curl command, for the failure report; `secrets` are shown by name only. */
export function asCurl(baseUrl: string, req: RawRequest, secrets: Record<string, string | undefined> = {}): string {
  const hide = (v: string) => Object.entries(secrets).reduce((out, [name, secret]) => (secret ? out.split(secret).join(`<${name} token>`) : out), v);
  const headers = Object.entries(req.headers).map(([k, v]) => `-H ${JSON.stringify(`${k}: ${hide(v)}`)}`);
  const body = req.body === undefined ? '' : ` --data-binary ${JSON.stringify(req.body.length > 300 ? `${req.body.slice(0, 300)}…(${req.body.length} chars)` : req.body)}`;
  return `curl -X ${req.method} ${JSON.stringify(baseUrl + (req.target.length > 300 ? `${req.target.slice(0, 300)}…` : req.target))} ${headers.join(' ')}${body}`;
}
