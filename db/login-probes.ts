import { tenantIdOf, type TenantTransaction } from './tenant-scope';

/**
 * Logins to login IDs that do not exist (in a clinic's scope) or to clinics that do not exist
 * (in the all-zero scope), one row per source network and minute with a count and up to
 * MAX_HASHES distinct login-ID HMACs: enough to see probing, never a login ID in clear, and
 * bounded however hard someone knocks.
 */
const MAX_HASHES = 20;

export interface LoginProbe {
  minute: string;
  clientNet: string;
  attempts: number;
  loginIdHashes: string[];
}

/** Counts one attempt; true when it is the first from this network in this minute. */
export async function recordLoginProbe(trx: TenantTransaction, clientNet: string, loginIdHash: string): Promise<boolean> {
  const { rows } = await trx.raw(
    `insert into login_probes as p (tenant_id, minute, client_net, attempts, login_id_hashes)
     values (?, date_trunc('minute', now()), ?, 1, array[?::text])
     on conflict (tenant_id, minute, client_net) do update set
       attempts = p.attempts + 1,
       login_id_hashes = case when excluded.login_id_hashes[1] = any(p.login_id_hashes) or cardinality(p.login_id_hashes) >= ${MAX_HASHES}
                              then p.login_id_hashes else p.login_id_hashes || excluded.login_id_hashes end
     returning attempts`,
    [tenantIdOf(trx)!, clientNet, loginIdHash],
  );
  return rows[0].attempts === 1;
}

/** Newest first, between `from` and `to`, after the keyset `before` (minute, network) of the previous page. */
export async function listLoginProbes(
  trx: TenantTransaction,
  opts: { from: Date; to: Date; limit: number; before?: { minute: string; clientNet: string } },
): Promise<{ rows: LoginProbe[]; next: { minute: string; clientNet: string } | null }> {
  const q = trx('login_probes')
    .select(
      trx.raw(`to_char(minute at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as minute`),
      'client_net',
      'attempts',
      'login_id_hashes',
    )
    .where({ tenant_id: tenantIdOf(trx)! })
    .whereBetween('minute', [opts.from, opts.to])
    .orderBy([{ column: 'minute', order: 'desc' }, { column: 'client_net', order: 'desc' }])
    .limit(opts.limit + 1);
  if (opts.before) q.whereRaw('(minute, client_net) < (?::timestamptz, ?)', [opts.before.minute, opts.before.clientNet]);
  const rows = (await q) as LoginProbe[];
  const page = rows.slice(0, opts.limit);
  const last = page[page.length - 1];
  return { rows: page, next: rows.length > opts.limit && last ? { minute: last.minute, clientNet: last.clientNet } : null };
}

export async function pruneLoginProbes(trx: TenantTransaction, olderThanDays: number): Promise<number> {
  return trx('login_probes')
    .where({ tenant_id: tenantIdOf(trx)! })
    .where('minute', '<', trx.raw(`now() - make_interval(days => ?)`, [olderThanDays]))
    .delete();
}
