import { appendFileSync } from 'node:fs';
import { Contract } from './contract';

/**
 * The contract test (jest `setupFiles` of the integration project): every response our API
 * gives a test through fetch — status, documented headers, JSON body — is checked against the
 * operation in that server's own /openapi.json. A response the document does not promise makes
 * the fetch reject, so the test that received it fails and names the difference. Responses from
 * other servers (SES, KMS, S3) carry no X-Request-Id and pass through untouched. Bodies that are
 * not JSON (CSV, files) are never read here, so streaming and back-pressure tests keep their
 * meaning. CONTRACT_CHECK=off turns it off; CONTRACT_REPORT=<file> lists the differences there
 * instead of failing (to survey a whole run).
 */
const realFetch = globalThis.fetch;
const contracts = new Map<string, Promise<Contract | undefined>>();

function contractOf(origin: string): Promise<Contract | undefined> {
  let c = contracts.get(origin);
  if (!c) {
    c = realFetch(`${origin}/openapi.json`)
      .then(async (res) => (res.ok ? new Contract((await res.json()) as ConstructorParameters<typeof Contract>[0]) : undefined))
      .catch(() => undefined);
    contracts.set(origin, c);
  }
  return c;
}

export class ContractViolation extends Error {
  override name = 'ContractViolation';
}

if (process.env.CONTRACT_CHECK !== 'off') {
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const res = await realFetch(input, init);
    if (!res.headers.has('x-request-id')) return res;
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.pathname === '/openapi.json') return res;
    const contract = await contractOf(url.origin);
    if (!contract) return res;
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    const json = type === 'application/json' || type.endsWith('+json');
    const text = json || res.status === 204 ? await res.clone().text() : undefined;
    const reasons = contract.check({ method, path: url.pathname, status: res.status, headers: res.headers, text });
    if (reasons.length && process.env.CONTRACT_REPORT) {
      // Survey mode: collect every difference of a whole run in one file instead of failing.
      appendFileSync(process.env.CONTRACT_REPORT, `${JSON.stringify({ method, path: url.pathname, status: res.status, reasons, body: (text ?? '').slice(0, 300) })}\n`);
    } else if (reasons.length) {
      throw new ContractViolation(
        `${method} ${url.pathname} answered ${res.status} outside /openapi.json:\n  - ${reasons.join('\n  - ')}\n  body: ${(text ?? '').slice(0, 500)}`,
      );
    }
    return res;
  };
}
