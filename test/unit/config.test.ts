import { execFile } from 'node:child_process';
import path from 'node:path';
import { apiListenerProblems, ConfigError, loadConfig, loadMigrationConfig } from '../../lib/config';

const base = { OPERATOR_TOKEN: 'a'.repeat(64), DATABASE_URL: 'postgres://u@localhost/db' };

describe('loadConfig', () => {
  it('applies defaults: Tokyo region, port 3000, 1 MiB body limit', () => {
    const c = loadConfig(base);
    expect(c.AWS_REGION).toBe('ap-northeast-1');
    expect(c.PORT).toBe(3000);
    expect(c.BODY_LIMIT_BYTES).toBe(1024 * 1024);
    expect(c.HOST).toBe('127.0.0.1');
  });

  it('puts the operator listener on its own loopback port, answering loopback only unless told otherwise', () => {
    const c = loadConfig(base);
    expect([c.OPERATOR_HOST, c.OPERATOR_PORT, c.OPERATOR_ALLOWED_CIDRS]).toEqual(['127.0.0.1', 3001, ['127.0.0.0/8', '::1/128']]);
    // Empty means unset, so the list falls back to loopback: it never becomes "everyone".
    expect(loadConfig({ ...base, OPERATOR_ALLOWED_CIDRS: '' }).OPERATOR_ALLOWED_CIDRS).toEqual(['127.0.0.0/8', '::1/128']);
    expect(loadConfig({ ...base, OPERATOR_ALLOWED_CIDRS: '10.20.0.0/16, 2001:db8::/32' }).OPERATOR_ALLOWED_CIDRS).toEqual(['10.20.0.0/16', '2001:db8::/32']);
    expect(() => loadConfig({ ...base, OPERATOR_ALLOWED_CIDRS: '10.20.0.1/16' })).toThrow(/OPERATOR_ALLOWED_CIDRS: "10.20.0.1\/16" is not a network/);
    expect(() => loadConfig({ ...base, OPERATOR_PORT: '3000' })).toThrow(/OPERATOR_PORT: must differ from PORT and METRICS_PORT/);
    expect(() => loadConfig({ ...base, OPERATOR_PORT: '9100', METRICS_PORT: '9100' })).toThrow(/OPERATOR_PORT: must differ/);
    expect(loadConfig({ ...base, PORT: '0', OPERATOR_PORT: '0' }).OPERATOR_PORT).toBe(0);
  });

  it('keeps customer data in Japan unless a region outside is allowed explicitly', () => {
    expect(() => loadConfig({ ...base, AWS_REGION: 'us-east-1' })).toThrow(/AWS_REGION: customer data must stay in Japan/);
    expect(loadConfig({ ...base, AWS_REGION: 'ap-northeast-3' }).AWS_REGION).toBe('ap-northeast-3');
    expect(loadConfig({ ...base, AWS_REGION: 'us-east-1', ALLOW_NON_JAPAN_REGION: 'true' }).AWS_REGION).toBe('us-east-1');
  });

  it('names every bad variable at once', () => {
    try {
      loadConfig({ OPERATOR_TOKEN: 'short', PORT: 'eighty' });
      throw new Error('expected a ConfigError');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const text = (err as ConfigError).problems.join('\n');
      expect(text).toMatch(/OPERATOR_TOKEN: must be at least 32 characters/);
      expect(text).toMatch(/DATABASE_URL/);
      expect(text).toMatch(/PORT/);
    }
  });

  it("refuses the owner's credential in the API's and the worker's environment", () => {
    expect(() => loadConfig({ ...base, MIGRATION_DATABASE_URL: 'postgres://owner@localhost/db' })).toThrow(
      /MIGRATION_DATABASE_URL: must not be given to the API or the worker/,
    );
    expect(loadConfig({ ...base, MIGRATION_DATABASE_URL: '' }).DATABASE_URL).toBe(base.DATABASE_URL);
  });

  it('requires the TLS certificate and key together', () => {
    expect(() => loadConfig({ ...base, TLS_CERT_FILE: '/cert.pem' })).toThrow(/TLS_CERT_FILE and TLS_KEY_FILE must be set together/);
  });

  it('keeps files in Japan: an S3 bucket in another region is refused unless allowed', () => {
    const s3 = { ...base, STORAGE: 's3', S3_BUCKET: 'clinic-files' };
    expect(() => loadConfig({ ...s3, S3_REGION: 'us-west-2' })).toThrow(/S3_REGION: files must stay in Japan/);
    expect(loadConfig({ ...s3 }).STORAGE).toBe('s3');
    expect(loadConfig({ ...s3, S3_REGION: 'us-west-2', ALLOW_NON_JAPAN_REGION: 'true' }).S3_REGION).toBe('us-west-2');
    expect(() => loadConfig({ ...base, STORAGE: 's3' })).toThrow(/S3_BUCKET: is required/);
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ ...base, PORT: '', SES_ENDPOINT: '' }).PORT).toBe(3000);
  });

  it('refuses a list with any bad entry instead of dropping it, and names the entry', () => {
    expect(loadConfig({ ...base, CONSULTATION_REMINDERS_SECONDS: ' 86400, 3600 ' }).CONSULTATION_REMINDERS_SECONDS).toEqual([86400, 3600]);
    expect(loadConfig(base).CONSULTATION_REMINDERS_SECONDS).toEqual([86400, 3600]);
    for (const [value, message] of [
      ['86400,abc', /"abc" must be whole seconds from 1 to 2592000/],
      ['86400,0', /"0" must be whole seconds/],
      ['86400,-60', /"-60" must be whole seconds/],
      ['86400,1.5', /"1.5" must be whole seconds/],
      ['86400,99999999', /"99999999" must be whole seconds/],
      ['86400,,3600', /entry 2 is empty/],
      ['86400,', /entry 2 is empty/],
      ['3600,3600', /must not name the same moment twice/],
    ] as const) {
      expect(() => loadConfig({ ...base, CONSULTATION_REMINDERS_SECONDS: value })).toThrow(new RegExp(`CONSULTATION_REMINDERS_SECONDS: ${message.source}`));
    }
    expect(() => loadConfig({ ...base, CORS_ORIGINS: 'https://app.example.jp,https://b.example.jp/' })).toThrow(/CORS_ORIGINS: "https:\/\/b.example.jp\/" must be written exactly as its origin https:\/\/b.example.jp/);
    expect(() => loadConfig({ ...base, CORS_ORIGINS: 'https://app.example.jp,' })).toThrow(/CORS_ORIGINS: entry 2 is empty/);
    expect(() => loadConfig({ ...base, CORS_ORIGINS: 'ftp://files.example.jp' })).toThrow(/CORS_ORIGINS: "ftp:\/\/files.example.jp" must use http: or https:/);
    expect(loadConfig({ ...base, CORS_ORIGINS: 'https://app.example.jp, http://localhost:5173' }).CORS_ORIGINS).toEqual(['https://app.example.jp', 'http://localhost:5173']);
    expect(() => loadConfig({ ...base, TRUSTED_PROXIES: '10.0.0.0/8,10.0.0.1/8' })).toThrow(/TRUSTED_PROXIES: "10.0.0.1\/8" is not a network in CIDR form/);
  });

  it('refuses numbers that are not plain whole numbers or lie outside their range', () => {
    for (const [key, value, message] of [
      ['PORT', '70000', /at most 65535/],
      ['PORT', '80.5', /whole number/],
      ['DATABASE_POOL_MAX', '0', /at least 1/],
      ['BODY_LIMIT_BYTES', '1e6', /whole number/],
      ['BODY_LIMIT_BYTES', '0x100000', /whole number/],
      ['LOGIN_FAILURES_PER_IP', '-1', /whole number/],
      ['LOGIN_FAILURES_PER_ACCOUNT', '0', /at least 1/],
      ['LOGIN_FAILURES_PER_CLINIC', '2000000', /at most 1000000/],
      ['PASSWORD_HASH_CONCURRENCY', '100', /at most 64/],
      ['PASSWORD_HASH_QUEUE', 'lots', /whole number/],
      ['FILE_MAX_BYTES', '99999999999999', /at most 5368709120/],
      ['NO_SHOW_AFTER_SECONDS', '0', /at least 1/],
      ['JOIN_WINDOW_BEFORE_SECONDS', '700000', /at most 604800/],
      ['SESSION_AUTH_CACHE_ENTRIES', '100001', /at most 100000/],
      ['SHUTDOWN_GRACE_MS', 'soon', /whole number/],
      ['AUDIT_MAX_WINDOW_DAYS', '100000', /at most 3660/],
    ] as const) {
      expect(() => loadConfig({ ...base, [key]: value })).toThrow(new RegExp(`${key}: .*${message.source}`));
    }
    expect(() => loadConfig({ ...base, AUDIT_DEFAULT_WINDOW_DAYS: '400' })).toThrow(/AUDIT_DEFAULT_WINDOW_DAYS: must not exceed AUDIT_MAX_WINDOW_DAYS \(366\)/);
    expect(loadConfig({ ...base, PORT: '8080', DATABASE_POOL_MAX: '20' })).toMatchObject({ PORT: 8080, DATABASE_POOL_MAX: 20 });
  });

  it('refuses unknown words instead of picking a default', () => {
    for (const [key, value] of [
      ['LOG_LEVEL', 'verbose'],
      ['NODE_ENV', 'prod'],
      ['KEY_PROVIDER', 'vault'],
      ['STORAGE', 'gcs'],
      ['BEHIND_TLS_PROXY', 'TRUE'],
      ['ALLOW_NON_JAPAN_REGION', 'on'],
      ['S3_FORCE_PATH_STYLE', 'maybe'],
    ] as const) {
      expect(() => loadConfig({ ...base, [key]: value })).toThrow(new RegExp(`${key}: `));
    }
  });

  it('checks addresses, regions and the passkey relying party', () => {
    expect(() => loadConfig({ ...base, DATABASE_URL: 'http://db.example/forclinic' })).toThrow(/DATABASE_URL: must be a URL starting with postgres:\/\/ or postgresql:\/\//);
    expect(() => loadConfig({ ...base, TEMPORAL_ADDRESS: 'temporal' })).toThrow(/TEMPORAL_ADDRESS: must be host:port/);
    expect(() => loadConfig({ ...base, TEMPORAL_ADDRESS: 'temporal:99999' })).toThrow(/TEMPORAL_ADDRESS: has a port above 65535/);
    expect(() => loadConfig({ ...base, AWS_REGION: 'tokyo', ALLOW_NON_JAPAN_REGION: 'true' })).toThrow(/AWS_REGION: must be an AWS region/);
    expect(() => loadConfig({ ...base, SES_ENDPOINT: 'localhost:8005' })).toThrow(/SES_ENDPOINT: must be a URL/);
    expect(() => loadConfig({ ...base, WEBAUTHN_RP_ID: '127.0.0.1', WEBAUTHN_ORIGINS: 'http://localhost:3000' })).toThrow(/WEBAUTHN_RP_ID: must be a domain name, not an IP address/);
    expect(() => loadConfig({ ...base, WEBAUTHN_RP_ID: 'https://app.example.jp' })).toThrow(/WEBAUTHN_RP_ID: must be a lower-case domain name/);
    expect(() => loadConfig({ ...base, WEBAUTHN_RP_ID: 'app.example.jp', WEBAUTHN_ORIGINS: 'https://app.example.jp,https://evil.example' })).toThrow(/WEBAUTHN_ORIGINS: "https:\/\/evil.example" is not on WEBAUTHN_RP_ID app.example.jp/);
    expect(() => loadConfig({ ...base, WEBAUTHN_RP_ID: 'example.jp', WEBAUTHN_ORIGINS: 'http://app.example.jp' })).toThrow(/WEBAUTHN_ORIGINS: "http:\/\/app.example.jp" must use https/);
    expect(loadConfig({ ...base, WEBAUTHN_RP_ID: 'example.jp', WEBAUTHN_ORIGINS: 'https://app.example.jp,https://example.jp' }).WEBAUTHN_ORIGINS).toHaveLength(2);
  });

  it('requires the video token secret and the login-ID key in production', () => {
    expect(() => loadConfig({ ...base, NODE_ENV: 'production' })).toThrow(/VIDEO_TOKEN_SECRET: is required when NODE_ENV=production/);
    expect(() => loadConfig({ ...base, NODE_ENV: 'production' })).toThrow(/LOGIN_ID_HMAC_KEY: is required when NODE_ENV=production/);
    expect(() => loadConfig({ ...base, LOGIN_ID_HMAC_KEY: 'short' })).toThrow(/LOGIN_ID_HMAC_KEY: must be at least 32 characters/);
    const production = { ...base, NODE_ENV: 'production', VIDEO_TOKEN_SECRET: 's'.repeat(32), LOGIN_ID_HMAC_KEY: 'k'.repeat(32) };
    expect(loadConfig(production).NODE_ENV).toBe('production');
  });

  it('keeps every data-holding endpoint in Japan: internal hosts, Japanese cloud regions, or hosts attested by an operator', () => {
    expect(() => loadConfig({ ...base, DATABASE_URL: 'postgres://u@db.abc.us-east-1.rds.amazonaws.com/db' })).toThrow(/DATABASE_URL: is in us-east-1; customer data must stay in Japan/);
    expect(() => loadConfig({ ...base, TEMPORAL_ADDRESS: 'prod.a1b2c.tmprl.cloud:7233' })).toThrow(/TEMPORAL_ADDRESS: \(prod.a1b2c.tmprl.cloud\) does not say where it is/);
    expect(() => loadConfig({ ...base, KMS_ENDPOINT: 'https://kms.eu-west-1.amazonaws.com' })).toThrow(/KMS_ENDPOINT: is in eu-west-1/);
    expect(() => loadConfig({ ...base, SES_ENDPOINT: 'https://203.0.113.7' })).toThrow(/SES_ENDPOINT: \(203.0.113.7\) does not say where it is/);
    const fine = loadConfig({
      ...base,
      DATABASE_URL: 'postgres://u@db.abc.ap-northeast-1.rds.amazonaws.com/db',
      BACKUP_DATABASE_URL: 'postgres://b@postgresql:5432/db',
      TEMPORAL_ADDRESS: 'prod.a1b2c.tmprl.cloud:7233',
      DATA_RESIDENCY_ATTESTED_HOSTS: 'prod.a1b2c.tmprl.cloud',
      S3_ENDPOINT: 'http://10.1.2.3:9000',
      KMS_ENDPOINT: 'https://kms.ap-northeast-3.amazonaws.com',
      SES_ENDPOINT: 'http://127.0.0.1:8005',
    });
    expect(fine.DATA_RESIDENCY_ATTESTED_HOSTS).toEqual(['prod.a1b2c.tmprl.cloud']);
    expect(loadConfig({ ...base, TEMPORAL_ADDRESS: 'prod.a1b2c.tmprl.cloud:7233', ALLOW_NON_JAPAN_REGION: 'true' }).TEMPORAL_ADDRESS).toBe('prod.a1b2c.tmprl.cloud:7233');
  });

  it('lets the API listen in production only over TLS: its own certificate, or a known TLS-terminating proxy', () => {
    const production = { ...base, NODE_ENV: 'production', VIDEO_TOKEN_SECRET: 's'.repeat(32), LOGIN_ID_HMAC_KEY: 'k'.repeat(32) };
    expect(apiListenerProblems(loadConfig(production))).toEqual([expect.stringMatching(/^BEHIND_TLS_PROXY: production refuses plain HTTP/)]);
    expect(apiListenerProblems(loadConfig({ ...production, BEHIND_TLS_PROXY: 'true' }))).toEqual([expect.stringMatching(/^TRUSTED_PROXIES: is required/)]);
    expect(apiListenerProblems(loadConfig({ ...production, BEHIND_TLS_PROXY: 'true', TRUSTED_PROXIES: '10.0.1.0/24' }))).toEqual([]);
    expect(apiListenerProblems(loadConfig({ ...production, TLS_CERT_FILE: 'cert.pem', TLS_KEY_FILE: 'key.pem' }))).toEqual([]);
    expect(apiListenerProblems(loadConfig(base))).toEqual([]); // development: plain HTTP on loopback
  });
});

