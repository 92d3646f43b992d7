import type { Knex } from 'knex';
import { APP_ROLE } from './tenant-isolation';

/**
 * One platform operation log instead of two unchained ones. `platform_audit_events` (notices)
 * becomes the log: it gains the operator's name and the clinic log's hash chain, and the rows of
 * `operator_actions` (backups) move into it, after which that table is dropped.
 *
 * The chain is the clinic log's design (20261130000004_audit_chain) with a single chain for the
 * platform: a BEFORE INSERT trigger stamps the database clock, the next sequence number, the
 * previous entry's hash and hash = SHA-256(prev_hash || canonical(entry)), under a lock on the
 * one head row held until the inserting transaction ends (operator traffic is small; entries
 * never fork). The application role may insert and read, never change or delete, and sees the
 * rows only inside withPlatform (app.platform = 'on').
 *
 * Existing rows are chained in the order they happened (time, then id), keeping their times;
 * rows moved from operator_actions name no operator (the shared token named nobody) and say
 * where they came from in details.
 */
const PLATFORM = `coalesce(current_setting('app.platform', true), '') = 'on'`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table platform_audit_events
      add column actor_name text,
      add column seq bigint,
      add column prev_hash bytea,
      add column hash bytea;

    insert into platform_audit_events (occurred_at, actor_type, client_ip, user_agent, request_id, action, outcome, target_type, target_id, details)
      select at, 'operator', case when client_ip ~ '^[0-9A-Fa-f:.]+$' then client_ip::inet end, user_agent, request_id, action, 'success', target_type, target_id,
             details || jsonb_build_object('migratedFrom', 'operator_actions')
        from operator_actions order by id;
    drop table operator_actions;

    create table platform_audit_chain_head (
      only_row boolean primary key default true check (only_row),
      seq bigint not null,
      hash bytea not null
    );

    -- The canonical text of an entry: a JSON array in fixed order (jsonb prints deterministically).
    create function platform_audit_canonical(e platform_audit_events) returns text language sql stable as $$
      select jsonb_build_array(
        e.seq,
        to_char(e.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        e.actor_type, e.actor_id, e.actor_name, e.actor_roles, e.action, e.target_type, e.target_id, e.outcome,
        host(e.client_ip), e.user_agent, e.request_id, e.details
      )::text
    $$;

    do $$
    declare
      r record;
      h bytea := sha256(convert_to('genesis:platform', 'UTF8'));
      n bigint := 0;
    begin
      for r in select id from platform_audit_events order by occurred_at, id loop
        n := n + 1;
        update platform_audit_events set seq = n, prev_hash = h where id = r.id;
        update platform_audit_events e set hash = sha256(e.prev_hash || convert_to(platform_audit_canonical(e), 'UTF8'))
          where id = r.id returning e.hash into h;
      end loop;
      -- No rows, no head: the trigger creates it with the first entry (a fresh database stays
      -- empty, which is what a restore target must be).
      if n > 0 then
        insert into platform_audit_chain_head (seq, hash) values (n, h);
      end if;
    end $$;

    create function platform_audit_chain_append() returns trigger language plpgsql security definer
    set search_path = public as $$
    declare
      head platform_audit_chain_head%rowtype;
    begin
      select * into head from platform_audit_chain_head for update;
      if not found then
        -- The first entry ever: create the head (a concurrent first writer may win; then lock theirs).
        insert into platform_audit_chain_head (seq, hash)
          values (0, sha256(convert_to('genesis:platform', 'UTF8')))
          on conflict (only_row) do nothing;
        select * into head from platform_audit_chain_head for update;
      end if;
      new.occurred_at := clock_timestamp();
      new.seq := head.seq + 1;
      new.prev_hash := head.hash;
      new.hash := sha256(new.prev_hash || convert_to(platform_audit_canonical(new), 'UTF8'));
      update platform_audit_chain_head set seq = new.seq, hash = new.hash;
      return new;
    end $$;

    create trigger platform_audit_events_chain before insert on platform_audit_events
      for each row execute function platform_audit_chain_append();

    alter table platform_audit_events alter column seq set not null,
      alter column prev_hash set not null,
      alter column hash set not null;
    alter table platform_audit_events add constraint platform_audit_events_seq_key unique (seq);

    revoke all on platform_audit_chain_head from public;
    alter table platform_audit_chain_head enable row level security;
    alter table platform_audit_chain_head force row level security;
    create policy platform_scope on platform_audit_chain_head to ${APP_ROLE} using (${PLATFORM});
    -- Verification compares the last entry with the head: readable inside withPlatform, never writable.
    grant select on platform_audit_chain_head to ${APP_ROLE};
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    drop trigger platform_audit_events_chain on platform_audit_events;
    drop function platform_audit_chain_append();
    drop function platform_audit_canonical(platform_audit_events);
    drop table platform_audit_chain_head;
    create table operator_actions (
      id bigint generated always as identity primary key,
      at timestamptz not null default now(),
      action text not null,
      target_type text,
      target_id text,
      client_ip text,
      user_agent text,
      request_id text,
      details jsonb not null default '{}'
    );
    insert into operator_actions (at, action, target_type, target_id, client_ip, user_agent, request_id, details)
      select occurred_at, action, target_type, target_id, host(client_ip), user_agent, request_id, details - 'migratedFrom'
        from platform_audit_events where jsonb_exists(details, 'migratedFrom') order by seq;
    delete from platform_audit_events where jsonb_exists(details, 'migratedFrom');
    alter table operator_actions enable row level security;
    alter table operator_actions force row level security;
    create policy platform_only on operator_actions to ${APP_ROLE}
      using (coalesce(current_setting('app.tenant_id', true), '') = '')
      with check (coalesce(current_setting('app.tenant_id', true), '') = '');
    grant select, insert on operator_actions to ${APP_ROLE};
    alter table platform_audit_events drop column actor_name, drop column seq, drop column prev_hash, drop column hash;
  `);
}
