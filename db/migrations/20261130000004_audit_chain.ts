import type { Knex } from 'knex';

/**
 * Makes each clinic's operation log a hash chain, in the database itself so that no writer can
 * skip it: a BEFORE INSERT trigger stamps every entry with the database clock, the next
 * sequence number of its clinic, the previous entry's hash and its own
 *   hash = SHA-256(prev_hash || canonical(entry)).
 * The per-clinic head row is locked for the rest of the inserting transaction, so concurrent
 * writers in one clinic queue for a moment (entries never fork, vanish or repeat) while writers
 * in different clinics never wait for each other. Sequence order is commit order, which is what
 * makes keyset pagination by seq stable under concurrent inserts.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table audit_events
      add column seq bigint,
      add column prev_hash bytea,
      add column hash bytea;
    alter table audit_events add constraint audit_events_tenant_seq_key unique (tenant_id, seq);

    create table audit_chain_heads (
      tenant_id uuid primary key references tenants (id),
      seq bigint not null,
      hash bytea not null
    );

    -- The canonical text of an entry: a JSON array in fixed order (jsonb prints deterministically).
    create function audit_canonical(e audit_events) returns text language sql immutable as $$
      select jsonb_build_array(
        e.seq, e.tenant_id::text,
        to_char(e.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        e.actor_type, e.actor_id, e.actor_roles, e.action, e.target_type, e.target_id, e.outcome,
        host(e.client_ip), e.user_agent, e.request_id, e.details
      )::text
    $$;

    create function audit_chain_append() returns trigger language plpgsql security definer
    set search_path = public as $$
    declare
      head audit_chain_heads%rowtype;
    begin
      insert into audit_chain_heads (tenant_id, seq, hash)
        values (new.tenant_id, 0, sha256(convert_to('genesis:' || new.tenant_id::text, 'UTF8')))
        on conflict (tenant_id) do nothing;
      select * into head from audit_chain_heads where tenant_id = new.tenant_id for update;
      new.occurred_at := clock_timestamp();
      new.seq := head.seq + 1;
      new.prev_hash := head.hash;
      new.hash := sha256(new.prev_hash || convert_to(audit_canonical(new), 'UTF8'));
      update audit_chain_heads set seq = new.seq, hash = new.hash where tenant_id = new.tenant_id;
      return new;
    end $$;

    create trigger audit_events_chain before insert on audit_events
      for each row execute function audit_chain_append();

    alter table audit_events alter column seq set not null,
      alter column prev_hash set not null,
      alter column hash set not null;
    create index audit_events_tenant_seq_desc_idx on audit_events (tenant_id, seq desc);
    create index audit_events_tenant_action_idx on audit_events (tenant_id, action, seq desc);
    create index audit_events_tenant_actor_idx on audit_events (tenant_id, actor_id, seq desc);
    create index audit_events_tenant_target_idx on audit_events (tenant_id, target_id, seq desc);
    revoke all on audit_chain_heads from public;
    -- Verification compares the last entry with the head: readable, per clinic, never writable.
    alter table audit_chain_heads enable row level security;
    alter table audit_chain_heads force row level security;
    create policy tenant_isolation on audit_chain_heads to forclinic_app
      using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
    grant select on audit_chain_heads to forclinic_app;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop trigger audit_events_chain on audit_events;
    drop function audit_chain_append();
    drop function audit_canonical(audit_events);
    drop table audit_chain_heads;
    alter table audit_events drop column seq, drop column prev_hash, drop column hash;
  `);
}
