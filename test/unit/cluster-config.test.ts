import { parse } from 'yaml';
import { clusterConfigYaml, dynamicConfigYaml, type ClusterConfigInput } from '../../temporal/cluster-config';

const input: ClusterConfigInput = {
  ports: { frontend: 17233, frontendMembership: 16933, history: 17234, historyMembership: 16934, matching: 17235, matchingMembership: 16935, worker: 17239, workerMembership: 16939 },
  database: { host: '127.0.0.1', port: 54329, user: 'postgres', password: 'p"a:ss\\word', temporal: 'temporal_cluster', visibility: 'temporal_cluster_visibility' },
  dynamicConfigFile: '/tmp/cluster/config/dynamic.yaml',
};

describe('the Temporal server configuration (temporal/cluster-config.ts)', () => {
  const config = parse(clusterConfigYaml(input));

  it('points clusterMetadata at its own frontend, so the server\'s system workers reach it', () => {
    const cluster = config.clusterMetadata.clusterInformation[config.clusterMetadata.currentClusterName];
    expect(cluster.rpcAddress).toBe('127.0.0.1:17233');
    expect(config.services.frontend.rpc.grpcPort).toBe(17233);
  });

  it('gives every service its own ports, on loopback', () => {
    for (const [name, grpc, membership] of [['frontend', 17233, 16933], ['history', 17234, 16934], ['matching', 17235, 16935], ['worker', 17239, 16939]] as const) {
      expect(config.services[name].rpc).toEqual({ grpcPort: grpc, membershipPort: membership, bindOnLocalHost: true });
    }
  });

  it('keeps executions and visibility in the two databases given, with the password intact', () => {
    const { datastores } = config.persistence;
    const main = datastores[config.persistence.defaultStore].sql;
    const visibility = datastores[config.persistence.visibilityStore].sql;
    expect([main.pluginName, main.databaseName, main.connectAddr, main.user, main.password]).toEqual(['postgres12', 'temporal_cluster', '127.0.0.1:54329', 'postgres', 'p"a:ss\\word']);
    expect([visibility.pluginName, visibility.databaseName]).toEqual(['postgres12', 'temporal_cluster_visibility']);
    expect(config.dynamicConfigClient.filepath).toBe('/tmp/cluster/config/dynamic.yaml');
  });

  it('refuses a port used twice, one out of range, a membership port above a smallint, and one database for both stores', () => {
    expect(() => clusterConfigYaml({ ...input, ports: { ...input.ports, history: 17233 } })).toThrow(/ports of its own/);
    expect(() => clusterConfigYaml({ ...input, ports: { ...input.ports, worker: 70_000 } })).toThrow(/1-65535/);
    expect(() => clusterConfigYaml({ ...input, ports: { ...input.ports, historyMembership: 40_000 } })).toThrow(/smallint/);
    expect(() => clusterConfigYaml({ ...input, database: { ...input.database, visibility: 'temporal_cluster' } })).toThrow(/database of its own/);
  });

  it('makes search attributes registered at worker start usable at once', () => {
    expect(parse(dynamicConfigYaml())['system.forceSearchAttributesCacheRefreshOnRead']).toEqual([{ value: true, constraints: {} }]);
  });
});
