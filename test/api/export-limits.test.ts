import http from 'node:http';
import { call } from '../harness/http';
import { clinicWithAdmin, eventually } from '../harness/clinic';
import { startTestStack, type TestStack } from '../harness/stack';

/**
 * One clinic's slow downloads must not take the service down: exports run in bounded slots (one
 * per clinic, EXPORT_CONCURRENCY per process), the excess is refused with 429 and Retry-After,
 * and other clinics keep working while every slot is held by readers that read nothing.
 */
// 25,000 chained log entries, two clinics and a dozen stalled downloads: 43 s in a fresh-machine
// CI run and over 60 s once on a machine at load 12, so it gets more than the default timeout.
jest.setTimeout(150_000);

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ DATABASE_POOL_MAX: '5', EXPORT_CONCURRENCY: '2' });
});
afterAll(async () => {
  await stack?.stop();
});

/** Starts a download and never reads its body: the server's socket fills and the COPY stalls. */
function stalledDownload(token: string): Promise<{ status: number; retryAfter?: string; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${stack.url}/v1/audit-logs.csv`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.pause();
      resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] as string | undefined, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

it('refuses exports beyond their slots with 429 while other clinics keep working', async () => {
  const a = await clinicWithAdmin(stack, 'exporter');
  const b = await clinicWithAdmin(stack, 'bystander');
  // Enough log for a CSV far larger than the socket buffers (about 6 MB).
  await stack.database.ownerDb.raw(
    `insert into audit_events (tenant_id, actor_type, action, outcome, details)
     select ?, 'system', 'test.fill', 'success', jsonb_build_object('n', g, 'pad', repeat('x', 200)) from generate_series(1, 25000) g`,
    [a.clinic.id],
  );
  const downloads = [];
  for (let i = 0; i < 12; i += 1) downloads.push(await stalledDownload(a.token));
  try {
    const statuses = downloads.map((d) => d.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 429)).toHaveLength(11);
    expect(downloads.find((d) => d.status === 429)!.retryAfter).toBe('30');
    // The other clinic: reads, its own log and its own export all work while clinic A's export hangs.
    for (let i = 0; i < 10; i += 1) expect((await call(stack.url, 'GET', '/v1/me', { token: b.token })).status).toBe(200);
    expect((await call(stack.url, 'GET', '/v1/audit-logs', { token: b.token })).status).toBe(200);
    expect((await call(stack.url, 'GET', '/v1/audit-logs.csv', { token: b.token })).status).toBe(200);
  } finally {
    for (const d of downloads) d.close();
  }
  // The reader went away: the slot is free again.
  await eventually('the export slot is released', async () => (await call(stack.url, 'GET', '/v1/audit-logs.csv', { token: a.token })).status === 200);
});
