import type { Knex } from 'knex';
import { APP_ROLE } from './tenant-isolation';

/**
 * An Idempotency-Key on a consultation action is let go when its request did nothing: refused by
 * the workflow (409 slot_taken, invalid_transition, …). Its `request_hash` becomes null and its
 * attempt moves on, so the key's next request, whatever its body, binds it again under an update id
 * Temporal has not answered (a refused update keeps its refusal under its id, so nothing sent under
 * the old attempt can succeed later). A booking refused the same way keeps nothing of its key
 * either: its transaction rolls back. Requests refused before anything is sent (400 slot_in_past,
 * not_a_slot, beyond_booking_horizon) never bind a key at all
 * (application/consultations/consultation-actions.ts).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table consultation_action_keys alter column request_hash drop not null;
    grant update (request_hash, action) on consultation_action_keys to ${APP_ROLE};
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    revoke update (request_hash, action) on consultation_action_keys from ${APP_ROLE};
    delete from consultation_action_keys where request_hash is null;
    alter table consultation_action_keys alter column request_hash set not null;
  `);
}
