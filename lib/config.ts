import { accessSync, constants } from 'node:fs';
import { z } from 'zod';
import { canonicalCidr } from '../domain/network';
import { JAPAN_REGIONS, residencyProblem } from '../domain/data-residency';

/**
 * The one place configuration is read. Every process (API, worker, launcher, tests)
 * calls loadConfig() at start-up, so a bad variable fails fast with a message naming it.
 */


/*
 * Fail closed: every variable is either valid or refused, never replaced by a default or cleaned
 * up silently. A list with one bad entry is refused as a whole (naming the entry), a number out
 * of its range is refused (naming the range), an unknown word is refused (naming the choices).
 * Only a variable that is unset (or empty) takes its documented default.
 */

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

/** A whole number written in digits (no signs, decimals, exponents or hex), within [min, max]. */
const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d{1,16}$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const port = int(0, 65535);

/**
 * A comma-separated list whose every entry passes `check` (which answers what is wrong, or
 * undefined). An empty entry ("a,,b", a trailing comma) is refused too: it is a typo, and a
 * list that means something else than it says is how access rules go wrong.
 */
function commaList<T>(check: (entry: string) => string | undefined, convert: (entry: string) => T) {
  return z.string().transform((value, ctx) => {
    const entries = value.split(',').map((e) => e.trim());
    entries.forEach((entry, i) => {
      const problem = entry === '' ? `entry ${i + 1} is empty (a stray comma?)` : check(entry);
      if (problem) ctx.addIssue({ code: 'custom', message: entry === '' ? problem : `"${entry}" ${problem}` });
    });
    return entries.map(convert);
  });
}

/** An origin exactly as browsers send it: scheme, host and optional port, nothing after. */
function originProblem(entry: string, schemes: readonly string[]): string | undefined {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return 'is not an origin like https://app.example.jp';
  }
  if (!schemes.includes(url.protocol)) return `must use ${schemes.join(' or ')}`;
  if (url.origin !== entry) return `must be written exactly as its origin ${url.origin}`;
  return undefined;
}

