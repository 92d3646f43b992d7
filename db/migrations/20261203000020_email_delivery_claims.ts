import type { Knex } from 'knex';

/**
 * Mail is sent without a transaction open (activities/email.ts): an attempt claims the delivery
 * row for a short lease and commits, calls the provider, then records the outcome in a second
 * transaction. The row therefore says who is sending and until when, how many provider calls
 * were made, and how a permanent failure ended.
 *
 * - status: 'sending' (claimable when lease_expires_at is null or past), 'sent', 'failed'.
 * - claim_token: the attempt holding the lease; lease_expires_at: database time it ends.
 * - attempts: provider calls started; last_error: the provider's error code (never its message,
 *   which may quote the address), for a failed row the reason.
 *
 * Row-level security and grants are those of email_deliveries (20261130000003_identity).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table email_deliveries
      add column claim_token uuid,
      add column lease_expires_at timestamptz,
      add column attempts integer not null default 0 check (attempts >= 0),
      add column last_error text,
      add column failed_at timestamptz;
    alter table email_deliveries drop constraint email_deliveries_status_check;
    -- 'pending' rows were never committed by the old code (it sent inside its transaction);
    -- any that exist are unclaimed sends.
    update email_deliveries set status = 'sending' where status = 'pending';
    alter table email_deliveries
      alter column status set default 'sending',
      add constraint email_deliveries_status_check check (status in ('sending', 'sent', 'failed')),
      add constraint email_deliveries_sent_check check (status <> 'sent' or sent_at is not null),
      add constraint email_deliveries_failed_check check (status <> 'failed' or (failed_at is not null and last_error is not null)),
      add constraint email_deliveries_claim_check check (status = 'sending' or (claim_token is null and lease_expires_at is null));
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table email_deliveries
      drop constraint email_deliveries_claim_check,
      drop constraint email_deliveries_failed_check,
      drop constraint email_deliveries_sent_check,
      drop constraint email_deliveries_status_check;
    update email_deliveries set status = 'pending' where status in ('sending', 'failed');
    alter table email_deliveries
      alter column status set default 'pending',
      add constraint email_deliveries_status_check check (status in ('pending', 'sent')),
      drop column failed_at,
      drop column last_error,
      drop column attempts,
      drop column lease_expires_at,
      drop column claim_token;
  `);
}
