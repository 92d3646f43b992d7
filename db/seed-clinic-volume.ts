import type { Db } from './connection';

/**
 * Fills a clinic with `patients` patients and `consultations` finished consultations in a few
 * set-based statements (generate_series), as the tables' owner: for the purge benchmark and the
 * killed-worker test, which need volume, not realistic ciphertext (the sealed columns hold
 * random bytes). Never used by the product itself.
 */
export async function seedClinicVolume(ownerDb: Db, tenantId: string, volume: { patients: number; consultations: number }): Promise<void> {
  await ownerDb.transaction(async (trx) => {
    const { rows } = await trx.raw(
      `insert into practitioners (tenant_id, display_name, slot_minutes, modes) values (?, 'Seed doctor', 5, array['in_person']) returning id`,
      [tenantId],
    );
    const practitionerId = rows[0].id as string;
    await trx.raw(
      `insert into patients (id, tenant_id, patient_number, name_sealed, kana_sealed, birth_date_sealed, name_token, kana_prefix_tokens, birth_date_token)
       select gen_random_uuid(), ?, 'S' || i, decode(md5(random()::text), 'hex'), decode(md5(random()::text), 'hex'), decode(md5(random()::text), 'hex'), md5(i::text), array[md5('k' || i)], md5('b' || i)
         from generate_series(1, ?) i`,
      [tenantId, volume.patients],
    );
    // Each consultation in a slot of its own (5 minutes apart, from 2020), for a patient in turn.
    await trx.raw(
      `with p as (select id, row_number() over (order by id) - 1 as n from patients where tenant_id = ?)
       insert into consultations (id, tenant_id, patient_id, practitioner_id, starts_at, ends_at, mode, status, workflow_id, note_sealed)
       select gen_random_uuid(), ?, p.id, ?, timestamptz '2020-01-01' + (i * interval '5 minutes'), timestamptz '2020-01-01' + (i * interval '5 minutes') + interval '5 minutes',
              'in_person', 'completed', 'consultation/seed-' || i, decode(md5(random()::text), 'hex')
         from generate_series(0, ? - 1) i join p on p.n = i % ?`,
      [tenantId, tenantId, practitionerId, volume.consultations, volume.patients],
    );
  });
}
