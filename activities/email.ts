import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { Db } from '../db/connection';
import { EmailDeliveryRow } from '../db/models/email-delivery';
import { withTenant } from '../db/tenant-scope';
import { permanentRejection, type Mailer, type OutgoingEmail } from '../lib/mailer';
import { resentMail } from './mail-templates/resent';

/** How long a claim keeps other attempts from sending the same mail (database time). */
export const SEND_LEASE_SECONDS = 20;
/** A provider call is abandoned after this, well inside the lease. */
export const SEND_DEADLINE_MS = 10_000;

/** ApplicationFailure types this module raises. */
export const MAIL_REJECTED = 'MailRejected'; // permanent: recorded as failed, never retried
export const MAIL_SEND_IN_PROGRESS = 'MailSendInProgress'; // another attempt holds a live lease
export const MAIL_SEND_FAILED = 'MailSendFailed'; // transient provider or network error

export const isMailRejected = (err: unknown) => err instanceof ApplicationFailure && err.type === MAIL_REJECTED;

/**
 * Sends a mail once per idempotency key, however often the activity is retried, replayed or run
 * concurrently, without holding a transaction (or a database connection) while the provider
 * answers:
 *
 * 1. Claim, in a short transaction: ensure the delivery row exists, then take it if it is still
 *    'sending' and nobody holds a live lease (`claim_token`, `lease_expires_at` = now +
 *    SEND_LEASE_SECONDS, `attempts` + 1). Commit. A row already 'sent' returns the first result
 *    and sends nothing; a 'failed' row raises MailRejected again; a live lease held by another
 *    attempt raises the retryable MailSendInProgress (Temporal retries once the lease ends).
 * 2. Call the provider with no transaction open, abandoned after SEND_DEADLINE_MS.
 * 3. Record the outcome in a second short transaction: 'sent' with the provider's message id;
 *    a permanent rejection as 'failed' with the provider's error code, raised as the
 *    non-retryable MailRejected; any other error releases the claim (so the retry may claim it
 *    at once) and is raised as the retryable MailSendFailed.
 *
 * Row locks taken by the claim serialise concurrent claims, so at most one attempt calls the
 * provider while a lease is live. SES takes no idempotency key, so no sender can make the
 * following window disappear; what we guarantee instead is that a possible duplicate is never
 * silent. The window — where the same mail can go out twice — is exactly:
 * - the provider accepted the mail, but its answer never reached us (timeout, abort, reset
 *   connection): the claim is released and the retry sends again;
 * - the provider accepted the mail and the worker died, or the database was unreachable, before
 *   step 3 committed: after the lease ends (at most SEND_LEASE_SECONDS later) the retry takes
 *   the row over and sends again;
 * - a process stalled (paused, swapping) for more than SEND_LEASE_SECONDS - SEND_DEADLINE_MS
 *   while its request was in flight: its lease may end and another attempt send too.
 * In each case the earlier attempt's outcome is unknown, and the row says so: its claim token
 * stays set (a failure that proves nothing went out — SES answered with an error, or the
 * connection was never made — clears it instead). The attempt that takes such a row over sends
 * the mail marked as a resend (Japanese first: "[再送] … if you already received this, please
 * disregard it") and answers `resentInDoubt: true`, which callers record for the operators.
 */
export async function sendEmailOnce(
  deps: { db: Db; mailer: Mailer },
  args: { tenantId: string; idempotencyKey: string; purpose: string; mail: OutgoingEmail },
): Promise<{ sent: boolean; messageId: string | null; resentInDoubt?: boolean }> {
  const claim = await claimDelivery(deps.db, args);
  if (claim.kind === 'sent') return { sent: false, messageId: claim.messageId };
  if (claim.kind === 'failed') throw mailRejected(claim.code);
  if (claim.kind === 'busy') {
    throw ApplicationFailure.create({
      type: MAIL_SEND_IN_PROGRESS,
      message: `another attempt is sending this mail; its lease ends in ${Math.ceil(claim.leaseLeftMs / 1000)} s`,
      nextRetryDelay: Math.max(1_000, claim.leaseLeftMs),
    });
  }

  let messageId: string;
  try {
    ({ messageId } = await deps.mailer.send(claim.inDoubt ? resentMail(args.mail) : args.mail, { signal: AbortSignal.timeout(SEND_DEADLINE_MS) }));
  } catch (err) {
    const rejection = permanentRejection(err);
    if (rejection) {
      await finishDelivery(deps.db, args.tenantId, claim.id, { status: 'failed', lastError: rejection.code, failedAt: now() });
      throw mailRejected(rejection.code);
    }
    const code = errorCode(err);
    // Best effort: if this fails too, the lease simply runs out (and the retry counts it as in doubt).
    await releaseClaim(deps.db, args.tenantId, claim, code, notSent(err)).catch(() => undefined);
    // Only the code: a provider's message may quote the address, and failures land in Temporal's history.
    throw ApplicationFailure.retryable(`sending the mail failed (${code}); it will be retried`, MAIL_SEND_FAILED);
  }
  await finishDelivery(deps.db, args.tenantId, claim.id, { status: 'sent', providerMessageId: messageId, sentAt: now() });
  return claim.inDoubt ? { sent: true, messageId, resentInDoubt: true } : { sent: true, messageId };
}

