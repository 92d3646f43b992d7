import type { Knex } from 'knex';

/**
 * Cheaper operation-log writes, same chain. audit_canonical() was declared IMMUTABLE although
 * its body calls STABLE functions (to_char, jsonb_build_array), which kept PostgreSQL from
 * inlining it: every entry ran it through the SQL-function executor. Declared STABLE (what it
 * is), it is inlined into the trigger's and the verifier's expressions; its text is unchanged,
 * so every existing hash still verifies. The (tenant_id, seq desc) index duplicated the unique
 * (tenant_id, seq) index, which serves both directions; each entry paid for both.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter function audit_canonical(audit_events) stable;
    drop index audit_events_tenant_seq_desc_idx;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    create index audit_events_tenant_seq_desc_idx on audit_events (tenant_id, seq desc);
    alter function audit_canonical(audit_events) immutable;
  `);
}
