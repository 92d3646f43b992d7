import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * `npm start`'s mail viewer keeps its mails in the data folder: a restart of the stack shows the
 * mails sent before it. Each start is a fresh module registry, as a new process would be.
 */
const file = path.join(mkdtempSync(path.join(tmpdir(), 'local-ses-')), 'mail', 'mails.jsonl');

async function freshSes() {
  let mod!: typeof import('../../lib/local-ses');
  let mailer!: typeof import('../../lib/mailer');
  jest.isolateModules(() => {
    mod = require('../../lib/local-ses');
    mailer = require('../../lib/mailer');
  });
  const ses = await mod.startLocalSes({ port: 0, persistFile: file });
  const send = (to: string) =>
    mailer.createSesMailer({ region: 'ap-northeast-1', from: 'no-reply@forclinic.example', endpoint: ses.endpoint }).send({ to, subject: `件名 ${to}`, text: 'body' });
  return { ses, send, list: () => mod.fetchLocalEmails(ses.endpoint) };
}

it('keeps sent mails across restarts, and clearing the viewer clears the file', async () => {
  const first = await freshSes();
  await first.send('a@clinic.example');
  await first.send('b@clinic.example');
  await first.ses.close();

  const second = await freshSes();
  expect((await second.list()).map((m) => m.destination.to[0])).toEqual(['a@clinic.example', 'b@clinic.example']);
  await second.send('c@clinic.example');
  expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(3);
  expect((await fetch(`${second.ses.endpoint}/clear-store`, { method: 'POST' })).status).toBe(200);
  expect(await second.list()).toEqual([]);
  await second.ses.close();

  const third = await freshSes();
  expect(await third.list()).toEqual([]);
  await third.ses.close();
});
