import { fork } from 'node:child_process';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createDb } from '../db/connection';
import { fetchLocalEmails } from '../lib/local-ses';

/**
 * Incident notification figures for `npm run bench`: N clinics × 2 contract addresses are
 * notified of one incident through the API, the workflow outbox, the incident workflow, its
 * child batches and the rate-limited mail queue, to the local SES. Reported:
 * - the time until every delivery row is final, ÷ the theoretical minimum recipients ÷ rate
 *   (goal ≤ 1.2; below 1.0 would mean the server let more than the rate through);
 * - the largest history (bytes and events) among the incident's workflow and its children;
 * - mails in the SES store ÷ recipients (must be exactly 1.0).
 * BENCH_INCIDENT_CLINICS (default 1000) and BENCH_MAIL_RATE (mails/s, default 50: at the product's
 * default 10/s the part alone would take over 3 minutes) tune it.
 */
const say = (m: string) => process.stderr.write(`[bench] ${m}\n`);

export async function benchIncidents(opts: { api: string; operatorToken: string; ownerUrl: string; sesEndpoint: string; serverEnv: NodeJS.ProcessEnv; temporalAddress: string }) {
  const clinics = Number(process.env.BENCH_INCIDENT_CLINICS ?? 1000);
  const rate = Number(process.env.BENCH_MAIL_RATE ?? 50);
  const owner = createDb({ url: opts.ownerUrl, poolMax: 1, as: 'owner' });
  let ids: string[];
  try {
    const { rows } = await owner.raw(
      `insert into tenants (slug, name, contract_emails, status)
       select 'bench-inc-' || i, 'ベンチ医院 ' || i, array['a@bench-inc-' || i || '.example', 'b@bench-inc-' || i || '.example'], 'active'
         from generate_series(1, ?) as i returning id`,
      [clinics],
    );
    ids = (rows as Array<{ id: string }>).map((r) => r.id);
  } finally {
    await owner.destroy();
  }
  const recipients = clinics * 2;
  const worker = fork(path.join(__dirname, '..', 'workers', 'main.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...opts.serverEnv, MAIL_SEND_RATE: String(rate), LOG_LEVEL: 'error' },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  await new Promise<void>((resolve) => worker.once('message', () => resolve()));
  const connection = await Connection.connect({ address: opts.temporalAddress });
  const client = new Client({ connection });
  const db = createDb({ url: opts.ownerUrl, poolMax: 1, as: 'owner' });
  try {
    say(`incidents: notifying ${clinics} clinics × 2 addresses at ${rate} mails/s`);
    const started = process.hrtime.bigint();
    const res = await fetch(`${opts.api}/v1/operator/incidents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${opts.operatorToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'Bench incident', description: 'Measuring the fan-out.', severity: 'low', affectedTenantIds: ids, detectedAt: new Date().toISOString() }),
    });
    if (res.status !== 202) throw new Error(`declare: ${res.status} ${await res.text()}`);
    const incident = (await res.json()) as { id: string; reference: string; workflowId: string };
    let final = 0;
    for (;;) {
      const row = await db('notice_deliveries').where({ notice_id: incident.id }).whereNot({ status: 'pending' }).first(db.raw('count(*)::int as n'));
      final = (row as { n: number }).n;
      if (final >= recipients) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const minimum = recipients / rate;
    const histories = [];
    for (const id of [incident.workflowId, ...Array.from({ length: Math.ceil(clinics / 100) }, (_, i) => `${incident.workflowId}/r1/b${i}`)]) {
      const d = await client.workflow.getHandle(id).describe();
      histories.push({ id, events: d.historyLength, bytes: d.historySize ?? 0 });
    }
    const largest = histories.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    const mails = (await fetchLocalEmails(opts.sesEndpoint)).filter((m) => m.subject.includes(incident.reference)).length;
    const failed = await db('notice_deliveries').where({ notice_id: incident.id, status: 'failed' }).first(db.raw('count(*)::int as n'));
    await client.workflow.getHandle(incident.workflowId).terminate('benchmark done');
    const ratio = Math.round((seconds / minimum) * 100) / 100;
    return {
      incidents: {
        clinics,
        recipients,
        mailSendRate: rate,
        notifySeconds: Math.round(seconds * 10) / 10,
        notifyToMinimum: { figure: Math.round(seconds * 10) / 10, anchor: minimum, ratio, goal: '≤ 1.2', met: ratio <= 1.2 },
        largestHistory: { workflowId: largest.id.replace(incident.id, '<id>'), events: largest.events, bytes: largest.bytes, goal: '< 1 MiB', met: largest.bytes < 1024 * 1024 },
        parentHistory: { events: histories[0]!.events, bytes: histories[0]!.bytes },
        mailsPerRecipient: { figure: mails / recipients, mails, recipients, failed: (failed as { n: number }).n, met: mails === recipients },
      },
    };
  } finally {
    await db.destroy();
    await connection.close();
    const exited = new Promise((r) => worker.once('exit', r));
    worker.kill('SIGTERM');
    await exited;
  }
}
