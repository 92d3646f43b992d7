import { z } from 'zod';
import { IDEMPOTENCY_KEY_PATTERN } from './idempotency-key';
import { openApiPath, type AnyRoute } from './route';
import { problemSchema } from './schemas';

/**
 * Problem codes every operation of a kind can answer with, by status. A route adds its own codes
 * in `problems`; together they are the `code` enum documented (and, in the contract test,
 * enforced) for that operation and status.
 */
const COMMON_CODES: Record<number, string[]> = {
  400: ['invalid_json', 'validation_failed'],
  404: ['not_found'],
  413: ['payload_too_large'],
  415: ['unsupported_media_type'],
  // clinic_settings_invalid: the clinic's stored policy or allowlist is corrupt (fail closed, operators alerted).
  503: ['clinic_settings_invalid', 'service_unavailable'],
};
/** The codes a status listed without codes stands for (a route names its specific ones). */
const DEFAULT_CODES: Record<number, string[]> = {
  401: ['unauthorized'],
  403: ['forbidden'],
  409: ['conflict'],
  423: ['account_locked'],
  429: ['rate_limited'],
};
const SESSION_CODES: Record<number, string[]> = {
  401: ['unauthorized'],
  // Session authentication: the clinic is suspended, the address is not on its allowlist, the
  // session is not yet `active` (its state is the code), or the role does not allow the route.
  403: ['tenant_suspended', 'ip_not_allowed', 'password_change_required', 'second_factor_enrollment_required', 'second_factor_required', 'forbidden'],
};
const OPERATOR_CODES: Record<number, string[]> = {
  401: ['unauthorized'],
  // A role the route does not allow, or an operator session still signing in (its state is the code).
  403: ['operator_role_required', 'password_change_required', 'second_factor_enrollment_required', 'second_factor_required'],
};
/**
 * The operator listener: a source outside OPERATOR_ALLOWED_CIDRS is refused on every path, and an
 * operator request whose platform-log entry cannot be written is answered 503 (api/middleware/operator-request-log.ts).
 */
const OPERATOR_LISTENER_CODES: Record<number, string[]> = { 403: ['source_not_allowed'] };
const OPERATOR_LOGGED_CODES: Record<number, string[]> = { 503: ['operation_log_unavailable'] };

/** Which listener a document describes: the clinics' public one or the operators' own (README: Architecture). */
export type Listener = 'public' | 'operator';

const STATUS_TEXT: Record<number, string> = {
  400: 'Malformed request',
  401: 'Missing or invalid credentials',
  403: 'Not allowed for this caller',
  404: 'Not found (also for another clinic\'s ids: existence is never confirmed)',
  409: 'Conflict with the current state',
  413: 'Body too large',
  415: 'Body is not of an accepted media type',
  423: 'Locked',
  429: 'Too many requests; retry after `Retry-After` seconds',
  503: 'A dependency is unavailable; nothing was changed; retry after `Retry-After` seconds',
};

const TAG_TEXT: Record<string, string> = {
  accounts: 'A clinic\'s user accounts (admins only): create, change roles, reset passwords, unlock',
  audit: 'The clinic\'s append-only operation log: search, CSV export, hash-chain verification',
  auth: 'Login, password change, passkeys (second factor), sessions',
  consultations: 'Booking and the consultation lifecycle (face-to-face and online)',
  groups: 'Groups of accounts, for process-area access',
  health: 'Liveness and readiness for load balancers',
  meta: 'This document and development helpers',
  operator: 'Platform operators: sign-in with passkeys, operators and API keys, clinics and their first admins, notices, backups',
  patients: 'The clinic\'s patients (sealed at rest)',
  practitioners: 'Practitioners, their availability and bookable slots',
  processes: 'Process areas: access lists and encrypted files',
  settings: 'Clinic settings: password policy, second factor, network allowlist',
};

/** Where a schema `$ref` points once its `$defs` are hoisted into the document. */
const COMPONENT = '#/components/schemas/';

