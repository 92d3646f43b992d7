import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { createOperator, listAllOperators, updateOperatorAccount } from '../application/operators/manage-operators';
import type { AuditContext } from '../db/audit';
import { createDb } from '../db/connection';
import { OPERATOR_ROLES, type OperatorRole } from '../domain/operator-roles';
import { operatorRolesSchema } from '../domain/operators';
import { Problem } from '../domain/problems';
import { ConfigError, loadMigrationConfig } from '../lib/config';
import { PasswordHasher } from '../lib/password-hash';
import path from 'node:path';
import { dataDirOf, devOwnerUrl } from './dev-owner-url';

/**
 * Operator accounts from the host, as the tables' owner (MIGRATION_DATABASE_URL), for the first
 * operator before anyone can sign in and for emergencies:
 *
 *   npm run operator -- create --email sato@forclinic.example --name '佐藤 花子' --role platform-admin [--role …]
 *   npm run operator -- list
 *   npm run operator -- disable --email sato@forclinic.example
 *
 * `create` prints a one-time initial password (valid 24 hours; the first login replaces it and
 * enrols a passkey). Every action is in the platform's operation log as `host:<user>`.
 */
const USAGE = `usage:
  npm run operator -- create --email <address> --name <name> --role <${OPERATOR_ROLES.join('|')}> [--role …]
  npm run operator -- list
  npm run operator -- disable --email <address>`;

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { email: { type: 'string' }, name: { type: 'string' }, role: { type: 'string', multiple: true } },
  });
  const command = positionals[0];
  if (!command || !['create', 'list', 'disable'].includes(command)) {
    console.error(USAGE);
    return 2;
  }
  // On npm start's own embedded PostgreSQL (development) the owner URL it recorded is used.
  const recorded = process.env.MIGRATION_DATABASE_URL ? undefined : await devOwnerUrl(dataDirOf(process.env, path.join(__dirname, '..')));
  if (recorded) console.error('[operator] MIGRATION_DATABASE_URL is unset: using the embedded PostgreSQL that npm start runs');
  const config = loadMigrationConfig(recorded ? { ...process.env, MIGRATION_DATABASE_URL: recorded } : process.env);
  const db = createDb({ url: config.MIGRATION_DATABASE_URL, poolMax: 2, applicationName: 'for-clinic-operator', as: 'owner' });
  const audit: AuditContext = { actorType: 'system', actorId: `host:${userInfo().username}`, actorRoles: [], clientIp: null, userAgent: 'npm run operator', requestId: null };
  try {
    if (command === 'list') {
      for (const o of await listAllOperators({ db })) {
        console.log([o.email, o.name, o.roles.join(','), o.state + (o.locked ? ' (locked)' : ''), `passkeys=${o.passkeyCount}`, `last login ${o.lastLoginAt?.toISOString() ?? 'never'}`].join('\t'));
      }
      return 0;
    }
    if (!values.email) {
      console.error(USAGE);
      return 2;
    }
    if (command === 'create') {
      const roles = operatorRolesSchema.safeParse(values.role ?? []);
      if (!values.name || !roles.success) {
        console.error(`${USAGE}\n(at least one --role of ${OPERATOR_ROLES.join(', ')}, each once, and a --name)`);
        return 2;
      }
      const passwords = new PasswordHasher({ concurrency: 1, queue: 1 });
      const { operator, initialPassword } = await createOperator({ db, passwords }, audit, { email: values.email, name: values.name, roles: roles.data as OperatorRole[] }, OPERATOR_ROLES); // the host may give every role: it is how the first operators are made, and each is mailed to security
      console.log(`created operator ${operator.email} (${operator.id}) with roles ${operator.roles.join(', ')}`);
      console.log(`one-time initial password (valid 24 hours; shown only now): ${initialPassword}`);
      console.log('next: POST /v1/operator/auth/login, change the password, enrol a passkey');
      return 0;
    }
    const target = (await listAllOperators({ db })).find((o) => o.email === values.email!.trim().toLowerCase());
    if (!target) {
      console.error(`no operator with e-mail ${values.email}`);
      return 1;
    }
    await updateOperatorAccount({ db }, audit, target.id, { state: 'disabled' }, OPERATOR_ROLES);
    console.log(`disabled ${target.email}; their sessions have ended`);
    return 0;
  } finally {
    await db.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    const known = err instanceof ConfigError || err instanceof Problem;
    console.error(`operator: ${known ? err instanceof Problem ? `${err.detail ?? err.title} (${err.code})` : err.message : ((err as Error).stack ?? String(err))}`);
    process.exit(1);
  },
);
