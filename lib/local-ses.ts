import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import sesServer from 'aws-ses-v2-local';

// The store module object itself (an import namespace may be a copy): persistMails replaces two of its exports.
const sesStore: typeof import('aws-ses-v2-local/dist/store') = require('aws-ses-v2-local/dist/store');

/**
 * A real local implementation of the SES API (aws-ses-v2-local): the SDK sends genuine SES
 * requests to it, and its web page shows every mail sent. Bound to loopback only.
 */
export interface LocalSes {
  endpoint: string;
  viewerUrl: string;
  close(): Promise<void>;
}

/**
 * `persistFile`: keep the mails in a JSON Lines file (npm start: under the data folder), so that a
 * restart does not empty the viewer; clearing the viewer empties the file too.
 */
export async function startLocalSes(opts: { port: number; persistFile?: string }): Promise<LocalSes> {
  if (opts.persistFile) persistMails(opts.persistFile);
  const server: Server = await sesServer({ host: '127.0.0.1', port: opts.port });
  // The server resolves even when it could not listen (its port taken): say so, not a TypeError.
  const address = server.address() as AddressInfo | null;
  if (!address) throw new Error(`the local SES could not listen on 127.0.0.1:${opts.port} (is the port taken? set MAIL_PORT)`);
  const { port } = address;
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

/**
 * aws-ses-v2-local keeps mails in memory; its route handlers call the store module's `saveEmail`
 * and `clearStore` through the module object, so wrapping those two exports sees every mail.
 */
function persistMails(file: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const store = sesStore.getStoreReadonly() as { emails: unknown[] };
  let kept: string[] = [];
  try {
    kept = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    // First start: no file yet.
  }
  for (const line of kept) {
    try {
      store.emails.push(JSON.parse(line));
    } catch {
      // A line cut short by a crash mid-write: skip it, keep the rest.
    }
  }
  const mutable = sesStore as { saveEmail: typeof sesStore.saveEmail; clearStore: typeof sesStore.clearStore };
  const save = mutable.saveEmail;
  const clear = mutable.clearStore;
  mutable.saveEmail = (email) => {
    appendFileSync(file, `${JSON.stringify(email)}\n`, { mode: 0o600 });
    save(email);
  };
  mutable.clearStore = () => {
    writeFileSync(file, '', { mode: 0o600 });
    clear();
  };
}
