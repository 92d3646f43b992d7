import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { WORKER_NODE_FLAGS } from '../../workers/node-flags';
import { apiListenerProblems, CONFIG_KEYS, loadConfig, loadMigrationConfig, workerConfigProblems } from '../../lib/config';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../../temporal/search-attributes';

/** docker-compose.yml cannot run here, so this keeps it honest against the code. */
const compose = parse(readFileSync(path.join(__dirname, '..', '..', 'docker-compose.yml'), 'utf8'), { merge: true });
const knownKeys = new Set<string>(CONFIG_KEYS);
/** A service's environment with every required `${VAR:?…}` filled in. */
const resolvedEnv = (name: string) =>
  Object.fromEntries(
    Object.entries(compose.services[name].environment as Record<string, string>).map(([k, v]) => [k, String(v).replace(/\$\{[A-Z_]+:\?[^}]*\}/g, 'x'.repeat(40))]),
  );

describe('docker-compose.yml', () => {
  it.each(['api', 'worker'])('%s gets only variables that lib/config.ts reads, and a valid set of them', (name) => {
    const env = compose.services[name].environment as Record<string, string>;
    for (const key of Object.keys(env)) expect([key, knownKeys.has(key)]).toEqual([key, true]);
    const resolved = resolvedEnv(name);
    expect(() => loadConfig(resolved)).not.toThrow();
    expect(loadConfig(resolved).AWS_REGION).toBe('ap-northeast-1');
  });

  it('migrates as the owner and provisions the very login the API and the worker use, a different user', () => {
    const migrate = loadMigrationConfig(resolvedEnv('migrate'));
    expect(migrate.DATABASE_URL).toBeDefined();
    for (const name of ['api', 'worker']) expect([name, resolvedEnv(name).DATABASE_URL]).toEqual([name, migrate.DATABASE_URL]);
    expect(new URL(migrate.MIGRATION_DATABASE_URL).username).toBe(compose.services.postgresql.environment.POSTGRES_USER);
  });

  it('gives the backup credential the migrate job provisions to the worker only', () => {
    const migrate = loadMigrationConfig(resolvedEnv('migrate'));
    expect(migrate.BACKUP_DATABASE_URL).toBeDefined();
    expect(loadConfig(resolvedEnv('worker')).BACKUP_DATABASE_URL).toBe(migrate.BACKUP_DATABASE_URL);
    expect(resolvedEnv('api').BACKUP_DATABASE_URL).toBeUndefined();
  });

  it('gives the purge credential the migrate job provisions, and the certificate key, to the worker only', () => {
    const migrate = loadMigrationConfig(resolvedEnv('migrate'));
    const worker = loadConfig(resolvedEnv('worker'));
    expect(worker.PURGE_DATABASE_URL).toBe(migrate.PURGE_DATABASE_URL);
    expect(workerConfigProblems({ ...worker, NODE_ENV: 'production' })).toEqual([]);
    expect(resolvedEnv('api').PURGE_DATABASE_URL).toBeUndefined();
    expect(resolvedEnv('api').DELETION_CERTIFICATE_KEY).toBeUndefined();
  });


  it('runs the compiled entry points of sources that exist (npm run build: dist/<x>.js from <x>.ts)', () => {
    for (const name of ['api', 'worker', 'migrate']) {
      const entry = compose.services[name].command.at(-1) as string;
      expect(entry).toMatch(/^dist\/.+\.js$/);
      expect(compose.services[name].command[0]).toBe('node');
      const source = entry.replace(/^dist\//, '').replace(/\.js$/, '.ts');
      expect(() => require.resolve(path.join(__dirname, '..', '..', source))).not.toThrow();
    }
  });

  it('runs the restore test on a verification server of its own, as a CREATEDB login that is no superuser', () => {
    const url = new URL(resolvedEnv('worker').RESTORE_TEST_DATABASE_URL!);
    expect(url.hostname).toBe('verification-postgresql');
    expect(url.hostname).not.toBe(new URL(resolvedEnv('worker').DATABASE_URL!).hostname);
    expect(url.username).toBe('forclinic_restore_test');
    expect(resolvedEnv('api').RESTORE_TEST_DATABASE_URL).toBeUndefined();
    const init = readFileSync(path.join(__dirname, '..', '..', 'deploy', 'verification-postgresql', 'create-restore-role.sh'), 'utf8');
    expect(init).toMatch(/create role forclinic_restore_test login createdb password :'pw';/);
    expect(init.split("<<'EOSQL'")[1]).not.toMatch(/superuser|bypassrls/i);
    expect(compose.services['verification-postgresql'].volumes).toContain('./deploy/verification-postgresql/create-restore-role.sh:/docker-entrypoint-initdb.d/create-restore-role.sh:ro');
    expect(compose.services['verification-postgresql'].ports).toBeUndefined();
  });

  it('runs the worker with the V8 flags of workers/node-flags.ts, as npm start:worker does', () => {
    expect(compose.services.worker.command.slice(1, -1)).toEqual([...WORKER_NODE_FLAGS]);
    const scripts = (require('../../package.json') as { scripts: Record<string, string> }).scripts;
    for (const flag of WORKER_NODE_FLAGS) expect(scripts['start:worker']).toContain(flag);
  });

  it('publishes only the TLS proxy on all interfaces; anything else only on loopback', () => {
    const published = Object.entries(compose.services as Record<string, { ports?: string[] }>).flatMap(([name, svc]) => (svc.ports ?? []).map((p) => [name, String(p)] as const));
    expect(published.filter(([, p]) => !p.startsWith('127.0.0.1:'))).toEqual([['proxy', '443:443']]);
    expect(compose.services.api.ports).toBeUndefined();
  });

  it('believes X-Forwarded-For from the proxy\'s one address, which is the proxy\'s static address on the edge network', () => {
    const proxies = loadConfig(resolvedEnv('api')).TRUSTED_PROXIES;
    expect(proxies).toEqual([`${compose.services.proxy.networks.edge.ipv4_address}/32`]);
    expect(compose.services.api.environment.BEHIND_TLS_PROXY).toBe('true');
    expect(apiListenerProblems(loadConfig(resolvedEnv('api')))).toEqual([]);
    expect(readFileSync(path.join(__dirname, '..', '..', 'deploy', 'caddy', 'Caddyfile'), 'utf8')).toMatch(/dynamic a api 3000/);
  });

  it('serves the operator listener only to the operators\' gateway, on a network of its own, published on loopback', () => {
    const config = loadConfig(resolvedEnv('api'));
    const gateway = compose.services['operator-proxy'];
    expect(config.OPERATOR_ALLOWED_CIDRS).toEqual([`${gateway.networks.operators.ipv4_address}/32`]);
    expect(gateway.ports).toEqual([`127.0.0.1:${config.OPERATOR_PORT === 3001 ? '3001' : 'x'}:443`]);
    // The public proxy is not on the operators' network, and the gateway is not on the public edge.
    expect(Object.keys(compose.services.proxy.networks)).not.toContain('operators');
    expect(Object.keys(gateway.networks)).toEqual(['operators']);
    expect(readFileSync(path.join(__dirname, '..', '..', 'deploy', 'caddy', 'Caddyfile.operators'), 'utf8')).toMatch(new RegExp(`dynamic a api ${config.OPERATOR_PORT}`));
    expect(readFileSync(path.join(__dirname, '..', '..', 'deploy', 'caddy', 'Caddyfile'), 'utf8')).not.toMatch(/3001/);
  });

  it('puts the Temporal UI behind OIDC, read-only, on loopback', () => {
    const ui = compose.services['temporal-ui'];
    expect(ui.environment).toMatchObject({ TEMPORAL_AUTH_ENABLED: 'true', TEMPORAL_AUTH_TYPE: 'oidc', TEMPORAL_DISABLE_WRITE_ACTIONS: 'true' });
    for (const key of ['TEMPORAL_AUTH_PROVIDER_URL', 'TEMPORAL_AUTH_CLIENT_ID', 'TEMPORAL_AUTH_CLIENT_SECRET', 'TEMPORAL_AUTH_CALLBACK_URL']) {
      expect([key, String(ui.environment[key])]).toEqual([key, expect.stringMatching(/^\$\{[A-Z_]+:\?/)]);
    }
    expect(ui.ports.every((p: string) => p.startsWith('127.0.0.1:'))).toBe(true);
  });

  it('runs two API and two worker instances', () => {
    expect(compose.services.api.deploy.replicas).toBe(2);
    expect(compose.services.worker.deploy.replicas).toBe(2);
  });

  it('sets up Temporal\'s schema with the admin-tools image before the server starts (no auto-setup image)', () => {
    const images = Object.values(compose.services as Record<string, { image?: string }>).map((svc) => svc.image ?? '');
    expect(images.filter((i) => i.includes('auto-setup'))).toEqual([]);
    expect(compose.services.temporal.image).toBe('temporalio/server:1.29.1');
    expect(compose.services.temporal.depends_on['temporal-schema']).toEqual({ condition: 'service_completed_successfully' });
    const schema = compose.services['temporal-schema'];
    expect(schema.image).toBe('temporalio/admin-tools:1.29.1');
    const script = JSON.stringify(schema.command);
    expect(script).toContain('setup-schema -v 0.0');
    expect(script).toContain('/etc/temporal/schema/postgresql/v12/$$dir/versioned');
    expect(script).toContain('temporal:temporal temporal_visibility:visibility');
    expect(JSON.stringify(compose.services['temporal-setup'].command)).toContain('namespace create --address temporal:7233 --namespace default');
  });

  it('registers every custom search attribute on the cluster', () => {
    const setup = JSON.stringify(compose.services['temporal-setup'].command);
    for (const key of CUSTOM_SEARCH_ATTRIBUTES) expect(setup).toContain(`--name ${key.name} --type`);
  });
});
