import { Client } from 'pg';

/**
 * The product's workflow outbox as the test reads it, as the database owner: how many rows are
 * still unsent (optionally only those written up to a moment), and what they are, grouped, for
 * the log when a backlog lingers (kinds, workflow types, attempts, the first words of the error:
 * ids and Temporal's messages only, no personal data).
 */
async function query<T>(ownerUrl: string, sql: string, params: unknown[]): Promise<T[] | undefined> {
  const db = new Client({ connectionString: ownerUrl, connectionTimeoutMillis: 2_000 });
  try {
    await db.connect();
    return (await db.query(sql, params)).rows as T[];
  } catch {
    return undefined; // the database is restarting: the caller polls again
  } finally {
    await db.end().catch(() => undefined);
  }
}

/** Unsent rows written up to `before` (all when omitted); undefined while the database does not answer. */
export async function unsentRows(ownerUrl: string, before?: Date): Promise<number | undefined> {
  const rows = await query<{ n: number }>(ownerUrl, 'select count(*)::int as n from workflow_outbox where dispatched_at is null and created_at <= coalesce($1, now())', [before ?? null]);
  return rows?.[0]?.n;
}

export async function describeUnsent(ownerUrl: string): Promise<string> {
  const rows = await query<{ kind: string; type: string | null; attempts: number; error: string | null; n: number }>(
    ownerUrl,
    `select kind, coalesce(workflow_type, signal_name) as type, attempts, left(last_error, 60) as error, count(*)::int as n
       from workflow_outbox where dispatched_at is null group by 1, 2, 3, 4 order by 5 desc limit 10`,
    [],
  );
  if (!rows) return 'the database did not answer';
  return rows.length ? rows.map((r) => `${r.n}× ${r.kind} ${r.type} (attempts ${r.attempts}${r.error ? `, ${r.error}` : ''})`).join('; ') : 'none';
}
