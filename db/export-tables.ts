import { processFilePathSql } from '../domain/data-export';

/**
 * What a clinic's full data export contains, table by table (README: Data export): every table
 * that holds the clinic's rows, each column with what it means (the archive's README is written
 * from these descriptions), and how each is read. A column is exported unless it is listed under
 * `omitted` with the reason; a clinic table is exported unless it is in EXCLUDED_TABLES with the
 * reason. test/exports/data-export.test.ts compares both lists with the live schema, so a new
 * table or column cannot silently stay behind.
 *
 * Sealed (encrypted) columns are opened for the export: the archive is the clinic's own data,
 * readable without this software. `sealed` names the vault context the value was bound to
 * (`<prefix>:<row id>`, lib/crypto/vault.ts); `json` marks sealed values that hold JSON.
 */
export interface ExportColumn {
  /** The column's name in the CSV header and the JSON Lines keys. */
  name: string;
  description: string;
  /** SQL producing the value as JSON (default: the column of that name). */
  sql?: string;
  /** The vault context prefix of a sealed column; `sql` then yields its base64 ciphertext. */
  sealed?: string;
  /** A sealed value holding JSON (questionnaires, prescriptions): a structure in JSON Lines. */
  json?: boolean;
}

export interface ExportTable {
  /** The table in PostgreSQL, and the file names `tables/<name>.csv` / `.jsonl`. */
  name: string;
  description: string;
  columns: ExportColumn[];
  /** Stored columns left out, each with why. */
  omitted?: Record<string, string>;
  /** ORDER BY (a unique order, so two exports of unchanged data are identical). */
  orderBy: string;
  /** The FROM clause when it is not the table alone. */
  from?: string;
}

