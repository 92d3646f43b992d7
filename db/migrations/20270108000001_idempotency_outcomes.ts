import type { Knex } from 'knex';
import { APP_ROLE } from './tenant-isolation';

/**
 * What an Idempotency-Key's first request became, so that a retry is answered and logged truthfully.
 *
 * - `consultation_action_keys.done_at`: when an action sent under the key was accepted by the
 *   consultation's workflow. A key whose first request was refused (409 invalid_transition) or
 *   never answered (503) stays open: its retry may still do the action, and is then logged as the
 *   action, not as a repeat of one. Rows made before this column existed count as done (their
 *   request was answered; the few that were refused are logged so).
 * - `consultations.booked_starts_at`: the start the booking asked for. A reschedule moves
 *   `starts_at`, so a repeated booking request is compared with what was first asked, and the same
 *   key with another start is refused (409 idempotency_key_reused). Null for bookings made before:
 *   their start is not compared.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table consultation_action_keys add column done_at timestamptz;
    update consultation_action_keys set done_at = created_at;
    grant update (done_at) on consultation_action_keys to ${APP_ROLE};
    alter table consultations add column booked_starts_at timestamptz;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    revoke update (done_at) on consultation_action_keys from ${APP_ROLE};
    alter table consultation_action_keys drop column done_at;
    alter table consultations drop column booked_starts_at;
  `);
}