describe('start-up with a bad configuration', () => {
  const root = path.join(__dirname, '..', '..');
  const start = (entry: string) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...base, CONSULTATION_REMINDERS_SECONDS: '86400,tomorrow' };
      const child = execFile(process.execPath, ['--import', 'tsx', path.join(root, entry)], { cwd: root, env, timeout: 30_000 }, (_err, _stdout, stderr) =>
        resolve({ code: child.exitCode, stderr }),
      );
    });

  it.each(['api/server.ts', 'workers/main.ts'])('%s prints what is wrong and exits with 1', async (entry) => {
    const { code, stderr } = await start(entry);
    expect(code).toBe(1);
    expect(stderr).toContain('invalid configuration');
    expect(stderr).toContain('CONSULTATION_REMINDERS_SECONDS: "tomorrow" must be whole seconds');
  });
});

describe('loadMigrationConfig', () => {
  const owner = 'postgres://forclinic_owner:o@db.internal/forclinic';
  const app = 'postgres://forclinic_login:a@db.internal/forclinic';

  it("takes the owner's URL, and the application's login when it is to be provisioned", () => {
    expect(loadMigrationConfig({ MIGRATION_DATABASE_URL: owner })).toEqual({ MIGRATION_DATABASE_URL: owner });
    expect(loadMigrationConfig({ MIGRATION_DATABASE_URL: owner, DATABASE_URL: app })).toEqual({ MIGRATION_DATABASE_URL: owner, DATABASE_URL: app });
  });

  it('says what is missing or wrong', () => {
    expect(() => loadMigrationConfig({ DATABASE_URL: app })).toThrow(/MIGRATION_DATABASE_URL: is required: the URL of the tables' owner, used by migrations only/);
    expect(() => loadMigrationConfig({ MIGRATION_DATABASE_URL: 'mysql://x@db/forclinic' })).toThrow(/MIGRATION_DATABASE_URL: must be a URL starting with postgres:/);
    expect(() => loadMigrationConfig({ MIGRATION_DATABASE_URL: owner, DATABASE_URL: 'postgres://forclinic_owner:other@db.internal/forclinic' })).toThrow(
      /DATABASE_URL: logs in as "forclinic_owner", the same user as MIGRATION_DATABASE_URL/,
    );
    expect(() => loadMigrationConfig({ MIGRATION_DATABASE_URL: owner, DATABASE_URL: 'postgres://db.internal/forclinic' })).toThrow(/DATABASE_URL: must name the application's login role/);
  });
});
