import type { Knex } from 'knex';
import { APP_ROLE } from './tenant-isolation';

/**
 * Notice references (INC-2026-00042) are numbered per kind and year without gaps
 * (db/notices.ts, nextReference): the sequences that numbered them before, and skipped the
 * numbers of refused declarations, go. A clinic's own reports (RPT-…) keep theirs.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('drop sequence notice_reference_incident, notice_reference_change, notice_reference_vulnerability');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    create sequence notice_reference_incident;
    create sequence notice_reference_change;
    create sequence notice_reference_vulnerability;
    grant usage on sequence notice_reference_incident, notice_reference_change, notice_reference_vulnerability to ${APP_ROLE};
  `);
}
