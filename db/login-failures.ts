import type { Knex } from 'knex';
import type { CountedFailure } from '../domain/lockout';
import type { PasswordPolicy } from '../domain/password-policy';
import type { PlatformTransaction } from './platform-scope';
import { tenantIdOf, type TenantTransaction } from './tenant-scope';

/**
 * Failure counting and lockout (the rule: domain/lockout.ts), for accounts (their own columns)
 * and for login IDs without an account (`login_failures`, keyed by the login ID's HMAC), in one
 * clinic's withTenant() transaction. Each failure is ONE statement that reads and writes the
 * counter under the row's lock, so concurrent failures are all counted and exactly one locks;
 * a row that is locked is not counted (no row comes back: the caller answers 423).
 */
type Lockout = PasswordPolicy['lockout'];

/** The policy's numbers, checked to be whole numbers so they can stand in the SQL text. */
function whole(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`lockout setting ${n} is not a whole number`);
  return String(n);
}

/**
 * SET expressions for one more failure, given how the row's current columns are named (`col`).
 * Expressions in one SET all see the row as it was, so the new count is spelled out where it is used.
 */
function oneMoreFailure(l: Lockout, col: (name: string) => string): Record<string, string> {
  const [max, inc, maxWait, reset] = [l.maxFailures, l.waitIncrementSeconds, l.maxWaitSeconds, l.failureResetSeconds].map(whole);
  const last = col('last_failed_login_at');
  const stale = `(${last} is not null and ${last} < now() - interval '${reset} seconds')`;
  const count = `(case when ${stale} then 1 else ${col('failed_login_count')} + 1 end)`;
  const locksNow = `(${count} % ${max} = 0)`;
  const wait = `least(${maxWait}, ${inc} * power(2, least(${count} / ${max} - 1, 30)))`;
  return {
    failed_login_count: count,
    last_failed_login_at: 'now()',
    locked_until: `(case when ${locksNow} then now() + ${wait} * interval '1 second' when ${stale} then null else ${col('locked_until')} end)`,
    lockouts: `${col('lockouts')} + (case when ${locksNow} then 1 else 0 end)`,
  };
}

const notLocked = (prefix: string) => `(${prefix}locked_until is null or ${prefix}locked_until <= now())`;

const COLUMNS = 'failed_login_count, locked_until, lockouts';

const returning = (l: Lockout) => `returning ${COLUMNS}, (failed_login_count % ${whole(l.maxFailures)} = 0) as locked_now`;

interface Returned {
  failed_login_count: number;
  locked_until: Date | null;
  lockouts: number;
  locked_now?: boolean;
}

/** The counted failure, or (no row: the row was locked) the row as it is, uncounted. */
async function result(trx: Knex.Transaction, row: Returned | undefined, reread: string, bindings: string[]): Promise<CountedFailure> {
  const r: Returned = row ?? (await trx.raw(reread, bindings)).rows[0] ?? { failed_login_count: 0, locked_until: null, lockouts: 0 };
  return { counted: Boolean(row), failedLoginCount: r.failed_login_count, lockedUntil: r.locked_until, lockedNow: Boolean(r.locked_now), lockouts: r.lockouts };
}

/** One failed login (or wrong current password) of an account; uncounted if it is locked. */
export async function countAccountFailure(trx: TenantTransaction, accountId: string, lockout: Lockout): Promise<CountedFailure> {
  const set = Object.entries(oneMoreFailure(lockout, (c) => c)).map(([c, e]) => `${c} = ${e}`).join(',\n      ');
  const key = [accountId, tenantIdOf(trx)!];
  const { rows } = await trx.raw(
    `update accounts set
      ${set}
     where id = ? and tenant_id = ? and deleted_at is null and ${notLocked('')}
     ${returning(lockout)}`,
    key,
  );
  return result(trx, rows[0], `select ${COLUMNS} from accounts where id = ? and tenant_id = ?`, key);
}

/** One failed login (or wrong current password) of an operator, by the same rule; uncounted if it is locked. */
export async function countOperatorFailure(trx: PlatformTransaction, operatorId: string, lockout: Lockout): Promise<CountedFailure> {
  const set = Object.entries(oneMoreFailure(lockout, (c) => c)).map(([c, e]) => `${c} = ${e}`).join(',\n      ');
  const { rows } = await trx.raw(
    `update operators set
      ${set}
     where id = ? and ${notLocked('')}
     ${returning(lockout)}`,
    [operatorId],
  );
  return result(trx, rows[0], `select ${COLUMNS} from operators where id = ?`, [operatorId]);
}

/** One failed login for a login ID without an account; uncounted if it is locked. */
export async function countLoginIdFailure(trx: TenantTransaction, loginKey: string, lockout: Lockout): Promise<CountedFailure> {
  const fresh = oneMoreFailure(lockout, (c) => ({ failed_login_count: '0', lockouts: '0' })[c] ?? 'null::timestamptz');
  const again = oneMoreFailure(lockout, (c) => `f.${c}`);
  const columns = Object.keys(fresh);
  const key = [tenantIdOf(trx)!, loginKey];
  const { rows } = await trx.raw(
    `insert into login_failures as f (tenant_id, login_key, ${columns.join(', ')})
     values (?, ?, ${columns.map((c) => fresh[c]).join(', ')})
     on conflict (tenant_id, login_key) do update set
       ${columns.map((c) => `${c} = ${again[c]}`).join(',\n       ')}
     where ${notLocked('f.')}
     ${returning(lockout)}`,
    key,
  );
  return result(trx, rows[0], `select ${COLUMNS} from login_failures where tenant_id = ? and login_key = ?`, key);
}

/** Until when a login ID without an account is locked (null if it is not). */
export async function loginIdLockedUntil(trx: TenantTransaction, loginKey: string): Promise<Date | null> {
  const row = await trx('login_failures').where({ tenant_id: tenantIdOf(trx)!, login_key: loginKey }).first('locked_until');
  return row?.lockedUntil ?? null;
}

/** Counters of login IDs without an account that nobody has failed for `olderThanSeconds` (all clinics' scopes). */
export async function pruneLoginFailures(trx: TenantTransaction, olderThanSeconds: number): Promise<number> {
  return trx('login_failures')
    .where({ tenant_id: tenantIdOf(trx)! })
    .where('last_failed_login_at', '<', trx.raw(`now() - make_interval(secs => ?)`, [olderThanSeconds]))
    .where((q) => q.whereNull('locked_until').orWhere('locked_until', '<', trx.raw('now()')))
    .delete();
}