const utc = (column: string) => `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
const base64 = (column: string) => `encode(${column}, 'base64')`;
const ts = (name: string, description: string): ExportColumn => ({ name, description: `${description} (UTC, ISO 8601)`, sql: utc(name) });
const col = (name: string, description: string, sql?: string): ExportColumn => ({ name, description, ...(sql ? { sql } : {}) });
const sealed = (name: string, column: string, context: string, description: string, json = false): ExportColumn => ({ name, description, sql: base64(column), sealed: context, ...(json ? { json } : {}) });

const ID = col('id', '行の ID / Row id (UUID)');
const CREATED = ts('created_at', '作成日時 / Created at');
const UPDATED = ts('updated_at', '更新日時 / Last updated at');
const BLIND_INDEX = 'blind-index token (HMAC under the clinic\'s index key): useless outside the service; the value itself is exported opened';

export const EXPORT_TABLES: ExportTable[] = [
  {
    name: 'clinic',
    from: 'tenants',
    description: 'クリニック / The clinic itself',
    orderBy: 'id',
    columns: [
      ID, col('slug', 'ログイン用のクリニック ID / Clinic id used at sign-in'), col('name', 'クリニック名 / Name'), col('contract_emails', '契約連絡先メール / Contract contact addresses'), col('status', '状態 / Status'),
      ts('contract_ends_at', '契約終了日時 / Contract ends at'), col('contract_state', '契約の状態 (active, ending, read_only, purging, purged) / Contract state'), CREATED, UPDATED,
    ],
    omitted: {
      legal_hold_reason: 'the provider\'s own record of a legal hold (kept for the operators, not clinic data)',
      legal_hold_at: 'the provider\'s own record of a legal hold (kept for the operators, not clinic data)',
      legal_hold_lifted_at: 'the provider\'s own record of a legal hold (kept for the operators, not clinic data)',
      contract_plan: 'a counter of the contract end\'s changes that keys the provider\'s contract mails (not clinic data)',
      contract_plan_at: 'when the contract end last changed, for the provider\'s contract mails (not clinic data)',
    },
  },
  {
    name: 'accounts',
    description: '職員アカウント / Staff accounts',
    orderBy: 'created_at, id',
    columns: [
      ID, col('login_id', 'ログイン ID / Login id'), col('email', 'メール / E-mail'), col('display_name', '表示名 / Display name'),
      col('roles', '役割 (admin, doctor, staff, auditor) / Roles'), col('disabled', '無効 / Disabled'), ts('deleted_at', '削除日時 / Deleted at'),
      col('onboarding_state', '初回設定の状態 / Onboarding state'), col('password_is_initial', '初期パスワードのまま / Still the initial password'),
      ts('initial_password_expires_at', '初期パスワード期限 / Initial password expires at'), ts('password_changed_at', 'パスワード変更日時 / Password changed at'),
      col('failed_login_count', '連続失敗回数 / Consecutive failed sign-ins'), ts('last_failed_login_at', '最後の失敗 / Last failed sign-in'),
      ts('locked_until', 'ロック期限 / Locked until'), col('lockouts', 'ロック回数 / Lockouts'), ts('last_login_at', '最終ログイン / Last sign-in'), CREATED, UPDATED,
    ],
    omitted: { tenant_id: 'the clinic (clinic.csv)', password_hash: 'a password hash is a secret and useless outside the service' },
  },
  {
    name: 'groups',
    description: 'グループ / Groups of accounts',
    orderBy: 'created_at, id',
    columns: [ID, col('name', 'グループ名 / Name'), CREATED, UPDATED],
    omitted: { tenant_id: 'the clinic' },
  },
  {
    name: 'group_members',
    description: 'グループの所属 / Group membership',
    orderBy: 'group_id, account_id',
    columns: [col('group_id', 'グループ / Group (groups.id)'), col('account_id', 'アカウント / Account (accounts.id)'), ts('added_at', '追加日時 / Added at')],
    omitted: { tenant_id: 'the clinic' },
  },
  {
    name: 'tenant_settings',
    description: 'クリニックの設定 / Clinic settings',
    orderBy: 'tenant_id',
    columns: [
      col('password_policy', 'パスワード方針 (JSON) / Password policy'), col('network_allowlist', '接続を許可するネットワーク / Network allowlist'),
      col('admins_see_all_processes', '管理者は全プロセスを閲覧 / Admins see every process area'),
      col('booking_horizon_days', '予約受付期間 (日) / Booking horizon (days)'), UPDATED,
    ],
    omitted: { tenant_id: 'the clinic' },
  },
  {
    name: 'webauthn_credentials',
    description: 'パスキー (公開鍵のみ) / Passkeys (public keys only)',
    orderBy: 'created_at, id',
    columns: [
      ID, col('account_id', 'アカウント / Account'), col('credential_id', '認証器の ID / Credential id'), col('public_key', '公開鍵 (base64) / Public key', base64('public_key')),
      col('counter', '署名カウンタ / Signature counter'), col('transports', '接続方式 / Transports'), col('device_type', '種類 / Device type'),
      col('backed_up', '同期済み / Backed up'), col('name', '名前 / Name'), CREATED, ts('last_used_at', '最終使用 / Last used at'),
    ],
    omitted: { tenant_id: 'the clinic' },
  },
  {
    name: 'sessions',
    description: 'ログインのセッション (ログイン履歴) / Sign-in sessions (sign-in history)',
    orderBy: 'created_at, id',
    columns: [
      ID, col('account_id', 'アカウント / Account'), col('state', '状態 / State'), col('client_ip', '接続元 IP / Client IP', 'host(client_ip)'), col('user_agent', 'ブラウザ / User agent'),
      CREATED, ts('last_seen_at', '最終アクセス / Last seen at'), ts('idle_expires_at', '無操作期限 / Idle expiry'), ts('absolute_expires_at', '最長期限 / Absolute expiry'),
      ts('revoked_at', 'ログアウト・失効 / Revoked at'), ts('verified_at', '再認証日時 / Re-verified at'),
      ts('second_factor_at', 'パスキー提示日時 (空欄: パスワードのみ) / Passkey presented at (empty: password only)'),
      col('second_factor_credential_id', '提示したパスキー (削除済みなら空欄) / Passkey presented (empty once removed)'),
      col('new_device', '新しい端末・ネットワークからのログイン / Sign-in from a new device or network'),
    ],
    omitted: { tenant_id: 'the clinic', token_hash: 'hash of a session token: a secret' },
  },
  {
    name: 'practitioners',
    description: '医師 / Doctors',
    orderBy: 'created_at, id',
    columns: [ID, col('account_id', 'アカウント / Account'), col('display_name', '表示名 / Display name'), col('slot_minutes', '予約枠 (分) / Slot length (minutes)'), col('modes', '診療形態 (in_person 対面, online オンライン) / Modes'), CREATED],
    omitted: { tenant_id: 'the clinic' },
  },
  {
    name: 'availability_rules',
    description: '医師の週間の診療時間 (日本時間) / Doctors\' weekly hours (Japan time)',
    orderBy: 'practitioner_id, weekday, start_time, id',
    columns: [ID, col('practitioner_id', '医師 / Doctor'), col('weekday', '曜日 (0=日曜) / Weekday (0 = Sunday)'), col('start_time', '開始 / Start'), col('end_time', '終了 / End')],
    omitted: { tenant_id: 'the clinic' },
  },
  {
    name: 'availability_exceptions',
    description: '診療時間の例外 (休診・臨時診療, 日本時間) / Exceptions (closed or extra hours, Japan time)',
    orderBy: 'practitioner_id, date, id',
    columns: [ID, col('practitioner_id', '医師 / Doctor'), col('date', '日付 / Date'), col('kind', 'closed 休診 / open 臨時'), col('start_time', '開始 / Start'), col('end_time', '終了 / End')],
    omitted: { tenant_id: 'the clinic' },
  },
  {
    name: 'patients',
    description: '患者 (個人情報は復号済み) / Patients (personal data opened)',
    orderBy: 'patient_number, id',
    columns: [
      ID, col('patient_number', '患者番号 / Patient number'),
      sealed('name', 'name_sealed', 'patients.name', '氏名 / Name'), sealed('kana', 'kana_sealed', 'patients.kana', 'フリガナ / Name in kana'),
      sealed('birth_date', 'birth_date_sealed', 'patients.birthDate', '生年月日 (YYYY-MM-DD) / Birth date'), sealed('phone', 'phone_sealed', 'patients.phone', '電話 / Phone'),
      sealed('email', 'email_sealed', 'patients.email', 'メール / E-mail'), sealed('address', 'address_sealed', 'patients.address', '住所 / Address'),
      CREATED, UPDATED,
    ],
    omitted: { tenant_id: 'the clinic', name_token: BLIND_INDEX, kana_prefix_tokens: BLIND_INDEX, birth_date_token: BLIND_INDEX },
  },
  {
    name: 'consultations',
    description: '診察 (問診・カルテ記載・処方・会計, 復号済み; 患者ごとに古い順) / Consultations (questionnaire, note, prescriptions, payment; opened; by patient, oldest first)',
    orderBy: 'starts_at, id',
    columns: [
      ID, col('patient_id', '患者 / Patient (patients.id)'), col('practitioner_id', '医師 / Doctor (practitioners.id)'),
      ts('starts_at', '開始 / Starts at'), ts('ends_at', '終了 / Ends at'),
      ts('booked_starts_at', '予約時に指定された開始 (変更前; 古い予約は空) / Start asked for at booking (before any reschedule; empty for older bookings)'), col('mode', 'in_person 対面 / online オンライン'),
      col('status', '状態 / Status (reserved, checked_in, waiting, in_consultation, finished, paid, completed, cancelled, no_show)'),
      sealed('questionnaire', 'questionnaire_sealed', 'consultations.questionnaire', '問診の回答 (JSON) / Questionnaire answers', true),
      sealed('note', 'note_sealed', 'consultations.note', '診療記録 / Clinical note'),
      sealed('prescriptions', 'prescriptions_sealed', 'consultations.prescriptions', '処方 (JSON) / Prescriptions', true),
      col('payment_amount', '会計金額 (円) / Amount paid (yen)'), col('payment_method', '支払方法 / Payment method'),
      sealed('cancel_reason', 'cancel_reason_sealed', 'consultations.cancelReason', 'キャンセル理由 / Cancel reason'),
      col('created_by', '予約した職員 / Booked by (accounts.id)'), col('idempotency_key', '予約要求の重複防止キー / Booking request key'), col('workflow_id', '処理の ID / Workflow id'),
      CREATED, UPDATED,
    ],
    omitted: { tenant_id: 'the clinic' },
  },
  {
    name: 'consultation_events',
    description: '診察の経過 (状態の変化; 診察ごと) / Consultation timeline (status changes; by consultation)',
    orderBy: 'consultation_id, occurred_at, id',
    columns: [col('id', '行番号 / Row number'), col('consultation_id', '診察 / Consultation'), col('event_key', '出来事の識別子 (操作の ID または時刻) / Event key (the action\'s update id, or the timer\'s moment)'), col('type', '種類 / Type'), col('status', '変化後の状態 / Status after'), ts('occurred_at', '日時 / At'), col('details', '詳細 (JSON) / Details')],
    omitted: { tenant_id: 'the clinic' },
  },
  {
    name: 'processes',
    description: 'プロセス (ファイルの置き場) / Process areas',
    orderBy: 'created_at, id',
    columns: [ID, sealed('name', 'name_sealed', 'processes.name', '名前 / Name'), col('created_by', '作成者 / Created by'), CREATED, UPDATED],
    omitted: { tenant_id: 'the clinic' },
  },
  {
    name: 'process_access',
    description: 'プロセスの利用者と権限 / Who may use each process area, and how',
    orderBy: 'process_id, principal_type, principal_id',
    columns: [col('process_id', 'プロセス / Process area'), col('principal_type', 'account / group'), col('principal_id', 'アカウントまたはグループ / Account or group'), col('access_right', '権限 (read, write, manage) / Right')],
    omitted: { tenant_id: 'the clinic' },
  },
  {
    name: 'process_files',
    description: 'プロセスのファイル (中身は files/ に元の形で) / Files of process areas (contents under files/, as uploaded)',
    orderBy: 'process_id, created_at, id',
    columns: [
      ID, col('process_id', 'プロセス / Process area'), sealed('name', 'name_sealed', 'process_files.name', 'ファイル名 / File name'), col('content_type', '種類 / Media type'),
      col('size_bytes', '大きさ (バイト) / Size (bytes)'), col('archive_path', 'このアーカイブ内の場所 / Path in this archive', processFilePathSql()),
      col('created_by', '登録者 / Uploaded by'), CREATED,
    ],
    omitted: { tenant_id: 'the clinic', storage_key: 'where the encrypted copy lies in our storage; see archive_path', stored_bytes: 'size of the encrypted copy in our storage' },
  },
  {
    name: 'audit_events',
    description: '操作ログ (改ざん検知のハッシュ鎖つき) / Operation log (with its hash chain)',
    orderBy: 'seq',
    columns: [
      col('seq', '通し番号 / Sequence number'), ts('occurred_at', '日時 / At'), col('actor_type', '操作者の種類 / Actor type'), col('actor_id', '操作者 / Actor'),
      col('actor_roles', '操作者の役割 / Actor roles'), col('action', '操作 / Action'), col('target_type', '対象の種類 / Target type'), col('target_id', '対象 / Target'),
      col('outcome', '結果 / Outcome'), col('client_ip', '接続元 IP / Client IP', 'host(client_ip)'), col('user_agent', 'ブラウザ / User agent'),
      col('request_id', '要求 ID / Request id'), col('details', '詳細 (JSON) / Details'),
      col('prev_hash', '前の記録のハッシュ (16進) / Previous entry\'s hash (hex)', `encode(prev_hash, 'hex')`), col('hash', 'この記録のハッシュ (16進) / This entry\'s hash (hex)', `encode(hash, 'hex')`),
    ],
    omitted: { tenant_id: 'the clinic', id: 'internal row number; seq orders the log' },
  },
  {
    name: 'audit_chain_heads',
    description: '操作ログの鎖の末尾 / The operation log chain\'s head',
    orderBy: 'tenant_id',
    columns: [col('seq', '最後の通し番号 / Last sequence number'), col('hash', '最後のハッシュ (16進) / Last hash (hex)', `encode(hash, 'hex')`)],
    omitted: { tenant_id: 'the clinic' },
  },
  {
    name: 'security_events',
    description: '拒否されたアクセス (分ごとの集計) / Denied attempts (per minute and source)',
    orderBy: 'minute, kind, client_net',
    columns: [ID, col('kind', '種類 / Kind'), ts('minute', '分 / Minute'), col('client_net', '接続元ネットワーク / Source network'), col('attempts', '回数 / Attempts'), col('account_ids', 'アカウント / Accounts'), col('routes', '経路 / Routes')],
    omitted: { tenant_id: 'the clinic' },
  },
  {
    name: 'login_probes',
    description: '不審なログイン試行 (分ごとの集計) / Sign-in probes (per minute and source)',
    orderBy: 'minute, client_net',
    columns: [ts('minute', '分 / Minute'), col('client_net', '接続元ネットワーク / Source network'), col('attempts', '回数 / Attempts')],
    omitted: { tenant_id: 'the clinic', login_id_hashes: 'HMACs of the login ids tried, under a key of the service: useless outside it' },
  },
  {
    name: 'email_deliveries',
    description: '送信したメール (本文なし) / Mails sent (no contents)',
    orderBy: 'created_at, id',
    columns: [ID, col('purpose', '用途 / Purpose'), col('status', '状態 / Status'), col('attempts', '試行回数 / Attempts'), col('last_error', '最後のエラー / Last error'), CREATED, ts('sent_at', '送信日時 / Sent at'), ts('failed_at', '失敗日時 / Failed at')],
    omitted: {
      tenant_id: 'the clinic', idempotency_key: 'internal de-duplication key', provider_message_id: 'the mail provider\'s id',
      claim_token: 'internal send lease', lease_expires_at: 'internal send lease',
    },
  },
  {
    name: 'clinic_notices',
    description: '運営からのお知らせの受信 / Notices from the operator that reached the clinic',
    orderBy: 'reached_at, notice_id',
    columns: [col('notice_id', 'お知らせ / Notice'), ts('reached_at', '受信日時 / Reached at')],
    omitted: { tenant_id: 'the clinic' },
  },
  {
    name: 'notice_reads',
    description: 'お知らせの既読 / Notices read, per account',
    orderBy: 'read_at, account_id, notice_id',
    columns: [col('account_id', 'アカウント / Account'), col('notice_id', 'お知らせ / Notice'), ts('read_at', '既読日時 / Read at')],
    omitted: { tenant_id: 'the clinic' },
  },
  {
    name: 'incident_reports',
    description: 'クリニックからのインシデント報告 / Incident reports the clinic sent',
    orderBy: 'created_at, id',
    columns: [ID, col('reference', '受付番号 / Reference'), col('account_id', '報告者 / Reported by'), col('description', '内容 / Description'), col('contact', '連絡先 / Contact'), CREATED],
    omitted: { tenant_id: 'the clinic' },
  },
];

/** Tables with clinic rows that are not exported, and why (never the clinic's records). */
export const EXCLUDED_TABLES: Record<string, string> = {
  password_history: 'password hashes only: secrets, useless outside the service',
  data_keys: 'the clinic\'s wrapped encryption keys: the export is already opened',
  tenant_master_keys: 'names of the clinic\'s master keys in the key service',
  webauthn_challenges: 'one-time passkey challenges, valid for minutes',
  consultation_payloads: 'sealed content in transit to a consultation; what was accepted is in consultations',
  login_failures: 'sign-in throttling counters keyed by HMACs under a key of the service',
  workflow_outbox: 'the service\'s own queue of workflow starts',
  notice_deliveries: 'the operator\'s mail delivery records',
  notice_targets: 'the operator\'s list of clinics a notice went to (clinic_notices has the clinic\'s side)',
  data_exports: 'the list of exports themselves',
  consultation_action_keys: 'hashes of the Idempotency-Keys of actions on consultations (retries of a request); the actions are in consultation_events',
  consultation_action_intents: 'who asked for each action on a consultation, kept until its operation-log entry is written; the entries are in audit_events',
  auth_generations: 'a count of changes to what signing in reads (clinic, settings, sessions, accounts, passkeys), so that the API knows when to read them again',
};

/** The statement reading a table for its export: one JSON array per row, columns in order. */
export function exportSelectSql(table: ExportTable): string {
  const values = table.columns.map((c) => c.sql ?? c.name).join(', ');
  const from = table.from ?? table.name;
  // The clinic row is not row-level secured (tenants is the platform's); the id narrows it.
  const where = table.from === 'tenants' ? `where id = nullif(current_setting('app.tenant_id', true), '')::uuid` : '';
  return `select json_build_array(${values}) as r from ${from} ${where} order by ${table.orderBy}`;
}

/**
 * The tables written in the records pass (activities/data-exports.ts): a patient, each of their
 * consultations and each consultation's timeline are read together, so the sealed values are
 * opened once for the table files and the patient's record page alike.
 */
export const RECORD_TABLES = ['patients', 'consultations', 'consultation_events'] as const;

export const exportTable = (name: string): ExportTable => {
  const table = EXPORT_TABLES.find((t) => t.name === name);
  if (!table) throw new Error(`no exported table ${name}`);
  return table;
};

/**
 * The records pass's ONE statement (one snapshot): per patient (patients.csv order) a JSON array
 * of the patient's exported columns, then an array of consultations (oldest first), each its
 * exported columns, then the doctor's name, then an array of its timeline rows. Each subquery
 * reads a single table, so the catalog's unqualified column expressions name that table's columns.
 */
export function recordPassSql(): string {
  const values = (name: string) => exportTable(name).columns.map((c) => c.sql ?? c.name).join(', ');
  const events = `coalesce((select json_agg(json_build_array(${values('consultation_events')}) order by ${exportTable('consultation_events').orderBy.replace('consultation_id, ', '')})
      from consultation_events where consultation_id = c.id), '[]'::json)`;
  const doctor = '(select display_name from practitioners where id = c.practitioner_id)';
  const visits = `coalesce((select json_agg(json_build_array(${values('consultations')}, ${doctor}, ${events}) order by ${exportTable('consultations').orderBy})
      from consultations c where c.patient_id = p.id), '[]'::json)`;
  return `select json_build_array(${values('patients')}, ${visits}) as r from patients p order by ${exportTable('patients').orderBy}`;
}
