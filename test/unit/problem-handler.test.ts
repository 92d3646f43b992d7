import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { problemHandler } from '../../api/middleware/problem-handler';
import { nestingExceeds } from '../../api/middleware/json-body';
import type { AppState } from '../../api/state';

/** The one error mapper, for failures no route should be able to produce on purpose. */
async function answerTo(failure: unknown) {
  const app = new Koa<AppState>();
  app.use(problemHandler());
  app.use(() => {
    throw failure;
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/anything`, { method: 'POST' });
    return { status: res.status, type: res.headers.get('content-type'), retryAfter: res.headers.get('retry-after'), text: await res.text() };
  } finally {
    server.close();
  }
}

describe('the problem handler', () => {
  it('answers a unique violation no use case mapped with 409 conflict, naming neither the constraint nor the values', async () => {
    // What pg raises (objection wraps it the same way, with nativeError).
    const pgError = Object.assign(new Error('duplicate key value violates unique constraint "accounts_email_key"'), {
      code: '23505',
      constraint: 'accounts_email_key',
      detail: 'Key (email)=(hanako@clinic.example) already exists.',
    });
    for (const failure of [pgError, Object.assign(new Error('UniqueViolationError'), { nativeError: pgError })]) {
      const reply = await answerTo(failure);
      expect([reply.status, reply.type, JSON.parse(reply.text).code]).toEqual([409, 'application/problem+json', 'conflict']);
      expect(reply.text).not.toMatch(/accounts_email_key|hanako|duplicate key/);
    }
  });

  it('answers a transaction PostgreSQL failed to break a deadlock (or a serialization conflict) with 503 and Retry-After, not 500', async () => {
    for (const code of ['40P01', '40001']) {
      const pgError = Object.assign(new Error('deadlock detected'), { code });
      for (const failure of [pgError, Object.assign(new Error('DBError'), { nativeError: pgError })]) {
        const reply = await answerTo(failure);
        expect([code, reply.status, reply.type, JSON.parse(reply.text).code, reply.retryAfter]).toEqual([code, 503, 'application/problem+json', 'service_unavailable', '1']);
        expect(reply.text).not.toMatch(/deadlock detected/);
      }
    }
  });

  it('still answers anything else unexpected with an opaque 500', async () => {
    const reply = await answerTo(Object.assign(new Error('relation "x" does not exist'), { code: '42P01' }));
    expect([reply.status, JSON.parse(reply.text).code]).toEqual([500, 'internal_error']);
    expect(reply.text).not.toContain('relation');
  });
});

describe('JSON nesting depth', () => {
  it('counts arrays and objects, not brackets inside strings', () => {
    expect(nestingExceeds('[[[]]]', 3)).toBe(false);
    expect(nestingExceeds('[[[[]]]]', 3)).toBe(true);
    expect(nestingExceeds('{"a":{"b":[1]}}', 3)).toBe(false);
    expect(nestingExceeds('{"a":{"b":[{}]}}', 3)).toBe(true);
    expect(nestingExceeds(JSON.stringify({ a: '[[[[{{{{' }), 1)).toBe(false);
    expect(nestingExceeds(JSON.stringify({ a: 'quote \\" then [[[[' }), 1)).toBe(false);
    expect(nestingExceeds(`[${'1,'.repeat(10_000)}1]`, 1)).toBe(false);
  });
});
