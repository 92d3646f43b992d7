import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/**
 * The contract test's judge: given /openapi.json, says whether one response (status, headers,
 * body) is one the document promises for that request. test/harness/contract-setup.ts applies it
 * to every response of our API that a test receives through fetch.
 */
export interface ObservedResponse {
  method: string;
  path: string;
  status: number;
  headers: Headers;
  /** The body text, when it is JSON (other bodies, e.g. streamed files, are not read). */
  text?: string;
}

interface Operation {
  path: string;
  method: string;
  pattern: RegExp;
  op: {
    responses: Record<string, { headers?: Record<string, { $ref?: string; required?: boolean; schema?: unknown }>; content?: Record<string, unknown> }>;
  };
}

export type Doc = {
  paths: Record<string, Record<string, Operation['op']>>;
  components: { headers?: Record<string, { required?: boolean; schema: unknown }> };
};

const DOC_ID = 'https://for-clinic.invalid/openapi.json';
const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
const mediaType = (header: string | null) => (header ?? '').split(';')[0]!.trim().toLowerCase();
const isJson = (type: string) => type === 'application/json' || type.endsWith('+json');

export class Contract {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly operations: Operation[] = [];
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(private readonly doc: Doc) {
    addFormats(this.ajv);
    this.ajv.addSchema({ ...(doc as object), $id: DOC_ID });
    for (const [path, methods] of Object.entries(doc.paths)) {
      // Path templates match one segment per parameter, as the router does.
      const pattern = new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`);
      for (const [method, op] of Object.entries(methods)) this.operations.push({ path, method, pattern, op });
    }
  }

  /** The reasons this response breaks the contract; empty when it keeps it. */
  check(r: ObservedResponse): string[] {
    const method = r.method.toLowerCase() === 'head' ? 'get' : r.method.toLowerCase();
    const candidates = this.operations.filter((o) => o.pattern.test(r.path));
    const found = candidates.find((o) => o.method === method);
    if (!found) {
      // No such operation (an unknown path, or a method the path does not offer): an error, as a problem.
      if (r.status < 400) return r.method === 'OPTIONS' ? [] : [`${r.status} for a request no operation describes`];
      return this.checkBody(r, `#/components/schemas/Problem`, 'application/problem+json');
    }
    const spec = found.op.responses[String(r.status)] ?? found.op.responses.default;
    if (!spec) return [`status ${r.status} is not documented (documented: ${Object.keys(found.op.responses).join(', ')})`];
    const problems: string[] = [];
    for (const [name, h] of Object.entries(spec.headers ?? {})) {
      const header = h.$ref ? this.doc.components.headers?.[h.$ref.split('/').pop()!] : h;
      if (!header) continue;
      const value = r.headers.get(name);
      if (value === null) {
        if (header.required) problems.push(`header ${name} is missing`);
        continue;
      }
      const validate = this.ajv.compile(header.schema as object);
      if (!validate(value)) problems.push(`header ${name}: ${this.ajv.errorsText(validate.errors)}`);
    }
    const type = mediaType(r.headers.get('content-type'));
    const content = spec.content;
    if (!content) {
      if (r.text && r.method !== 'HEAD') problems.push(`a body (${type}) where none is documented`);
      return problems;
    }
    const documented = Object.keys(content).find((t) => t === type || t === '*/*');
    if (!documented) return [...problems, `content type ${type || '(none)'} is not one of ${Object.keys(content).join(', ')}`];
    if (r.method === 'HEAD' || !isJson(type)) return problems;
    const at = `#/${pointer('paths', found.path, found.method, 'responses', String(r.status), 'content', documented, 'schema')}`;
    return [...problems, ...this.checkBody(r, at, documented)];
  }

  private checkBody(r: ObservedResponse, at: string, type: string): string[] {
    if (mediaType(r.headers.get('content-type')) !== type) return [`content type ${r.headers.get('content-type')} instead of ${type}`];
    let body: unknown;
    try {
      body = JSON.parse(r.text ?? '');
    } catch {
      return ['the body is not JSON'];
    }
    let validate = this.validators.get(at);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `${DOC_ID}${at}` });
      this.validators.set(at, validate);
    }
    if (validate(body)) return [];
    return (validate.errors ?? []).map((e) => `body${e.instancePath}: ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}${e.params && 'allowedValues' in e.params ? ` (got ${JSON.stringify(pick(body, e.instancePath))})` : ''}`);
  }
}

function pick(value: unknown, instancePath: string): unknown {
  let v = value;
  for (const part of instancePath.split('/').slice(1)) v = (v as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  return v;
}
