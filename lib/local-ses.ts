import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sesServer from 'aws-ses-v2-local';

/**
 * A real local implementation of the SES API (aws-ses-v2-local): the SDK sends genuine SES
 * requests to it, and its web page shows every mail sent. Bound to loopback only.
 */
export interface LocalSes {
  endpoint: string;
  viewerUrl: string;
  close(): Promise<void>;
}

export async function startLocalSes(opts: { port: number }): Promise<LocalSes> {
  const server: Server = await sesServer({ host: '127.0.0.1', port: opts.port });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    viewerUrl: `http://localhost:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** The mails the local SES has received (its /store endpoint), newest last. */
export interface StoredEmail {
  messageId: string;
  from: string;
  destination: { to: string[]; cc: string[]; bcc: string[] };
  subject: string;
  body: { text?: string; html?: string };
  at: number;
}

export async function fetchLocalEmails(endpoint: string): Promise<StoredEmail[]> {
  const res = await fetch(`${endpoint}/store`);
  if (!res.ok) throw new Error(`local SES store answered ${res.status}`);
  return ((await res.json()) as { emails: StoredEmail[] }).emails;
}