type Json = Record<string, unknown>;

/**
 * Collects the named schemas (zod `.meta({ id })`) of every route into `components/schemas`, so
 * each is defined once and every `$ref` resolves. Request and response views of the same schema
 * differ when it has defaults or transforms; the request view is then named `<id>Input`.
 */
class SchemaComponents {
  readonly schemas: Record<string, Json> = {};

  convert(schema: z.ZodType, io: 'input' | 'output'): Json {
    const json = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any', reused: 'inline' }) as Json;
    delete json.$schema;
    const defs = (json.$defs ?? {}) as Record<string, Json>;
    delete json.$defs;
    const names: Record<string, string> = {};
    for (const [id, def] of Object.entries(defs)) names[id] = this.nameFor(id, def, io);
    for (const [id, def] of Object.entries(defs)) this.add(names[id]!, rewriteRefs(def, names));
    return rewriteRefs(json, names);
  }

  private nameFor(id: string, def: Json, io: 'input' | 'output'): string {
    if (io === 'output') return id;
    const output = this.schemas[id];
    return output && !sameJson(output, def) ? `${id}Input` : id;
  }

  private add(name: string, def: Json): void {
    const known = this.schemas[name];
    if (known && !sameJson(known, def)) {
      // Two different schemas under one id would make one of them a lie in the document.
      throw new Error(`Two different schemas are named ${name}; give one of them another .meta({ id })`);
    }
    this.schemas[name] = def;
  }
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function rewriteRefs(value: Json, names: Record<string, string>): Json {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (!v || typeof v !== 'object') return v;
    const out: Json = {};
    for (const [k, child] of Object.entries(v as Json)) {
      if (k === '$ref' && typeof child === 'string' && child.startsWith('#/$defs/')) {
        const id = child.slice('#/$defs/'.length);
        out[k] = COMPONENT + (names[id] ?? id);
      } else {
        out[k] = walk(child);
      }
    }
    return out;
  };
  return walk(value) as Json;
}

const PARAMETER_TEXT: Record<string, string> = {
  limit: 'Page size (keyset pagination).',
  cursor: 'Opaque: the `nextCursor` of the previous page, passed back exactly as received. Anything else is `400 invalid_cursor`.',
};

/** The problem codes a route documents, by status (`queryFields`: the names of its query parameters). */
function problemCodes(r: AnyRoute, queryFields: Set<string>, listener: Listener): Map<number, string[]> {
  const codes = new Map<number, Set<string>>();
  const add = (status: number, list: string[] = []) => {
    const set = codes.get(status) ?? new Set<string>();
    for (const c of list) set.add(c);
    codes.set(status, set);
  };
  for (const status of [400, 413, 415, 503]) add(status, COMMON_CODES[status]);
  const auth = r.security === 'session' ? SESSION_CODES : r.security === 'operator' ? OPERATOR_CODES : {};
  const onListener = listener === 'operator' ? { ...OPERATOR_LISTENER_CODES, ...(r.security === 'operator' ? OPERATOR_LOGGED_CODES : {}) } : {};
  for (const [status, list] of [...Object.entries(auth), ...Object.entries(onListener)]) add(Number(status), list);
  // A clinic read-only after its contract ended refuses every session write but the few that stay open (api/route.ts).
  if (r.security === 'session' && r.method !== 'get' && r.openAfterContractEnd !== true) add(403, ['contract_ended']);
  if (r.security === 'operator' && r.notByApiKey) add(403, ['operator_session_required']);
  if (r.security === 'operator' && r.operatorFreshProof) add(403, ['operator_session_required', 'reauthentication_required']);
  if (r.params) add(404, COMMON_CODES[404]);
  if (queryFields.has('cursor')) add(400, ['invalid_cursor']);
  // Every from/to window is checked by one rule (domain/audit-query.ts, domain/availability.ts).
  if (queryFields.has('from') && queryFields.has('to')) add(400, ['invalid_range', 'range_too_large']);
  const own = r.problems ?? {};
  for (const [status, list] of Array.isArray(own) ? own.map((s) => [s, undefined] as const) : Object.entries(own)) {
    const n = Number(status);
    add(n, [...(COMMON_CODES[n] ?? []), ...(list ?? (codes.has(n) || COMMON_CODES[n] ? [] : DEFAULT_CODES[n] ?? []))]);
  }
  return new Map([...codes].sort(([a], [b]) => a - b).map(([s, set]) => [s, [...set].sort()]));
}

