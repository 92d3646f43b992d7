/**
 * The Temporal server's configuration for a single-process cluster on PostgreSQL (the four
 * services in one process, as `temporalio/server` runs them in docker-compose.yml), shaped after
 * the module's config/development-postgres12.yaml. Pure: the caller writes the text where the
 * server's `--root/--config/--env` flags look for it.
 */
export interface ClusterPorts {
  frontend: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
}

export const PORT_NAMES: ReadonlyArray<keyof ClusterPorts> = [
  'frontend', 'frontendMembership', 'history', 'historyMembership', 'matching', 'matchingMembership', 'worker', 'workerMembership',
];

export interface ClusterDatabase {
  host: string;
  port: number;
  user: string;
  password: string;
  /** The history/executions store and the visibility store: two databases, as Temporal wants them. */
  temporal: string;
  visibility: string;
}

export interface ClusterConfigInput {
  ports: ClusterPorts;
  database: ClusterDatabase;
  /** Fixed for the life of the cluster's database (changing it needs a new one). */
  numHistoryShards?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Absolute path of the dynamic config file (dynamicConfigYaml). */
  dynamicConfigFile: string;
}

// JSON strings are valid YAML double-quoted scalars: no hand-escaping of passwords or paths.
const q = (s: string) => JSON.stringify(s);

function store(db: ClusterDatabase, name: string, maxConns: number): string {
  return [
    '      sql:',
    '        pluginName: "postgres12"',
    `        databaseName: ${q(name)}`,
    `        connectAddr: ${q(`${db.host}:${db.port}`)}`,
    '        connectProtocol: "tcp"',
    `        user: ${q(db.user)}`,
    `        password: ${q(db.password)}`,
    `        maxConns: ${maxConns}`,
    `        maxIdleConns: ${maxConns}`,
    '        maxConnLifetime: "1h"',
  ].join('\n');
}

function service(name: string, grpc: number, membership: number): string {
  return [`  ${name}:`, '    rpc:', `      grpcPort: ${grpc}`, `      membershipPort: ${membership}`, '      bindOnLocalHost: true'].join('\n');
}

export function clusterConfigYaml(input: ClusterConfigInput): string {
  const { ports, database } = input;
  for (const name of PORT_NAMES) {
    const port = ports[name];
    if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`port ${name} must be 1-65535, got ${port}`);
  }
  if (new Set(PORT_NAMES.map((n) => ports[n])).size !== PORT_NAMES.length) throw new Error('every service needs ports of its own');
  // Temporal keeps membership ports in a smallint column (cluster_membership.rpc_port): it fails at start above it.
  for (const name of PORT_NAMES.filter((n) => n.endsWith('Membership'))) {
    if (ports[name] > 32_767) throw new Error(`port ${name} must be at most 32767 (Temporal stores it as a smallint), got ${ports[name]}`);
  }
  if (database.temporal === database.visibility) throw new Error('the visibility store needs a database of its own');
  return `${[
    'log:',
    '  stdout: true',
    `  level: ${q(input.logLevel ?? 'warn')}`,
    '',
    'persistence:',
    '  defaultStore: postgres-default',
    '  visibilityStore: postgres-visibility',
    `  numHistoryShards: ${input.numHistoryShards ?? 4}`,
    '  datastores:',
    '    postgres-default:',
    store(database, database.temporal, 20),
    '    postgres-visibility:',
    store(database, database.visibility, 5),
    '',
    'global:',
    '  membership:',
    '    maxJoinDuration: 30s',
    '    broadcastAddress: "127.0.0.1"',
    '',
    'services:',
    service('frontend', ports.frontend, ports.frontendMembership),
    service('history', ports.history, ports.historyMembership),
    service('matching', ports.matching, ports.matchingMembership),
    service('worker', ports.worker, ports.workerMembership),
    '',
    'clusterMetadata:',
    '  enableGlobalNamespace: false',
    '  failoverVersionIncrement: 10',
    '  masterClusterName: "active"',
    '  currentClusterName: "active"',
    '  clusterInformation:',
    '    active:',
    '      enabled: true',
    '      initialFailoverVersion: 1',
    '      rpcName: "frontend"',
    // The server's own system workers (schedules among them) dial this: it must be our frontend.
    `      rpcAddress: ${q(`127.0.0.1:${ports.frontend}`)}`,
    '',
    'dcRedirectionPolicy:',
    '  policy: "noop"',
    '',
    'dynamicConfigClient:',
    `  filepath: ${q(input.dynamicConfigFile)}`,
    '  pollInterval: "10s"',
  ].join('\n')}\n`;
}

/**
 * Dynamic config: search attributes registered by a worker at start are usable by the next
 * request (as on the dev server) instead of after the cache's refresh, and ids as long as ours.
 */
export function dynamicConfigYaml(): string {
  return [
    'system.forceSearchAttributesCacheRefreshOnRead:',
    '  - value: true',
    '    constraints: {}',
    'limit.maxIDLength:',
    '  - value: 255',
    '    constraints: {}',
    '',
  ].join('\n');
}