/**
 * A failure that proves the provider did not take the mail: it answered with an error (the
 * SDK's service exceptions carry the HTTP status), or no connection was ever made. Anything
 * else — a timeout, an abort, a connection reset mid-request — leaves the outcome unknown.
 */
function notSent(err: unknown): boolean {
  const e = err as { $metadata?: { httpStatusCode?: unknown }; code?: unknown; message?: unknown };
  if (typeof e?.$metadata?.httpStatusCode === 'number') return true;
  const code = typeof e?.code === 'string' ? e.code : typeof e?.message === 'string' ? /\b(E[A-Z]{3,})\b/.exec(e.message)?.[1] : undefined;
  return code !== undefined && NEVER_CONNECTED.has(code);
}
const NEVER_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

type Claim =
  /** `inDoubt`: an earlier attempt may have sent this mail (its outcome was never recorded). */
  | { kind: 'claimed'; id: string; token: string; inDoubt: boolean }
  | { kind: 'sent'; messageId: string | null }
  | { kind: 'failed'; code: string }
  | { kind: 'busy'; leaseLeftMs: number };

const now = () => EmailDeliveryRow.raw('now()') as never;

/** Step 1: takes the row for this attempt, or says why not. Exported for tests of a dead holder. */
export async function claimDelivery(db: Db, args: { tenantId: string; idempotencyKey: string; purpose: string }): Promise<Claim> {
  return withTenant(db, args.tenantId, async (trx) => {
    await EmailDeliveryRow.query(trx).insert({ idempotencyKey: args.idempotencyKey, purpose: args.purpose }).onConflict('idempotencyKey').ignore();
    // Locked, so what it says about the earlier attempt is what the claim below replaces.
    const before = await EmailDeliveryRow.query(trx).findOne({ idempotencyKey: args.idempotencyKey }).forUpdate().select('claimToken');
    const token = randomUUID();
    const [claimed] = await EmailDeliveryRow.query(trx)
      .patch({
        claimToken: token,
        leaseExpiresAt: EmailDeliveryRow.raw('now() + make_interval(secs => ?)', [SEND_LEASE_SECONDS]) as never,
        attempts: EmailDeliveryRow.raw('attempts + 1') as never,
      })
      .where({ idempotencyKey: args.idempotencyKey, status: 'sending' })
      .where((q) => q.whereNull('leaseExpiresAt').orWhere('leaseExpiresAt', '<=', EmailDeliveryRow.raw('now()')))
      .returning('*');
    if (claimed) return { kind: 'claimed', id: claimed.id, token, inDoubt: Boolean(before?.claimToken) };
    const row = (await EmailDeliveryRow.query(trx)
      .findOne({ idempotencyKey: args.idempotencyKey })
      .select('*', EmailDeliveryRow.raw(`greatest(0, extract(epoch from lease_expires_at - now()) * 1000)::float8 as lease_left_ms`))) as
      | (EmailDeliveryRow & { leaseLeftMs: number | null })
      | undefined;
    // The key is unique across clinics; another clinic's row is invisible here.
    if (!row) throw new Error(`email delivery ${args.idempotencyKey} belongs to another clinic`);
    if (row.status === 'sent') return { kind: 'sent', messageId: row.providerMessageId };
    if (row.status === 'failed') return { kind: 'failed', code: row.lastError ?? 'unknown' };
    return { kind: 'busy', leaseLeftMs: Math.round(row.leaseLeftMs ?? 0) };
  });
}

/** Step 3: the outcome, written whoever holds the claim now (the mail did go out, or was refused). */
async function finishDelivery(db: Db, tenantId: string, id: string, outcome: Partial<EmailDeliveryRow>): Promise<void> {
  await withTenant(db, tenantId, (trx) =>
    EmailDeliveryRow.query(trx)
      .patch({ ...outcome, claimToken: null, leaseExpiresAt: null })
      .where({ id, status: 'sending' }),
  );
}

/**
 * Ends this attempt's lease so a retry may claim the row at once. Only when nothing went out
 * (`notSent`) is the claim token cleared; otherwise it stays, and the retry knows it is in doubt.
 */
async function releaseClaim(db: Db, tenantId: string, claim: { id: string; token: string }, code: string, notSent: boolean): Promise<void> {
  await withTenant(db, tenantId, (trx) =>
    EmailDeliveryRow.query(trx)
      .patch(notSent ? { claimToken: null, leaseExpiresAt: null, lastError: code } : { leaseExpiresAt: EmailDeliveryRow.raw('now()') as never, lastError: code })
      .where({ id: claim.id, claimToken: claim.token, status: 'sending' }),
  );
}

function mailRejected(code: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`the mail was rejected permanently (${code}); it will not be sent`, MAIL_REJECTED, { code });
}

/**
 * A short, safe name for an error: Node's error code (also when the SDK wrapped the error and
 * kept only its message), else the SDK's error name. Never the message itself.
 */
function errorCode(err: unknown): string {
  const e = err as { name?: unknown; code?: unknown; message?: unknown };
  const fromMessage = typeof e?.message === 'string' ? /\b(E[A-Z]{3,})\b/.exec(e.message)?.[1] : undefined;
  const raw = typeof e?.code === 'string' ? e.code : fromMessage ?? (typeof e?.name === 'string' ? e.name : 'Error');
  return raw.replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 100) || 'Error';
}
