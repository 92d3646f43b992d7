import { readFileSync } from 'node:fs';
import type { Config } from '../lib/config';

/**
 * How every process reaches Temporal (API client, workers, schedules): plain TCP for the local
 * dev server, TLS with the system's or a given CA, mTLS with a client certificate, and/or an
 * API key. Files are read here, at start-up; configuration has already checked they exist.
 */
export interface TemporalConnectionOptions {
  address: string;
  tls?: {
    serverNameOverride?: string;
    serverRootCACertificate?: Buffer;
    clientCertPair?: { crt: Buffer; key: Buffer };
  };
  apiKey?: string;
}

export function temporalConnectionOptions(
  config: Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_TLS' | 'TEMPORAL_TLS_CA_FILE' | 'TEMPORAL_TLS_CERT_FILE' | 'TEMPORAL_TLS_KEY_FILE' | 'TEMPORAL_TLS_SERVER_NAME' | 'TEMPORAL_API_KEY'>,
): TemporalConnectionOptions {
  if (!config.TEMPORAL_TLS) return { address: config.TEMPORAL_ADDRESS };
  return {
    address: config.TEMPORAL_ADDRESS,
    tls: {
      ...(config.TEMPORAL_TLS_SERVER_NAME ? { serverNameOverride: config.TEMPORAL_TLS_SERVER_NAME } : {}),
      ...(config.TEMPORAL_TLS_CA_FILE ? { serverRootCACertificate: readFileSync(config.TEMPORAL_TLS_CA_FILE) } : {}),
      ...(config.TEMPORAL_TLS_CERT_FILE && config.TEMPORAL_TLS_KEY_FILE
        ? { clientCertPair: { crt: readFileSync(config.TEMPORAL_TLS_CERT_FILE), key: readFileSync(config.TEMPORAL_TLS_KEY_FILE) } }
        : {}),
    },
    ...(config.TEMPORAL_API_KEY ? { apiKey: config.TEMPORAL_API_KEY } : {}),
  };
}
