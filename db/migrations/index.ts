import type { Knex } from 'knex';
import * as m20261130000001 from './20261130000001_tenants';
import * as m20261130000002 from './20261130000002_email_deliveries';
import * as m20261130000003 from './20261130000003_identity';
import * as m20261130000004 from './20261130000004_audit_chain';
import * as m20261130000005 from './20261130000005_encryption_keys';
import * as m20261130000006 from './20261130000006_processes';
import * as m20261130000007 from './20261130000007_consultations';
import * as m20261203000001 from './20261203000001_workflow_outbox';
import * as m20261203000010 from './20261203000010_master_key_versions';
import * as m20261203000020 from './20261203000020_email_delivery_claims';
import * as m20261203000030 from './20261203000030_consultation_payloads';
import * as m20261203000050 from './20261203000050_process_rights';
import * as m20261210000001 from './20261210000001_no_public_create';
import * as m20261204000001 from './20261204000001_session_auth';
import * as m20261204000002 from './20261204000002_audit_write_cost';
import * as m20261210000003 from './20261210000003_login_defences';
import * as m20261210000004 from './20261210000004_session_verification';
import * as m20261211000001 from './20261211000001_session_auth_profile';
import * as m20261211000010 from './20261211000010_security_events';
import * as m20261220000100 from './20261220000100_notices';
import * as m20261231000001 from './20261231000001_backups';
import * as m20270101000001 from './20270101000001_contract_end';
import * as m20270101000002 from './20270101000002_purge_indexes';
import * as m20270101000003 from './20270101000003_operators';
import * as m20270101000004 from './20270101000004_platform_operation_log';
import * as m20270105000001 from './20270105000001_data_exports';
import * as m20270106000001 from './20270106000001_notice_resends';
import * as m20270107000001 from './20270107000001_consultation_action_keys';
import * as m20270107000002 from './20270107000002_legal_hold_lifted';
import * as m20270108000001 from './20270108000001_idempotency_outcomes';
import * as m20270108000002 from './20270108000002_notice_references';
import * as m20270109000001 from './20270109000001_session_second_factor';
import * as m20270109000002 from './20270109000002_contract_plan';
import * as m20270109000003 from './20270109000003_session_second_factor_credential';
import * as m20270109000004 from './20270109000004_contract_plan_at';
import * as m20270110000001 from './20270110000001_session_policy_floors';
import * as m20270110000002 from './20270110000002_consultation_action_intents';
import * as m20270110000003 from './20270110000003_process_access_dangling';
import * as m20270111000001 from './20270111000001_session_auth_generation';
import * as m20270112000001 from './20270112000001_booking_horizon';
import * as m20270112000002 from './20270112000002_outstanding_visits';
import * as m20270113000001 from './20270113000001_action_key_release';
import * as m20270113000002 from './20270113000002_sessions_by_account';
import * as m20270113000003 from './20270113000003_sessions_new_device';
import * as m20270113000004 from './20270113000004_patient_number_any_case';
import * as m20270114000001 from './20270114000001_operator_credentials_issuer';

/**
 * Migrations are listed here explicitly instead of read from the folder, so the same list runs
 * under tsx, jest and compiled JavaScript, and a migration can never be skipped by a file glob.
 */
const migrations: Record<string, Knex.Migration> = {
  '20261130000001_tenants': m20261130000001,
  '20261130000002_email_deliveries': m20261130000002,
  '20261130000003_identity': m20261130000003,
  '20261130000004_audit_chain': m20261130000004,
  '20261130000005_encryption_keys': m20261130000005,
  '20261130000006_processes': m20261130000006,
  '20261130000007_consultations': m20261130000007,
  '20261203000001_workflow_outbox': m20261203000001,
  '20261203000010_master_key_versions': m20261203000010,
  '20261203000020_email_delivery_claims': m20261203000020,
  '20261203000030_consultation_payloads': m20261203000030,
  '20261203000050_process_rights': m20261203000050,
  '20261210000001_no_public_create': m20261210000001,
  '20261204000001_session_auth': m20261204000001,
  '20261204000002_audit_write_cost': m20261204000002,
  '20261210000003_login_defences': m20261210000003,
  '20261210000004_session_verification': m20261210000004,
  '20261211000001_session_auth_profile': m20261211000001,
  '20261211000010_security_events': m20261211000010,
  '20261220000100_notices': m20261220000100,
  '20261231000001_backups': m20261231000001,
  '20270101000001_contract_end': m20270101000001,
  '20270101000002_purge_indexes': m20270101000002,
  '20270101000003_operators': m20270101000003,
  '20270101000004_platform_operation_log': m20270101000004,
  '20270105000001_data_exports': m20270105000001,
  '20270106000001_notice_resends': m20270106000001,
  '20270107000001_consultation_action_keys': m20270107000001,
  '20270107000002_legal_hold_lifted': m20270107000002,
  '20270108000001_idempotency_outcomes': m20270108000001,
  '20270108000002_notice_references': m20270108000002,
  '20270109000001_session_second_factor': m20270109000001,
  '20270109000002_contract_plan': m20270109000002,
  '20270109000003_session_second_factor_credential': m20270109000003,
  '20270109000004_contract_plan_at': m20270109000004,
  '20270110000001_session_policy_floors': m20270110000001,
  '20270110000002_consultation_action_intents': m20270110000002,
  '20270110000003_process_access_dangling': m20270110000003,
  '20270111000001_session_auth_generation': m20270111000001,
  '20270112000001_booking_horizon': m20270112000001,
  '20270112000002_outstanding_visits': m20270112000002,
  '20270113000001_action_key_release': m20270113000001,
  '20270113000002_sessions_by_account': m20270113000002,
  '20270113000003_sessions_new_device': m20270113000003,
  '20270113000004_patient_number_any_case': m20270113000004,
  '20270114000001_operator_credentials_issuer': m20270114000001,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
