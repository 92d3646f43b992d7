import { ConfigError, loadConfig } from '../../lib/config';

const base = { OPERATOR_TOKEN: 'a'.repeat(64), DATABASE_URL: 'postgres://u@localhost/db' };

describe('loadConfig', () => {
  it('applies defaults: Tokyo region, port 3000, 1 MiB body limit', () => {
    const c = loadConfig(base);
    expect(c.AWS_REGION).toBe('ap-northeast-1');
    expect(c.PORT).toBe(3000);
    expect(c.BODY_LIMIT_BYTES).toBe(1024 * 1024);
    expect(c.HOST).toBe('127.0.0.1');
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
});