const url = (schemes: readonly string[]) =>
  z.string().refine((v) => {
    try {
      return schemes.includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, `must be a URL starting with ${schemes.map((s) => `${s}//`).join(' or ')}`);
const httpUrl = url(['http:', 'https:']);
const postgresUrl = url(['postgres:', 'postgresql:']);

const awsRegion = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, 'must be an AWS region like ap-northeast-1');

const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

const DAY = 86_400;

/** A path to a file this process can read now (certificates and keys): refused at start-up, not at first use. */
const readableFile = z.string().min(1).refine((p) => {
  try {
    accessSync(p, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}, 'must be a readable file');

const s3Bucket = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name (3-63 of a-z, 0-9, ".", "-")');

/** Where backups go and who makes them (README: Backups). Shared with `npm run restore`. */
const backupShape = {
  /**
   * The backup's own read-only login: BYPASSRLS (it must read every clinic's rows) and
   * pg_read_all_data, nothing else (db/backup-role.ts). Never the owner's URL.
   */
  BACKUP_DATABASE_URL: postgresUrl.optional(),
  BACKUP_STORAGE: z.enum(['fs', 's3']).default('fs'),
  BACKUP_DIR: z.string().min(1).default('.data/backups'),
  BACKUP_S3_BUCKET: s3Bucket.optional(),
  BACKUP_S3_REGION: awsRegion.optional(),
  BACKUP_S3_ENDPOINT: httpUrl.optional(),
  BACKUP_S3_FORCE_PATH_STYLE: bool.default(false),
  /**
   * S3 Object Lock on backup generations (lib/backup/object-lock.ts): `auto` locks them when the
   * bucket has Object Lock enabled, `required` fails a backup to a bucket without it, `off` never locks.
   */
  BACKUP_S3_OBJECT_LOCK: z.enum(['auto', 'required', 'off']).default('auto'),
  /** `compliance`: nobody can shorten the lock; `governance`: holders of s3:BypassGovernanceRetention can. */
  BACKUP_S3_OBJECT_LOCK_MODE: z.enum(['compliance', 'governance']).default('compliance'),
  /** Verified generations kept; the service promises at least 7. */
  BACKUP_GENERATIONS: int(7, 3650).default(7),
  /** Version of the platform's backup master key that new generations use; older versions stay for older generations. */
  BACKUP_KEY_VERSION: int(1, 1000).default(1),
  /**
   * The nice value (0–19) of the process that writes a generation: the backup takes the CPU the
   * API leaves over instead of competing with its requests (README: Backups). 0 = as the worker.
   */
  BACKUP_NICE: int(0, 19).default(10),
  AWS_REGION: awsRegion.default('ap-northeast-1'),
  ALLOW_NON_JAPAN_REGION: bool.default(false),
  /**
   * Hosts of data-holding endpoints whose names do not say where they are (e.g. a Temporal Cloud
   * namespace endpoint) and that an operator has confirmed store data in Japan (domain/data-residency.ts).
   */
  DATA_RESIDENCY_ATTESTED_HOSTS: commaList((h) => (/^[A-Za-z0-9.:[\]-]+$/.test(h) ? undefined : 'is not a host name or address'), (h) => h).default([]),
  /** Where clinics' master keys live: `local` (a key store folder) or `kms` (AWS KMS). */
  KEY_PROVIDER: z.enum(['local', 'kms']).default('local'),
  /** The local key store. Back it up apart from the data, or crypto-shredding cannot work. */
  KEY_STORE_DIR: z.string().min(1).default('.data/keys'),
  KMS_ENDPOINT: httpUrl.optional(),
};

/** Backups stay in Japan like files do; an S3 store needs its bucket. */
function checkBackupStore(
  c: { BACKUP_STORAGE: string; BACKUP_S3_REGION?: string; AWS_REGION: string; ALLOW_NON_JAPAN_REGION: boolean; BACKUP_S3_BUCKET?: string },
  ctx: z.RefinementCtx,
): void {
  if (c.BACKUP_STORAGE !== 's3') return;
  const region = c.BACKUP_S3_REGION ?? c.AWS_REGION;
  if (!c.ALLOW_NON_JAPAN_REGION && !(JAPAN_REGIONS as readonly string[]).includes(region)) {
    ctx.addIssue({ code: 'custom', path: ['BACKUP_S3_REGION'], message: `backups must stay in Japan: use ${JAPAN_REGIONS.join(' or ')}, or set ALLOW_NON_JAPAN_REGION=true deliberately` });
  }
  if (!c.BACKUP_S3_BUCKET) ctx.addIssue({ code: 'custom', path: ['BACKUP_S3_BUCKET'], message: 'is required when BACKUP_STORAGE=s3' });
}

/** Every endpoint that stores or carries customer data must be in Japan (domain/data-residency.ts). */
function checkResidency(c: Record<string, unknown> & { ALLOW_NON_JAPAN_REGION: boolean; DATA_RESIDENCY_ATTESTED_HOSTS: string[] }, ctx: z.RefinementCtx): void {
  if (c.ALLOW_NON_JAPAN_REGION) return;
  const endpoints = ['DATABASE_URL', 'BACKUP_DATABASE_URL', 'RESTORE_TEST_DATABASE_URL', 'TEMPORAL_ADDRESS', 'S3_ENDPOINT', 'BACKUP_S3_ENDPOINT', 'KMS_ENDPOINT', 'SES_ENDPOINT'];
  for (const key of endpoints) {
    const value = c[key];
    if (typeof value !== 'string') continue;
    const problem = residencyProblem(value, c.DATA_RESIDENCY_ATTESTED_HOSTS);
    if (problem) ctx.addIssue({ code: 'custom', path: [key], message: `${problem}, or set ALLOW_NON_JAPAN_REGION=true deliberately` });
  }
}

const email = z.string().email();

/** A WebAuthn relying party id (clinics' or operators'): a domain name, never an IP address. */
const rpId = (example: string) =>
  z
    .string()
    .regex(DOMAIN, `must be a lower-case domain name like ${example} (no scheme, port or path)`)
    .refine((v) => !/^[\d.]+$/.test(v), 'must be a domain name, not an IP address');

/** Origins allowed to perform passkey ceremonies: https, or http only on localhost. */
const passkeyOrigins = commaList(
  (o) => originProblem(o, ['https:', 'http:']) ?? (o.startsWith('http:') && new URL(o).hostname !== 'localhost' ? 'must use https (http only for localhost)' : undefined),
  (o) => o,
);

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    HOST: z.string().regex(/^\S+$/, 'must be a host name or address without spaces').default('127.0.0.1'),
    PORT: port.default(3000),
    /** Prometheus metrics (GET /metrics) on a listener of their own; off when unset, 0 = any free port. */
    METRICS_PORT: port.optional(),
    /** Loopback by default: metrics are for the operators' Prometheus, not the public network. */
    METRICS_HOST: z.string().regex(/^\S+$/, 'must be a host name or address without spaces').default('127.0.0.1'),
    /**
     * OpenTelemetry traces (lib/tracing.ts, README: Monitoring): the OTLP/HTTP collector's base URL
     * (traces go to <url>/v1/traces, JSON). Off when unset. Credentials belong in
     * OTEL_EXPORTER_OTLP_HEADERS (read by the exporter, never logged), not in the URL.
     */
    OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl
      .refine((v) => !URL.canParse(v) || (!new URL(v).username && !new URL(v).password), 'must not contain credentials (put them in OTEL_EXPORTER_OTLP_HEADERS)')
      .refine((v) => !URL.canParse(v) || (!new URL(v).search && !new URL(v).hash), 'must be a base URL without query or fragment, like http://collector:4318')
      .optional(),
    /** The service name traces carry; default for-clinic-api / for-clinic-worker. */
    OTEL_SERVICE_NAME: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, dots, dashes or underscores').optional(),
    /** Only OTLP over HTTP with JSON is exported; any other protocol is refused rather than silently not used. */
    OTEL_EXPORTER_OTLP_PROTOCOL: z.literal('http/json', { message: 'only http/json is supported (OTLP over HTTP, JSON)' }).optional(),
    /** Not supported (refused): traces go to OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces. */
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.string().optional(),
    /** The worker's Temporal SDK metrics (Prometheus, host:port), e.g. 127.0.0.1:9466; off when unset. */
    TEMPORAL_METRICS_BIND: z.string().regex(/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be host:port').optional(),
    /** The operator listener: every /v1/operator/* route, and only those (README: Architecture). 0 = any free port. */
    OPERATOR_PORT: port.default(3001),
    /** Loopback by default: operators reach it through the provider's internal network, never the public one. */
    OPERATOR_HOST: z.string().regex(/^\S+$/, 'must be a host name or address without spaces').default('127.0.0.1'),
    /** Comma-separated CIDRs the operator listener answers; everything else gets 403 source_not_allowed. Never empty. */
    OPERATOR_ALLOWED_CIDRS: commaList(
      (c) => (canonicalCidr(c) === undefined ? 'is not a network in CIDR form without host bits, like 10.20.0.0/16' : undefined),
      (c) => c,
    ).default(['127.0.0.0/8', '::1/128']),
    /**
     * The break-glass credential (README: Operators): a bearer token with every operator role, for
     * when no operator can sign in. Accepted only while break-glass is enabled (see
     * OPERATOR_BREAK_GLASS); each use is logged as `break-glass` and mailed to SECURITY_EMAILS.
     */
    OPERATOR_TOKEN: z.string().min(32, 'must be at least 32 characters (generate one with `openssl rand -hex 32`)').optional(),
    /** `enabled` or `disabled`; unset: enabled except when NODE_ENV=production. */
    OPERATOR_BREAK_GLASS: z.enum(['enabled', 'disabled']).optional(),
    /** Operator sessions: idle timeout and absolute lifetime (seconds). */
    OPERATOR_SESSION_IDLE_SECONDS: int(60, DAY).default(30 * 60),
    OPERATOR_SESSION_MAX_SECONDS: int(60, 7 * DAY).default(8 * 3_600),
    /** The operators' WebAuthn relying party (their own listener's origin); default: WEBAUTHN_RP_ID and WEBAUTHN_ORIGINS. */
    OPERATOR_WEBAUTHN_RP_ID: rpId('ops.forclinic.example').optional(),
    OPERATOR_WEBAUTHN_ORIGINS: passkeyOrigins.optional(),
    /** Who is told of security-relevant platform events (each break-glass use), comma-separated. */
    SECURITY_EMAILS: commaList((e) => (email.safeParse(e).success ? undefined : 'is not an e-mail address'), (e) => e).default([]),
    /** The application's login role: owns nothing, member of forclinic_app only (db/roles.ts). */
    DATABASE_URL: postgresUrl,
    DATABASE_POOL_MAX: int(1, 200).default(10),
    /** Long exports running at once per API process (at most one per clinic); keep it well below DATABASE_POOL_MAX. */
    EXPORT_CONCURRENCY: int(1, 50).default(2),
    TEMPORAL_ADDRESS: z
      .string()
      .regex(/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(?:[1-9]\d{0,4})$/, 'must be host:port, e.g. temporal:7233')
      .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535, 'has a port above 65535')
      .default('127.0.0.1:7233'),
    TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
    /** TLS to the Temporal frontend (required with an API key or client certificates). */
    TEMPORAL_TLS: bool.default(false),
    /** PEM file of the CA that signed the Temporal frontend's certificate (default: the system's roots). */
    TEMPORAL_TLS_CA_FILE: readableFile.optional(),
    /** mTLS: this service's client certificate and key (PEM files), set together. */
    TEMPORAL_TLS_CERT_FILE: readableFile.optional(),
    TEMPORAL_TLS_KEY_FILE: readableFile.optional(),
    /** The name the frontend's certificate is for, when it differs from TEMPORAL_ADDRESS's host. */
    TEMPORAL_TLS_SERVER_NAME: z.string().regex(DOMAIN, 'must be a DNS name').optional(),
    /** An API key (Temporal Cloud or a server with an authorizer that accepts bearer tokens). */
    TEMPORAL_API_KEY: z.string().min(16, 'looks too short to be an API key').optional(),
    TEMPORAL_TASK_QUEUE: z.string().min(1).default('for-clinic'),
    SES_ENDPOINT: httpUrl.optional(),
    MAIL_FROM: z.string().email().default('no-reply@forclinic.example'),
    TLS_CERT_FILE: z.string().min(1).optional(),
    TLS_KEY_FILE: z.string().min(1).optional(),
    BEHIND_TLS_PROXY: bool.default(false),
    BODY_LIMIT_BYTES: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
    SHUTDOWN_GRACE_MS: int(0, 600_000).default(10_000),
    /** Comma-separated origins of the clinics' browser front ends allowed to call the API (CORS). */
    CORS_ORIGINS: commaList((o) => originProblem(o, ['http:', 'https:']), (o) => o).default([]),
    /** Comma-separated CIDRs of load balancers whose X-Forwarded-For is believed. */
    TRUSTED_PROXIES: commaList(
      (c) => (canonicalCidr(c) === undefined ? 'is not a network in CIDR form without host bits, like 10.0.0.0/8' : undefined),
      (c) => c,
    ).default([]),
    /** Failed logins allowed per client address per window before 429 rate_limited. */
    LOGIN_FAILURES_PER_IP: int(1, 10_000).default(20),
    /** Failed logins allowed per login ID of a clinic (whether or not it exists), from anywhere, per window. */
    LOGIN_FAILURES_PER_ACCOUNT: int(1, 10_000).default(10),
    /** Failed logins allowed per clinic (all its login IDs, from anywhere) per window. */
    LOGIN_FAILURES_PER_CLINIC: int(1, 1_000_000).default(100),
    LOGIN_RATE_WINDOW_SECONDS: int(1, DAY).default(300),
    /** The key of the HMAC that stands for login IDs in throttles, lockouts and the probe records. */
    LOGIN_ID_HMAC_KEY: z.string().min(32, 'must be at least 32 characters (generate one with `openssl rand -hex 32`)').optional(),
    /** argon2 computations at once per process, and how many may wait before 429 rate_limited. */
    PASSWORD_HASH_CONCURRENCY: int(1, 64).default(4),
    PASSWORD_HASH_QUEUE: int(0, 10_000).default(64),
    /**
     * Sessions whose authentication an API process keeps, each used only after the clinic's
     * generation proves it current (db/session-auth-cache.ts); 0 reads everything on every request.
     * About 2.3 KB each (measured): the bound keeps the largest cache near 230 MiB.
     */
    SESSION_AUTH_CACHE_ENTRIES: int(0, 100_000).default(10_000),
    /** Object storage for encrypted files: a folder (`fs`) or an S3 bucket (`s3`). */
    STORAGE: z.enum(['fs', 's3']).default('fs'),
    STORAGE_DIR: z.string().min(1).default('.data/objects'),
    S3_BUCKET: s3Bucket.optional(),
    S3_REGION: awsRegion.optional(),
    S3_ENDPOINT: httpUrl.optional(),
    S3_FORCE_PATH_STYLE: bool.default(false),
    FILE_MAX_BYTES: int(1, 5 * 1024 ** 3).default(50 * 1024 * 1024),
    /** A clinic's full data export is deleted this long after it is ready (README: Data export). */
    EXPORT_RETENTION_SECONDS: int(1, 90 * DAY).default(7 * DAY),
    /** Consultation timers (seconds): reminders before the start, the online join window, no-show, payment reminder. */
    CONSULTATION_REMINDERS_SECONDS: commaList(
      (n) => (/^\d{1,8}$/.test(n) && Number(n) >= 1 && Number(n) <= 30 * DAY ? undefined : `must be whole seconds from 1 to ${30 * DAY}`),
      Number,
    )
      .refine((list) => new Set(list).size === list.length, 'must not name the same moment twice')
      .default([DAY, 3_600]),
    JOIN_WINDOW_BEFORE_SECONDS: int(0, 7 * DAY).default(600),
    NO_SHOW_AFTER_SECONDS: int(1, DAY).default(900),
    PAYMENT_REMINDER_AFTER_SECONDS: int(1, 90 * DAY).default(DAY),
    /** Online consultations: the video service's base URL and the secret its join tokens are signed with. */
    VIDEO_BASE_URL: httpUrl.default('https://video.forclinic.example'),
    VIDEO_TOKEN_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    /**
     * Notices: mails per second across every worker (the SES account's sending rate), enforced by
     * the Temporal server on the mail task queue; the advance notice's lead times and the minimum;
     * the address clinics ask and report incidents to.
     */
    MAIL_SEND_RATE: int(1, 10_000).default(10),
    CHANGE_NOTICE_LEAD_SECONDS: commaList(
      (n) => (/^\d{1,9}$/.test(n) && Number(n) >= 1 && Number(n) <= 365 * DAY ? undefined : `must be whole seconds from 1 to ${365 * DAY}`),
      Number,
    )
      .refine((list) => new Set(list).size === list.length, 'must not name the same lead time twice')
      .default([7 * DAY, DAY]),
    CHANGE_NOTICE_MIN_LEAD_SECONDS: int(0, 365 * DAY).default(7 * DAY),
    /**
     * Contract end (README: Contract end): reminders this long before the end (the announcement
     * goes at once and the "on the day" notice at the end), the read-only grace before the purge,
     * the purge's own login (reads and deletes one clinic's rows, nothing else), its batch size,
     * and the key deletion certificates are signed with (HMAC-SHA-256).
     */
    CONTRACT_NOTICE_LEAD_SECONDS: commaList(
      (n) => (/^\d{1,9}$/.test(n) && Number(n) >= 1 && Number(n) <= 365 * DAY ? undefined : `must be whole seconds from 1 to ${365 * DAY}`),
      Number,
    )
      .refine((list) => new Set(list).size === list.length, 'must not name the same lead time twice')
      .default([60 * DAY, 14 * DAY]),
    CONTRACT_GRACE_SECONDS: int(1, 365 * DAY).default(30 * DAY),
    /** After a legal hold is lifted, the purge waits at least this long, and the clinic is told the date. */
    CONTRACT_HOLD_RELEASE_NOTICE_SECONDS: int(0, 365 * DAY).default(14 * DAY),
    PURGE_DATABASE_URL: postgresUrl.optional(),
    PURGE_BATCH_ROWS: int(100, 100_000).default(5_000),
    DELETION_CERTIFICATE_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
    SECURITY_CONTACT_EMAIL: z.string().email().default('security@forclinic.example'),
    /** The operation log screen's default window, and the longest window one request may cover. */
    AUDIT_DEFAULT_WINDOW_DAYS: int(1, 3_660).default(90),
    AUDIT_MAX_WINDOW_DAYS: int(1, 3_660).default(366),
    /** WebAuthn relying party: the domain the clinics' front end runs on (never an IP address). */
    WEBAUTHN_RP_ID: rpId('app.forclinic.example').default('localhost'),
    WEBAUTHN_RP_NAME: z.string().min(1).default('FOR CLINIC'),
    /** Comma-separated origins allowed to perform passkey ceremonies (https, or http only on localhost). */
    WEBAUTHN_ORIGINS: passkeyOrigins.default(['http://localhost:3000']),
    ...backupShape,
    /** Where backup and restore-test failures are mailed (comma-separated). */
    OPERATOR_EMAILS: commaList((e) => (email.safeParse(e).success ? undefined : 'is not an e-mail address'), (e) => e).default([]),
    /**
     * The verification server for restore tests, as a role that may create databases and nothing
     * more (CREATEDB): each test creates a scratch database there, restores into it and drops it.
     */
    RESTORE_TEST_DATABASE_URL: postgresUrl.optional(),
    /** When the yearly restore test runs (cron, Japan time). */
    RESTORE_TEST_CRON: z
      .string()
      .regex(/^\S+( \S+){4}$/, 'must be a five-field cron expression (minute hour day month weekday), Japan time')
      .default('0 4 1 2 *'),
  })
  .superRefine((c, ctx) => {
    checkBackupStore(c, ctx);
    if (c.BACKUP_DATABASE_URL && URL.canParse(c.BACKUP_DATABASE_URL) && URL.canParse(c.DATABASE_URL) && userOf(c.BACKUP_DATABASE_URL) === userOf(c.DATABASE_URL)) {
      ctx.addIssue({ code: 'custom', path: ['BACKUP_DATABASE_URL'], message: 'must log in as the backup role, not as the application\'s login (which cannot read other clinics\' rows)' });
    }
    if (!c.ALLOW_NON_JAPAN_REGION && !(JAPAN_REGIONS as readonly string[]).includes(c.AWS_REGION)) {
      ctx.addIssue({
        code: 'custom',
        path: ['AWS_REGION'],
        message: `customer data must stay in Japan: use ${JAPAN_REGIONS.join(' or ')}, or set ALLOW_NON_JAPAN_REGION=true deliberately`,
      });
    }
    checkResidency(c, ctx);
    const s3Region = c.S3_REGION ?? c.AWS_REGION;
    if (c.STORAGE === 's3' && !c.ALLOW_NON_JAPAN_REGION && !(JAPAN_REGIONS as readonly string[]).includes(s3Region)) {
      ctx.addIssue({ code: 'custom', path: ['S3_REGION'], message: `files must stay in Japan: use ${JAPAN_REGIONS.join(' or ')}, or set ALLOW_NON_JAPAN_REGION=true deliberately` });
    }
    if (c.STORAGE === 's3' && !c.S3_BUCKET) {
      ctx.addIssue({ code: 'custom', path: ['S3_BUCKET'], message: 'is required when STORAGE=s3' });
    }
    if (Boolean(c.TLS_CERT_FILE) !== Boolean(c.TLS_KEY_FILE)) {
      ctx.addIssue({ code: 'custom', path: ['TLS_CERT_FILE'], message: 'TLS_CERT_FILE and TLS_KEY_FILE must be set together' });
    }
    if (c.OPERATOR_PORT !== 0 && (c.OPERATOR_PORT === c.PORT || c.OPERATOR_PORT === c.METRICS_PORT)) {
      // One port cannot be both listeners: operator routes must never answer where clinics connect.
      ctx.addIssue({ code: 'custom', path: ['OPERATOR_PORT'], message: 'must differ from PORT and METRICS_PORT' });
    }
    if (c.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined) {
      // The exporter is given its URL explicitly and would ignore this one: refuse it rather than trace somewhere unexpected.
      ctx.addIssue({ code: 'custom', path: ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'], message: 'is not supported: set OTEL_EXPORTER_OTLP_ENDPOINT (traces go to its /v1/traces)' });
    }
    if (c.EXPORT_CONCURRENCY >= c.DATABASE_POOL_MAX) {
      ctx.addIssue({ code: 'custom', path: ['EXPORT_CONCURRENCY'], message: `must be below DATABASE_POOL_MAX (${c.DATABASE_POOL_MAX}), so exports always leave connections for other requests` });
    }
    if (Boolean(c.TEMPORAL_TLS_CERT_FILE) !== Boolean(c.TEMPORAL_TLS_KEY_FILE)) {
      ctx.addIssue({ code: 'custom', path: ['TEMPORAL_TLS_CERT_FILE'], message: 'TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE must be set together' });
    }
    const tlsSettings = [c.TEMPORAL_TLS_CA_FILE, c.TEMPORAL_TLS_CERT_FILE, c.TEMPORAL_TLS_SERVER_NAME, c.TEMPORAL_API_KEY].some(Boolean);
    if (tlsSettings && !c.TEMPORAL_TLS) {
      // An API key or a client certificate sent in clear would be a credential given away.
      ctx.addIssue({ code: 'custom', path: ['TEMPORAL_TLS'], message: 'must be true when TEMPORAL_API_KEY or any TEMPORAL_TLS_* setting is given' });
    }
    if (c.AUDIT_DEFAULT_WINDOW_DAYS > c.AUDIT_MAX_WINDOW_DAYS) {
      ctx.addIssue({ code: 'custom', path: ['AUDIT_DEFAULT_WINDOW_DAYS'], message: `must not exceed AUDIT_MAX_WINDOW_DAYS (${c.AUDIT_MAX_WINDOW_DAYS})` });
    }
    if (c.PURGE_DATABASE_URL && URL.canParse(c.PURGE_DATABASE_URL) && URL.canParse(c.DATABASE_URL) && userOf(c.PURGE_DATABASE_URL) === userOf(c.DATABASE_URL)) {
      ctx.addIssue({ code: 'custom', path: ['PURGE_DATABASE_URL'], message: 'must log in as the purge\'s own role, not as the application\'s login (which may not delete a clinic\'s operation log)' });
    }
    if (c.NODE_ENV === 'production' && !c.VIDEO_TOKEN_SECRET) {
      // Without it every API process would sign join tokens with its own random secret,
      // which the video service cannot verify.
      ctx.addIssue({ code: 'custom', path: ['VIDEO_TOKEN_SECRET'], message: 'is required when NODE_ENV=production (the secret shared with the video service)' });
    }
    if (c.NODE_ENV === 'production' && !c.LOGIN_ID_HMAC_KEY) {
      // Without it every process would hash login IDs with its own random key: instances would
      // disagree about lockouts and throttles, and probe records could not be compared.
      ctx.addIssue({ code: 'custom', path: ['LOGIN_ID_HMAC_KEY'], message: 'is required when NODE_ENV=production (shared by every API instance)' });
    }
    checkOrigins(ctx, 'WEBAUTHN', c.WEBAUTHN_RP_ID, c.WEBAUTHN_ORIGINS);
    checkOrigins(ctx, 'OPERATOR_WEBAUTHN', c.OPERATOR_WEBAUTHN_RP_ID ?? c.WEBAUTHN_RP_ID, c.OPERATOR_WEBAUTHN_ORIGINS ?? c.WEBAUTHN_ORIGINS);
    if (c.OPERATOR_SESSION_MAX_SECONDS < c.OPERATOR_SESSION_IDLE_SECONDS) {
      ctx.addIssue({ code: 'custom', path: ['OPERATOR_SESSION_MAX_SECONDS'], message: `must be at least OPERATOR_SESSION_IDLE_SECONDS (${c.OPERATOR_SESSION_IDLE_SECONDS})` });
    }
    if (c.NODE_ENV === 'production' && breakGlassEnabled(c) && !c.SECURITY_EMAILS.length) {
      // A break-glass credential nobody hears about is a back door.
      ctx.addIssue({ code: 'custom', path: ['SECURITY_EMAILS'], message: 'is required when OPERATOR_BREAK_GLASS=enabled in production (every break-glass use is mailed there)' });
    }
  });

/** Every origin allowed to run passkey ceremonies must be on the relying party's domain. */
function checkOrigins(ctx: z.RefinementCtx, prefix: string, rpId: string, origins: string[]): void {
  for (const origin of origins) {
    const host = URL.canParse(origin) ? new URL(origin).hostname : undefined;
    if (host && host !== rpId && !host.endsWith(`.${rpId}`)) {
      ctx.addIssue({ code: 'custom', path: [`${prefix}_ORIGINS`], message: `"${origin}" is not on ${prefix}_RP_ID ${rpId} or a subdomain of it, so passkeys would fail there` });
    }
  }
}

/**
 * Break-glass (`OPERATOR_TOKEN`) is off in production unless enabled explicitly, and on elsewhere
 * unless disabled, so that local use stays `npm start` and one token.
 */
export function breakGlassEnabled(c: { NODE_ENV: string; OPERATOR_BREAK_GLASS?: 'enabled' | 'disabled' }): boolean {
  return c.OPERATOR_BREAK_GLASS ? c.OPERATOR_BREAK_GLASS === 'enabled' : c.NODE_ENV !== 'production';
}

export type Config = z.infer<typeof schema>;

/**
 * What only the API checks: the break-glass token is a credential of every operator role, used
 * by the operator listener alone. The worker serves no requests, so it neither needs nor keeps
 * it (loadConfig for the worker drops it).
 */
const apiSchema = schema.superRefine((c, ctx) => {
  if (breakGlassEnabled(c) && !c.OPERATOR_TOKEN) {
    ctx.addIssue({
      code: 'custom',
      path: ['OPERATOR_TOKEN'],
      message: c.OPERATOR_BREAK_GLASS === 'enabled' ? 'is required when OPERATOR_BREAK_GLASS=enabled' : 'is required outside production unless OPERATOR_BREAK_GLASS=disabled (the break-glass token; `openssl rand -hex 32`)',
    });
  }
});

/** Every variable the product reads (docs and deployment checks use this list). */
export const CONFIG_KEYS = Object.keys(schema.shape) as Array<keyof Config>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

// Empty strings from shells or compose files mean "unset", not "empty value".
const withoutEmpty = (env: NodeJS.ProcessEnv) => Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
const problemsOf = (issues: z.core.$ZodIssue[]) => issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);

/**
 * What only the worker needs (the API never purges): checked by workers/main.ts at start-up.
 * A per-process random certificate key would sign certificates nobody can verify later.
 */
export function workerConfigProblems(c: Config): string[] {
  return c.NODE_ENV === 'production' && !c.DELETION_CERTIFICATE_KEY
    ? ['DELETION_CERTIFICATE_KEY: is required for the worker when NODE_ENV=production (deletion certificates must stay verifiable)']
    : [];
}

/** The configuration of the API (the default) or the worker (without the break-glass token). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, forProcess: 'api' | 'worker' = 'api'): Config {
  const { OPERATOR_TOKEN: token, ...rest } = withoutEmpty(env);
  const cleaned = forProcess === 'worker' ? rest : { ...rest, OPERATOR_TOKEN: token };
  const parsed = (forProcess === 'worker' ? schema : apiSchema).safeParse(cleaned);
  // The owner's credential in the application's environment would put it one exploit away.
  const owner = cleaned.MIGRATION_DATABASE_URL
    ? ['MIGRATION_DATABASE_URL: must not be given to the API or the worker: it is the owner\'s credential, for migrations only (npm run migrate)']
    : [];
  if (!parsed.success || owner.length) throw new ConfigError([...owner, ...(parsed.success ? [] : problemsOf(parsed.error.issues))]);
  return parsed.data;
}

const userOf = (value: string) => decodeURIComponent(new URL(value).username);

/**
 * `npm run migrate` and the launcher's migration step: the owner's URL, and (optionally) the
 * application's login, which migrations then create if missing and grant what it needs.
 */
const migrationSchema = z
  .object({
    MIGRATION_DATABASE_URL: z
      .string({ error: (i) => (i.input === undefined ? 'is required: the URL of the tables\' owner, used by migrations only (DATABASE_URL is the application\'s login)' : undefined) })
      .pipe(postgresUrl),
    DATABASE_URL: postgresUrl.optional(),
    /** When given, the backup role is created or updated too (needs a superuser owner: BYPASSRLS). */
    BACKUP_DATABASE_URL: postgresUrl.optional(),
    /** When given, the contract-end purge's login is created if missing and made a member of forclinic_purge. */
    PURGE_DATABASE_URL: postgresUrl.optional(),
  })
  .superRefine((c, ctx) => {
    if (c.BACKUP_DATABASE_URL && URL.canParse(c.BACKUP_DATABASE_URL)) {
      const backup = userOf(c.BACKUP_DATABASE_URL);
      if ([c.MIGRATION_DATABASE_URL, c.DATABASE_URL].some((u) => u && URL.canParse(u) && userOf(u) === backup)) {
        ctx.addIssue({ code: 'custom', path: ['BACKUP_DATABASE_URL'], message: `logs in as "${backup}", which is already the owner or the application's login: the backup needs a role of its own` });
      }
    }
    if (!c.DATABASE_URL || !URL.canParse(c.DATABASE_URL) || !URL.canParse(c.MIGRATION_DATABASE_URL)) return;
    const app = userOf(c.DATABASE_URL);
    if (!app) {
      ctx.addIssue({ code: 'custom', path: ['DATABASE_URL'], message: 'must name the application\'s login role (postgres://forclinic_login:…@host/db)' });
    } else if (app === userOf(c.MIGRATION_DATABASE_URL)) {
      ctx.addIssue({ code: 'custom', path: ['DATABASE_URL'], message: `logs in as "${app}", the same user as MIGRATION_DATABASE_URL: the application needs a login role of its own that owns nothing` });
    }
  });

export type MigrationConfig = z.infer<typeof migrationSchema>;

export function loadMigrationConfig(env: NodeJS.ProcessEnv = process.env): MigrationConfig {
  const parsed = migrationSchema.safeParse(withoutEmpty(env));
  if (!parsed.success) throw new ConfigError(problemsOf(parsed.error.issues));
  return parsed.data;
}

const restoreSchema = z.object(backupShape).superRefine(checkBackupStore);
export type RestoreConfig = z.infer<typeof restoreSchema>;

/** `npm run restore`: the backup store and the key provider only (no API or worker settings). */
export function loadRestoreConfig(env: NodeJS.ProcessEnv = process.env): RestoreConfig {
  const parsed = restoreSchema.safeParse(withoutEmpty(env));
  if (!parsed.success) throw new ConfigError(problemsOf(parsed.error.issues));
  return parsed.data;
}

/**
 * What the API refuses to listen with (the worker shares the configuration but serves no HTTP):
 * production answers over TLS only — its own certificate, or a TLS-terminating proxy whose
 * addresses are known (without them anyone's X-Forwarded-* would be believed).
 */
export function apiListenerProblems(c: Config): string[] {
  if (c.NODE_ENV !== 'production') return [];
  if (c.TLS_CERT_FILE) return [];
  if (!c.BEHIND_TLS_PROXY) {
    return ['BEHIND_TLS_PROXY: production refuses plain HTTP: set TLS_CERT_FILE and TLS_KEY_FILE, or BEHIND_TLS_PROXY=true with TRUSTED_PROXIES naming the TLS-terminating proxy'];
  }
  if (c.TRUSTED_PROXIES.length === 0) return ['TRUSTED_PROXIES: is required with BEHIND_TLS_PROXY=true in production: the TLS-terminating proxy\'s addresses (CIDR)'];
  return [];
}
