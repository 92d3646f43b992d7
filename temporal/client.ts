import { Client, Connection, type ClientInterceptors } from '@temporalio/client';
import type { TemporalConnectionOptions } from './connection-options';

export interface TemporalClient {
  client: Client;
  connection: Connection;
  close(): Promise<void>;
}

/**
 * Lazy, so the API can start (and answer /readyz with 503) while Temporal is still unreachable;
 * the SDK reconnects by itself once it is back.
 */
export function createTemporalClient(opts: TemporalConnectionOptions & { namespace: string; interceptors?: ClientInterceptors }): TemporalClient {
  const { namespace, interceptors, ...connect } = opts;
  const connection = Connection.lazy(connect);
  // Interceptors: tracing (lib/tracing.ts) puts the request's trace into the starts' headers.
  const client = new Client({ connection, namespace, ...(interceptors ? { interceptors } : {}) });
  return { client, connection, close: () => connection.close() };
}

export async function pingTemporal(connection: Connection, timeoutMs = 2_000): Promise<boolean> {
  try {
    await connection.withDeadline(Date.now() + timeoutMs, () => connection.workflowService.getSystemInfo({}));
    return true;
  } catch {
    return false;
  }
}
