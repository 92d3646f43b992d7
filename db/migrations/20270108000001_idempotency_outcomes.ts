import type { Knex } from 'knex';
import { APP_ROLE } from './tenant-isolation';

/**
 * What an Idempotency-Key's first request became, so that a retry is answered and logged truthfully.
 *
 * - `consultation_action_keys`: `done_at` and `done_attempt` say when and under which attempt an
 *   action sent under the key was accepted by the consultation's workflow; a repeat is answered with
 *   that update's outcome. `attempt` counts the key's requests that the workflow refused: nothing
 *   was done, so the next one goes out under a new update id (Temporal keeps a refused update's
 *   outcome under its id). A key whose requests were all refused or unanswered (503) stays open:
 *   its retry may still do the action, and is logged as the action, not as a repeat of one. Rows
 *   made before these columns existed count as done at attempt 0 (the few that were refused are
 *   logged so).
 * - `consultations.booked_starts_at`: the start the booking asked for. A reschedule moves
 *   `starts_at`, so a repeated booking request is compared with what was first asked, and the same
 *   key with another start is refused (409 idempotency_key_reused). Null for bookings made before:
 *   their start is not compared.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table consultation_action_keys
      add column attempt integer not null default 0,
      add column done_at timestamptz,
      add column done_attempt integer,
      add constraint consultation_action_keys_done check ((done_at is null) = (done_attempt is null));
    update consultation_action_keys set done_at = created_at, done_attempt = 0;
    grant update (attempt, done_at, done_attempt) on consultation_action_keys to ${APP_ROLE};
    alter table consultations add column booked_starts_at timestamptz;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    revoke update (attempt, done_at, done_attempt) on consultation_action_keys from ${APP_ROLE};
    alter table consultation_action_keys drop constraint consultation_action_keys_done, drop column attempt, drop column done_at, drop column done_attempt;
    alter table consultations drop column booked_starts_at;
  `);
}
