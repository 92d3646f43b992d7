import type { Knex } from 'knex';

/**
 * A clinic's patient numbers are unique whatever their letter case: p35922818 and P35922818 were
 * two patients, and a desk that reads one number aloud or types it in the other case finds the
 * wrong chart. Numbers stay stored as the clinic typed them; search compares them the same way.
 * A database already holding such a pair stops here with a message saying which clinic: which
 * patient keeps the number is the clinic's decision, not a migration's.
 */
export async function up(knex: Knex): Promise<void> {
  const { rows } = await knex.raw<{ rows: Array<{ tenant_id: string; numbers: string[] }> }>(
    `select tenant_id, array_agg(patient_number) as numbers from patients
      group by tenant_id, lower(patient_number) having count(*) > 1 limit 5`,
  );
  if (rows.length > 0) {
    const pairs = rows.map((r) => `clinic ${r.tenant_id}: ${r.numbers.join(' / ')}`).join('; ');
    throw new Error(`patient numbers that differ only in letter case (${pairs}): renumber one of each before this migration`);
  }
  await knex.raw('create unique index patients_number_any_case_key on patients (tenant_id, lower(patient_number))');
  await knex.raw('alter table patients drop constraint patients_number_key');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table patients add constraint patients_number_key unique (tenant_id, patient_number)');
  await knex.raw('drop index patients_number_any_case_key');
}
