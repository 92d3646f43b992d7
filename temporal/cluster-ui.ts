import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort, startProcess, waitFor } from '../lib/process';

/**
 * The Temporal UI for a Temporal server we run ourselves (the dev server has one built in; the
 * real server does not): the pinned ui-server, on loopback, read-only, pointed at the server's
 * frontend. An operator watching a production-shape run opens it; the test asks it for the
 * workflows it ran, as an operator's browser would. It holds no state: the server may restart
 * under it, and its requests reconnect.
 */
export interface TemporalUi {
  url: string;
  logFile: string;
  stop(): Promise<void>;
}

/** ui-server's configuration: loopback only, no write actions (an operator looks, the product acts). */
export function uiConfigYaml(o: { temporalAddress: string; port: number; namespace: string }): string {
  return [
    `temporalGrpcAddress: ${o.temporalAddress}`,
    'host: 127.0.0.1',
    `port: ${o.port}`,
    'enableUi: true',
    `defaultNamespace: ${o.namespace}`,
    'notifyOnNewVersion: false',
    'disableWriteActions: true',
    'cors:',
    '  cookieInsecure: true',
    '',
  ].join('\n');
}

export async function startTemporalUi(o: { binary: string; temporalAddress: string; namespace?: string; dataDir: string; port?: number }): Promise<TemporalUi> {
  const port = o.port ?? (await freePort());
  const configDir = path.join(o.dataDir, 'ui-config');
  await mkdir(configDir, { recursive: true });
  await writeFile(path.join(configDir, 'cluster.yaml'), uiConfigYaml({ temporalAddress: o.temporalAddress, port, namespace: o.namespace ?? 'default' }));
  const logFile = path.join(o.dataDir, 'temporal-ui.log');
  const proc = startProcess('temporal-ui', o.binary, ['--root', o.dataDir, '--config', 'ui-config', '--env', 'cluster', 'start'], { logFile });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`the Temporal UI on ${url}`, async () => (await fetch(`${url}/api/v1/settings`)).ok, 30_000, 200);
  } catch (err) {
    await proc.stop(2_000);
    throw new Error(`${(err as Error).message}; see ${logFile}`);
  }
  return { url, logFile, stop: () => proc.stop(5_000) };
}

/** Workflow executions the UI shows for a visibility query (its HTTP API, as the browser calls it). */
export async function uiWorkflowCount(ui: Pick<TemporalUi, 'url'>, namespace: string, query: string): Promise<number> {
  const res = await fetch(`${ui.url}/api/v1/namespaces/${encodeURIComponent(namespace)}/workflow-count?query=${encodeURIComponent(query)}`);
  if (!res.ok) throw new Error(`Temporal UI: ${res.status} ${(await res.text()).slice(0, 200)}`);
  return Number(((await res.json()) as { count?: string | number }).count ?? 0);
}
