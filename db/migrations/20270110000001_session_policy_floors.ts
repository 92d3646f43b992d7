import type { Knex } from 'knex';

/**
 * Session timeouts have floors since this migration: at least a minute idle and a quarter of an
 * hour in all (domain/password-policy.ts). A clinic that saved less before would now have a stored
 * policy found invalid, which refuses all of its requests (503 clinic_settings_invalid); its values
 * are raised to the floors instead, the least change that keeps it working. Nothing else in the
 * stored policy is touched, nor a value that is not a number (that one stays for the operators to see).
 *
 * tenant_settings forces row-level security, which would hide every row from a migration owner
 * that is not a superuser; it is lifted for the update only, inside this migration's transaction.
 */
const FLOORS: Array<[key: string, floor: number]> = [
  ['idleTimeoutSeconds', 60],
  ['absoluteLifetimeSeconds', 15 * 60],
];

export async function up(knex: Knex): Promise<void> {
  await knex.raw('alter table tenant_settings no force row level security');
  for (const [key, floor] of FLOORS) {
    await knex.raw(
      `update tenant_settings
          set password_policy = jsonb_set(password_policy, array['session', ?], to_jsonb(?::int))
        where jsonb_typeof(password_policy #> array['session', ?]) = 'number'
          and (password_policy #>> array['session', ?])::numeric < ?`,
      [key, floor, key, key, floor],
    );
  }
  await knex.raw('alter table tenant_settings force row level security');
}

/** Raised values stay raised: the lower ones are not known any more, and valid either way. */
export async function down(): Promise<void> {}
