import type { Client as TemporalClient } from '@temporalio/client';
import { Client } from 'pg';
import { formatJapanDateTime } from '../../domain/japan-time';
import { fetchLocalEmails } from '../../lib/local-ses';
import { accountOnboardingWorkflowId } from '../../temporal/workflow-ids';
import { waitFor } from '../../lib/process';
import type { LoadClinic, OpRecord } from './load';

/**
 * After the load: every request was answered 2xx in the end, and has its effect exactly once — the row, its workflow,
 * its event, its mail — and nothing failed. A mail resent after an in-doubt send carries
 * "[再送 / Resent]" and is allowed beside the first; a second unmarked copy is a duplicate.
 */
export interface Verdict {
  lost: Set<OpRecord>;
  duplicated: Set<OpRecord>;
  /** Each broken promise, in words (ids only: no personal or clinical text). */
  violations: string[];
  /** Figures for the report. */
  facts: { consultations: number; workflows: number; mails: number; resentMails: number; accountsConfirmedBy409: number; replayed: number };
}

const RESENT = '[再送 / Resent]';

export async function verify(o: {
  ownerUrl: string;
  temporal: TemporalClient;
  sesEndpoint: string;
  clinics: LoadClinic[];
  records: OpRecord[];
  deadlineMs: number;
}): Promise<Verdict> {
  const lost = new Set<OpRecord>();
  const duplicated = new Set<OpRecord>();
  const violations: string[] = [];
  const db = new Client({ connectionString: o.ownerUrl });
  await db.connect();
  try {
    const tenantIds = o.clinics.map((c) => c.tenantId);
    const consultations = new Map<string, { id: string; status: string; workflowId: string; createdAt: Date }>(
      (await db.query('select id, idempotency_key, status, workflow_id, created_at from consultations where tenant_id = any($1)', [tenantIds])).rows.map((r) => [
        r.idempotency_key as string,
        { id: r.id as string, status: r.status as string, workflowId: r.workflow_id as string, createdAt: r.created_at as Date },
      ]),
    );
    const checkIns = new Map<string, { n: number; first: Date }>(
      (await db.query("select consultation_id, count(*)::int as n, min(occurred_at) as first from consultation_events where type = 'checkIn' and tenant_id = any($1) group by 1", [tenantIds])).rows.map((r) => [
        r.consultation_id as string,
        { n: r.n as number, first: r.first as Date },
      ]),
    );
    // Answers a retry got from what an earlier, cut-off attempt had already done: the idempotency at work.
    let replayed = 0;
    const actedBeforeLastAttempt = (r: OpRecord, at: Date | undefined) => {
      if (r.retried && at && at.getTime() < r.attempts.at(-1)!.at) replayed += 1;
    };
    const accounts = new Map<string, string[]>();
    for (const r of (await db.query('select id, login_id from accounts where tenant_id = any($1) and deleted_at is null', [tenantIds])).rows) {
      accounts.set(r.login_id, [...(accounts.get(r.login_id) ?? []), r.id]);
    }

    // Every workflow a committed row promises, as the server's visibility store lists it.
    const expected = new Set<string>([...consultations.values()].map((c) => c.workflowId));
    for (const ids of accounts.values()) for (const id of ids) expected.add(accountOnboardingWorkflowId(id));
    const statuses = new Map<string, string[]>();
    const listAll = async () => {
      statuses.clear();
      for await (const w of o.temporal.workflow.list({ query: 'WorkflowType="consultationWorkflow" OR WorkflowType="accountOnboardingWorkflow"' })) {
        statuses.set(w.workflowId, [...(statuses.get(w.workflowId) ?? []), w.status.name]);
      }
      return [...expected].every((id) => statuses.has(id));
    };
    await waitFor('every committed row\'s workflow to be listed', listAll, o.deadlineMs, 1_000).catch(() => undefined);
    for (const id of expected) if (!statuses.has(id)) violations.push(`workflow ${id} was never started`);
    for (const [id, runs] of statuses) if (runs.length > 1) violations.push(`workflow ${id} ran ${runs.length} times`);
    const failed = await o.temporal.workflow.count('ExecutionStatus="Failed" OR ExecutionStatus="TimedOut" OR ExecutionStatus="Terminated"');
    if (failed.count > 0) violations.push(`${failed.count} workflow(s) failed, timed out or were terminated`);

    // Mails: a reminder per booking still reserved (its reminder is due at once, see the script's timing).
    const patientOf = new Map(o.clinics.map((c, i) => [i, c.patientEmail]));
    const mailsFor = new Map<string, { plain: number; resent: number }>();
    const countMails = async () => {
      mailsFor.clear();
      for (const m of await fetchLocalEmails(o.sesEndpoint)) {
        const when = /^(.+)（日本時間）のご予約/m.exec(m.body.text ?? '')?.[1];
        if (!when) continue;
        for (const to of m.destination.to) {
          const k = `${to}|${when}`;
          const seen = mailsFor.get(k) ?? { plain: 0, resent: 0 };
          if (m.subject.startsWith(RESENT)) seen.resent += 1;
          else seen.plain += 1;
          mailsFor.set(k, seen);
        }
      }
    };
    const mailKey = (r: OpRecord) => `${patientOf.get(r.clinic)}|${formatJapanDateTime(new Date(r.startsAt!))}`;
    const reservedBookings = o.records.filter((r) => r.kind === 'book' && r.outcome === 201 && consultations.get(r.key)?.status === 'reserved');
    await waitFor('the reminder of every reserved booking', async () => {
      await countMails();
      return reservedBookings.every((r) => mailsFor.has(mailKey(r)));
    }, o.deadlineMs, 1_000).catch(() => undefined);

    let accountsConfirmedBy409 = 0;
    for (const r of o.records) {
      // Nothing in this load is refused when done once (own slots, valid transitions, new login IDs), and
      // every fault heals within a request's retry deadline: any other final answer means a retry was
      // refused what its first attempt had done (a broken Idempotency-Key), or a request never got through.
      const ok = r.outcome !== 'network' && r.outcome >= 200 && r.outcome < 300;
      if (!ok && !(r.kind === 'account' && r.outcome === 409 && r.retried)) {
        violations.push(`${r.kind} ${r.key} (${r.phase}) ended with ${r.outcome} after ${r.attempts.length} attempt(s)`);
      }
      if (r.kind === 'book' && r.outcome === 201) {
        const row = consultations.get(r.key);
        if (!row || row.id !== r.consultationId) {
          lost.add(r);
          violations.push(`booking ${r.key} answered 201 but its row ${row ? 'has another id' : 'is missing'}`);
          continue;
        }
        actedBeforeLastAttempt(r, row.createdAt);
        const mails = mailsFor.get(mailKey(r));
        if ((mails?.plain ?? 0) > 1) {
          duplicated.add(r);
          violations.push(`consultation ${row.id}: ${mails!.plain} unmarked reminders`);
        }
        if (row.status === 'reserved' && !mails) {
          lost.add(r);
          violations.push(`consultation ${row.id}: no reminder mail`);
        }
        if (!statuses.has(row.workflowId)) lost.add(r);
      }
      if (r.kind === 'checkIn' && r.outcome === 200) {
        const n = checkIns.get(r.consultationId!)?.n ?? 0;
        actedBeforeLastAttempt(r, checkIns.get(r.consultationId!)?.first);
        if (n === 0) lost.add(r);
        if (n > 1) duplicated.add(r);
        if (n !== 1) violations.push(`consultation ${r.consultationId}: check-in answered 200, recorded ${n} times`);
      }
      if (r.kind === 'account') {
        const ids = accounts.get(r.loginId!) ?? [];
        const confirmed = r.outcome === 409 && r.retried;
        if (confirmed) accountsConfirmedBy409 += 1;
        if (r.outcome !== 201 && !confirmed) continue;
        if (ids.length === 0) lost.add(r);
        if (ids.length > 1) duplicated.add(r);
        if (ids.length !== 1) violations.push(`account ${r.loginId}: ${ids.length} rows`);
        else if (!statuses.has(accountOnboardingWorkflowId(ids[0]!))) lost.add(r);
      }
    }
    const all = [...mailsFor.values()];
    return {
      lost,
      duplicated,
      violations,
      facts: {
        consultations: consultations.size,
        workflows: statuses.size,
        mails: all.reduce((s, m) => s + m.plain + m.resent, 0),
        resentMails: all.reduce((s, m) => s + m.resent, 0),
        accountsConfirmedBy409,
        replayed,
      },
    };
  } finally {
    await db.end();
  }
}
