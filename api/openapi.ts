import { z } from 'zod';
import { openApiPath, type AnyRoute } from './route';
import { problemSchema } from './schemas';

const COMMON_PROBLEMS: Record<number, string> = {
  400: 'Malformed request (`invalid_json`, `validation_failed` with `errors` per field, ...)',
  401: 'Missing or invalid credentials (`unauthorized`)',
  404: 'Not found (`not_found`)',
  409: 'Conflict with the current state (see `code`)',
  413: 'Body too large (`payload_too_large`)',
  415: 'Body is not JSON (`unsupported_media_type`)',
  503: 'A dependency is unavailable; nothing was changed (`service_unavailable`)',
};

const toSchema = (schema: z.ZodType, io: 'input' | 'output') =>
  z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any', reused: 'inline' });

/** Builds the OpenAPI 3.1 document from the same route declarations that serve the requests. */
export function buildOpenApi(routes: AnyRoute[], info: { version: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const parameters: unknown[] = [];
    const addParams = (schema: z.ZodType | undefined, where: 'path' | 'query') => {
      if (!schema) return;
      const json = toSchema(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, s] of Object.entries(json.properties ?? {})) {
        parameters.push({ name, in: where, required: where === 'path' || (json.required ?? []).includes(name), schema: s });
      }
    };
    addParams(r.params, 'path');
    addParams(r.query, 'query');
    const responses: Record<string, unknown> = {};
    for (const [status, spec] of Object.entries(r.responses)) {
      responses[status] = {
        description: spec.description,
        ...(spec.schema ? { content: { [spec.contentType ?? 'application/json']: { schema: toSchema(spec.schema, 'output') } } } : {}),
      };
    }
    const problemStatuses = new Set<number>([...(r.problems ?? []), 400, 413, 415]);
    if (r.security !== 'none') problemStatuses.add(401);
    if (r.params) problemStatuses.add(404);
    for (const status of problemStatuses) {
      responses[String(status)] ??= {
        description: COMMON_PROBLEMS[status] ?? 'Error',
        content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
      };
    }
    (paths[openApiPath(r.path)] ??= {})[r.method] = {
      operationId: r.operationId,
      summary: r.summary,
      tags: r.tags,
      security: r.security === 'operator' ? [{ operatorToken: [] }] : [],
      ...(parameters.length ? { parameters } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: toSchema(r.body, 'input') } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'FOR CLINIC API',
      version: info.version,
      description:
        'Backend API for clinics. All timestamps are UTC (ISO 8601). Errors are application/problem+json with a stable `code`. Every response carries `X-Request-Id`.',
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      securitySchemes: { operatorToken: { type: 'http', scheme: 'bearer', description: 'OPERATOR_TOKEN' } },
      schemas: { Problem: toSchema(problemSchema, 'output') },
    },
  };
}
