import { hostOf, placementOf, residencyProblem } from '../../domain/data-residency';

describe('where an endpoint is, from its host name', () => {
  it.each([
    ['127.0.0.1', 'internal'], ['::1', 'internal'], ['10.0.3.4', 'internal'], ['172.20.0.5', 'internal'], ['192.168.1.9', 'internal'],
    ['fd12:3456::1', 'internal'], ['postgresql', 'internal'], ['localhost', 'internal'], ['temporal.forclinic.svc.cluster.local', 'internal'],
    ['203.0.113.7', 'unknown'], ['8.8.8.8', 'unknown'], ['prod.abc12.tmprl.cloud', 'unknown'], ['db.example.com', 'unknown'],
  ])('%s is %s', (host, kind) => {
    expect(placementOf(host).kind).toBe(kind);
  });

  it.each([
    ['mydb.c1a2b3.ap-northeast-1.rds.amazonaws.com', 'ap-northeast-1', true],
    ['kms.ap-northeast-3.amazonaws.com', 'ap-northeast-3', true],
    ['ap-northeast-1.aws.api.temporal.io', 'ap-northeast-1', true],
    ['email.us-east-1.amazonaws.com', 'us-east-1', false],
    ['s3.us-gov-west-1.amazonaws.com', 'us-gov-west-1', false],
    ['x.asia-northeast1.run.app', 'asia-northeast1', true],
    ['x.us-central1.example.goog', 'us-central1', false],
    ['db.japaneast.cloudapp.azure.com', 'japaneast', true],
    ['db.westeurope.cloudapp.azure.com', 'westeurope', false],
  ])('%s names the region %s (in Japan: %s)', (host, region, inJapan) => {
    expect(placementOf(host)).toEqual({ kind: 'region', region, inJapan });
  });

  it('reads the host of URLs and of host:port', () => {
    expect(hostOf('postgres://u:p@db.internal:5432/x')).toBe('db.internal');
    expect(hostOf('temporal:7233')).toBe('temporal');
    expect(hostOf('[::1]:7233')).toBe('[::1]');
    expect(hostOf('https://kms.ap-northeast-1.amazonaws.com')).toBe('kms.ap-northeast-1.amazonaws.com');
  });

  it('accepts an unknown host only when an operator attested it, case-insensitively', () => {
    expect(residencyProblem('prod.abc12.tmprl.cloud:7233', [])).toMatch(/does not say where it is/);
    expect(residencyProblem('prod.abc12.tmprl.cloud:7233', ['PROD.abc12.tmprl.cloud'])).toBeUndefined();
    expect(residencyProblem('https://email.us-east-1.amazonaws.com', ['email.us-east-1.amazonaws.com'])).toMatch(/is in us-east-1/);
  });
});
