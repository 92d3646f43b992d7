/**
 * Errors that reach a client. Thrown anywhere (routes, domain rules) and turned into an
 * RFC 9457 application/problem+json response in exactly one place: api/middleware/problem-handler.ts.
 * `code` is the stable, machine-readable contract with the clinics' front ends.
 */
export interface FieldError {
  field: string;
  message: string;
}

export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail?: string,
    readonly extra: Record<string, unknown> = {},
    /** Response headers that belong to the answer (e.g. Retry-After). */
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? title);
    this.name = 'Problem';
  }
}

export const badRequest = (code: string, detail: string, extra?: Record<string, unknown>) =>
  new Problem(400, code, 'Bad Request', detail, extra);

export const validationFailed = (errors: FieldError[]) =>
  new Problem(400, 'validation_failed', 'Validation failed', 'The request has invalid fields.', { errors });

export const invalidCursor = () => badRequest('invalid_cursor', 'The cursor is malformed. Pass back a nextCursor exactly as received.');

export const invalidJson = (detail = 'The request body is not valid JSON.') =>
  new Problem(400, 'invalid_json', 'Invalid JSON', detail);

export const unauthorized = (detail = 'Missing or invalid credentials.') =>
  new Problem(401, 'unauthorized', 'Unauthorized', detail);

export const forbidden = (code: string, detail: string) => new Problem(403, code, 'Forbidden', detail);

/** Any request of a suspended clinic's users (and a write that finds it suspended where it commits). */
export const tenantSuspended = () => forbidden('tenant_suspended', 'This clinic\'s service is suspended.');

/** A write while the clinic is read-only after its contract's end (README: Contract end). */
export const contractEnded = () =>
  forbidden('contract_ended', 'This clinic\'s contract has ended: its data can be read and exported, not changed (access can still be taken away).');

export const notFound = (detail = 'The resource does not exist.') =>
  new Problem(404, 'not_found', 'Not Found', detail);

export const methodNotAllowed = (allowed: string[]) =>
  new Problem(405, 'method_not_allowed', 'Method Not Allowed', `Allowed: ${allowed.join(', ')}`);

export const conflict = (code: string, detail: string) => new Problem(409, code, 'Conflict', detail);

export const gone = (code: string, detail: string) => new Problem(410, code, 'Gone', detail);

export const payloadTooLarge = (limit: number) =>
  new Problem(413, 'payload_too_large', 'Payload Too Large', `The request body exceeds ${limit} bytes.`);

export const unsupportedMediaType = (detail = 'Send the body as application/json.') =>
  new Problem(415, 'unsupported_media_type', 'Unsupported Media Type', detail);

export const tooManyRequests = (code: string, detail: string, retryAfterSeconds: number) =>
  new Problem(429, code, 'Too Many Requests', detail, {}, { 'Retry-After': String(retryAfterSeconds) });

export const serviceUnavailable = (detail: string) =>
  new Problem(503, 'service_unavailable', 'Service Unavailable', detail);
