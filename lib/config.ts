import { z } from 'zod';
import { canonicalCidr } from '../domain/network';

/**
 * The one place configuration is read. Every process (API, worker, launcher, tests)
 * calls loadConfig() at start-up, so a bad variable fails fast with a message naming it.
 */

const JAPAN_REGIONS = ['ap-northeast-1', 'ap-northeast-3'] as const;

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const port = z.coerce.number().int().min(0).max(65535);

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    HOST: z.string().min(1).default('127.0.0.1'),
    PORT: port.default(3000),
    OPERATOR_TOKEN: z.string().min(32, 'must be at least 32 characters (generate one with `openssl rand -hex 32`)'),
    DATABASE_URL: z.string().url(),
    DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
    TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
    TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
    TEMPORAL_TASK_QUEUE: z.string().min(1).default('for-clinic'),
    AWS_REGION: z.string().min(1).default('ap-northeast-1'),
    ALLOW_NON_JAPAN_REGION: bool.default(false),
    SES_ENDPOINT: z.string().url().optional(),
    MAIL_FROM: z.string().email().default('no-reply@forclinic.example'),
    TLS_CERT_FILE: z.string().min(1).optional(),
    TLS_KEY_FILE: z.string().min(1).optional(),
    BEHIND_TLS_PROXY: bool.default(false),
    BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).default(1024 * 1024),
    SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
    /** Comma-separated origins of the clinics' browser front ends allowed to call the API (CORS). */
    CORS_ORIGINS: z
      .string()
      .default('')
      .transform((s) => s.split(',').map((o) => o.trim()).filter(Boolean))
      .refine((list) => list.every((o) => /^https?:\/\/[^/\s]+$/.test(o)), 'must be comma-separated origins like https://app.example.jp'),
    /** Comma-separated CIDRs of load balancers whose X-Forwarded-For is believed. */
    TRUSTED_PROXIES: z
      .string()
      .default('')
      .transform((s) => s.split(',').map((c) => c.trim()).filter(Boolean))
      .refine((list) => list.every((c) => canonicalCidr(c) !== undefined), 'must be comma-separated CIDRs like 10.0.0.0/8'),
    /** Failed logins allowed per client address per window before 429 rate_limited. */
    LOGIN_FAILURES_PER_IP: z.coerce.number().int().min(1).default(20),
    LOGIN_RATE_WINDOW_SECONDS: z.coerce.number().int().min(1).default(300),
    /** Where clinics' master keys live: `local` (a key store folder) or `kms` (AWS KMS). */
    KEY_PROVIDER: z.enum(['local', 'kms']).default('local'),
    /** The local key store. Back it up apart from the data, or crypto-shredding cannot work. */
    KEY_STORE_DIR: z.string().min(1).default('.data/keys'),
    KMS_ENDPOINT: z.string().url().optional(),
    /** Object storage for encrypted files: a folder (`fs`) or an S3 bucket (`s3`). */
    STORAGE: z.enum(['fs', 's3']).default('fs'),
    STORAGE_DIR: z.string().min(1).default('.data/objects'),
    S3_BUCKET: z.string().min(3).optional(),
    S3_REGION: z.string().min(1).optional(),
    S3_ENDPOINT: z.string().url().optional(),
    S3_FORCE_PATH_STYLE: bool.default(false),
    FILE_MAX_BYTES: z.coerce.number().int().min(1).default(50 * 1024 * 1024),
    /** Consultation timers (seconds): reminders before the start, the online join window, no-show, payment reminder. */
    CONSULTATION_REMINDERS_SECONDS: z
      .string()
      .default('86400,3600')
      .transform((s) => s.split(',').map((x) => Number(x.trim())).filter((n) => Number.isFinite(n) && n > 0)),
    JOIN_WINDOW_BEFORE_SECONDS: z.coerce.number().int().min(0).default(600),
    NO_SHOW_AFTER_SECONDS: z.coerce.number().int().min(1).default(900),
    PAYMENT_REMINDER_AFTER_SECONDS: z.coerce.number().int().min(1).default(86_400),
    /** Online consultations: the video service's base URL and the secret its join tokens are signed with. */
    VIDEO_BASE_URL: z.string().url().default('https://video.forclinic.example'),
    VIDEO_TOKEN_SECRET: z.string().min(32).optional(),
    /** The operation log screen's default window, and the longest window one request may cover. */
    AUDIT_DEFAULT_WINDOW_DAYS: z.coerce.number().int().min(1).default(90),
    AUDIT_MAX_WINDOW_DAYS: z.coerce.number().int().min(1).default(366),
    /** WebAuthn relying party: the domain the clinics' front end runs on (never an IP address). */
    WEBAUTHN_RP_ID: z.string().min(1).default('localhost'),
    WEBAUTHN_RP_NAME: z.string().min(1).default('FOR CLINIC'),
    /** Comma-separated origins allowed to perform passkey ceremonies. */
    WEBAUTHN_ORIGINS: z
      .string()
      .default('http://localhost:3000')
      .transform((s) => s.split(',').map((o) => o.trim()).filter(Boolean)),
  })
  .superRefine((c, ctx) => {
    if (!c.ALLOW_NON_JAPAN_REGION && !(JAPAN_REGIONS as readonly string[]).includes(c.AWS_REGION)) {
      ctx.addIssue({
        code: 'custom',
        path: ['AWS_REGION'],
        message: `customer data must stay in Japan: use ${JAPAN_REGIONS.join(' or ')}, or set ALLOW_NON_JAPAN_REGION=true deliberately`,
      });
    }
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
  });

export type Config = z.infer<typeof schema>;

/** Every variable the product reads (docs and deployment checks use this list). */
export const CONFIG_KEYS = Object.keys(schema.shape) as Array<keyof Config>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings from shells or compose files mean "unset", not "empty value".
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  return parsed.data;
}