/** Bytes of a given type (files) have no JSON schema; JSON and text bodies have theirs. */
function responseContent(spec: AnyRoute['responses'][number], components: SchemaComponents): Record<string, unknown> {
  const types = [spec.contentType ?? 'application/json'].flat();
  const schema = spec.schema ? components.convert(spec.schema, 'output') : { type: 'string', contentMediaType: 'application/octet-stream' };
  return Object.fromEntries(types.map((t) => [t, { schema }]));
}

const requestIdHeader = { $ref: '#/components/headers/XRequestId' };
const retryAfterHeader = { $ref: '#/components/headers/RetryAfter' };

const OPERATOR_TOKEN_SCHEME = {
  type: 'http',
  scheme: 'bearer',
  description:
    'For `/v1/operator/*` only: an operator session token (`fcos_…`, from `POST /v1/operator/auth/login` and its passkey step), ' +
    'an API key (`fcop_…`) created by a platform admin, or the break-glass token (`OPERATOR_TOKEN`, when enabled; every use is logged and mailed).',
};

/** Builds the OpenAPI 3.1 document from the same route declarations that serve the requests. */
export function buildOpenApi(routes: AnyRoute[], info: { version: string; listener: Listener }) {
  const components = new SchemaComponents();
  components.convert(problemSchema, 'output');
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const parameters: unknown[] = [];
    const queryFields = new Set<string>();
    const addParams = (schema: z.ZodType | undefined, where: 'path' | 'query') => {
      if (!schema) return;
      const json = components.convert(schema, 'input') as { properties?: Record<string, Json>; required?: string[] };
      for (const [name, s] of Object.entries(json.properties ?? {})) {
        const description = (s.description as string | undefined) ?? (where === 'query' ? PARAMETER_TEXT[name] : undefined);
        if (where === 'query') queryFields.add(name);
        parameters.push({ name, in: where, required: where === 'path' || (json.required ?? []).includes(name), ...(description ? { description } : {}), schema: s });
      }
    };
    addParams(r.params, 'path');
    addParams(r.query, 'query');
    if (r.idempotencyKey) {
      parameters.push({ $ref: `#/components/parameters/${r.idempotencyKey === 'optional' ? 'OptionalIdempotencyKey' : 'IdempotencyKey'}` });
    }
    const responses: Record<string, unknown> = {};
    for (const [status, spec] of Object.entries(r.responses)) {
      responses[status] = {
        description: spec.description,
        headers: { 'X-Request-Id': requestIdHeader },
        ...(spec.schema || spec.contentType ? { content: responseContent(spec, components) } : {}),
      };
    }
    for (const [status, codes] of problemCodes(r, queryFields, info.listener)) {
      if (responses[String(status)]) continue;
      responses[String(status)] = {
        description: `${STATUS_TEXT[status] ?? 'Error'}: ${codes.map((c) => `\`${c}\``).join(', ')}`,
        headers: { 'X-Request-Id': requestIdHeader, ...(status === 429 || status === 503 ? { 'Retry-After': retryAfterHeader } : {}) },
        content: {
          'application/problem+json': {
            schema: { allOf: [{ $ref: `${COMPONENT}Problem` }, { type: 'object', properties: { code: { type: 'string', enum: codes } } }] },
          },
        },
      };
    }
    const body = r.body
      ? { required: true, content: { 'application/json': { schema: components.convert(r.body, 'input'), ...(r.bodyExample !== undefined ? { example: r.bodyExample } : {}) } } }
      : r.upload
        ? { required: true, description: 'The raw bytes of the file, with its media type as Content-Type', content: { '*/*': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } }
        : undefined;
    (paths[openApiPath(r.path)] ??= {})[r.method] = {
      operationId: r.operationId,
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      tags: r.tags,
      security: r.security === 'operator' ? [{ operatorToken: [] }] : r.security === 'session' ? [{ clinicSession: [] }] : [],
      ...(parameters.length ? { parameters } : {}),
      ...(body ? { requestBody: body } : {}),
      responses,
    };
  }
  const tags = [...new Set(routes.flatMap((r) => r.tags))].sort().map((name) => ({ name, description: TAG_TEXT[name] ?? `Operations on ${name}` }));
  return {
    openapi: '3.1.0',
    info: {
      title: info.listener === 'operator' ? 'FOR CLINIC operator API' : 'FOR CLINIC API',
      version: info.version,
      description:
        (info.listener === 'operator'
          ? 'The platform operators\' API, served only on the operator listener (OPERATOR_PORT, never public). Every authenticated request is written to the platform operation log. '
          : 'Backend API for clinics. ') +
        'All timestamps are UTC (ISO 8601). Errors are application/problem+json with a stable `code`; ' +
        'each operation lists the codes it can answer with. Every response carries `X-Request-Id`. ' +
        'Lists use keyset pagination: `?limit=&cursor=`, answered with `{ items, nextCursor }`.',
      license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
    },
    servers: [{ url: '/' }],
    security: [],
    tags,
    paths,
    components: {
      securitySchemes: info.listener === 'operator' ? { operatorToken: OPERATOR_TOKEN_SCHEME } : {
        clinicSession: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A clinic user\'s session token: the opaque `token` answered by `POST /v1/auth/login` (a new one after the second factor). ' +
            'Sessions expire when idle and absolutely per the clinic\'s policy; the clinic\'s network allowlist applies.',
        },
      },
      // Only what this document's operations refer to (linters flag unused components).
      parameters: {
        ...(!routes.some((r) => r.idempotencyKey === true) ? {} : {
          IdempotencyKey: {
            name: 'Idempotency-Key',
            in: 'header',
            required: true,
            description: 'Chosen by the client, 8–128 characters of `A-Z a-z 0-9 . _ : -`. A repeat with the same key and body answers the first result; the same key with another body is `409 idempotency_key_reused`.',
            schema: { type: 'string', pattern: IDEMPOTENCY_KEY_PATTERN },
          },
        }),
        ...(!routes.some((r) => r.idempotencyKey === 'optional') ? {} : {
          OptionalIdempotencyKey: {
            name: 'Idempotency-Key',
            in: 'header',
            required: false,
            description: 'Send one to make a retry safe: 8–128 characters of `A-Z a-z 0-9 . _ : -`, chosen by the client, naming this one action on this one resource. A repeat with the same key and body answers the first result instead of acting again (a repeated consultation action is not refused as `invalid_transition`); the same key with another body or action is `409 idempotency_key_reused`. A request that was refused did nothing: sent again with its key, it acts if the action is allowed by then.',
            schema: { type: 'string', pattern: IDEMPOTENCY_KEY_PATTERN },
          },
        }),
      },
      headers: {
        XRequestId: {
          description: 'The request\'s id: the caller\'s `X-Request-Id` when it is at most 64 characters of `A-Z a-z 0-9 . _ -`, else a fresh one. Quote it when asking for support.',
          required: true,
          schema: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
        },
        RetryAfter: {
          description: 'Seconds to wait before retrying',
          required: true,
          schema: { type: 'string', pattern: '^[0-9]+$' },
        },
      },
      schemas: components.schemas,
    },
  };
}
