import { loadConfig, loadRestoreConfig } from '../../lib/config';

const base = { OPERATOR_TOKEN: 'a'.repeat(64), DATABASE_URL: 'postgres://app@localhost/db' };

describe('backup configuration', () => {
  it('keeps at least 7 generations, in a folder by default', () => {
    const c = loadConfig(base);
    expect(c).toMatchObject({ BACKUP_GENERATIONS: 7, BACKUP_STORAGE: 'fs', BACKUP_DIR: '.data/backups', BACKUP_KEY_VERSION: 1, OPERATOR_EMAILS: [] });
    expect(() => loadConfig({ ...base, BACKUP_GENERATIONS: '6' })).toThrow(/BACKUP_GENERATIONS: must be at least 7/);
    expect(loadConfig({ ...base, BACKUP_GENERATIONS: '30' }).BACKUP_GENERATIONS).toBe(30);
  });

  it('keeps backups in Japan: an S3 store elsewhere is refused unless allowed, and needs its bucket', () => {
    expect(() => loadConfig({ ...base, BACKUP_STORAGE: 's3', BACKUP_S3_BUCKET: 'backups', BACKUP_S3_REGION: 'us-west-2' })).toThrow(/BACKUP_S3_REGION: backups must stay in Japan/);
    expect(() => loadConfig({ ...base, BACKUP_STORAGE: 's3' })).toThrow(/BACKUP_S3_BUCKET: is required/);
    expect(loadConfig({ ...base, BACKUP_STORAGE: 's3', BACKUP_S3_BUCKET: 'backups', BACKUP_S3_REGION: 'ap-northeast-3' }).BACKUP_S3_REGION).toBe('ap-northeast-3');
    expect(() => loadRestoreConfig({ BACKUP_STORAGE: 's3', BACKUP_S3_BUCKET: 'backups', AWS_REGION: 'eu-west-1' })).toThrow(/BACKUP_S3_REGION/);
  });

  it('refuses the application\'s own login as the backup role, and bad operator addresses', () => {
    expect(() => loadConfig({ ...base, BACKUP_DATABASE_URL: 'postgres://app:x@localhost/db' })).toThrow(/BACKUP_DATABASE_URL: must log in as the backup role/);
    expect(() => loadConfig({ ...base, OPERATOR_EMAILS: 'ops@example.jp,,' })).toThrow(/OPERATOR_EMAILS/);
    expect(() => loadConfig({ ...base, OPERATOR_EMAILS: 'not-an-address' })).toThrow(/"not-an-address" is not an e-mail address/);
    expect(() => loadConfig({ ...base, RESTORE_TEST_CRON: 'yearly' })).toThrow(/RESTORE_TEST_CRON/);
  });
});
