import type { Knex } from 'knex';

/**
 * A clinic's booking horizon (domain/booking-horizon.ts): how many days ahead it takes bookings.
 * Every clinic gets the default; the check keeps a value edited in the database inside what the
 * API accepts, so a stored setting can never be one the product would refuse (fail closed).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table tenant_settings add column booking_horizon_days integer not null default 365
      constraint tenant_settings_booking_horizon_days check (booking_horizon_days between 1 and 730)
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table tenant_settings drop column booking_horizon_days');
}
