import { randomBytes } from 'node:crypto';
import { MessageRejected, SESServiceException } from '@aws-sdk/client-ses';
import { ApplicationFailure } from '@temporalio/common';
import { claimDelivery, MAIL_REJECTED, MAIL_SEND_FAILED, MAIL_SEND_IN_PROGRESS, sendEmailOnce } from '../../activities/email';
import { insertTenant } from '../../db/tenants';
import { fetchLocalEmails } from '../../lib/local-ses';
import { createSesMailer, MailRejectedError, permanentRejection, type Mailer } from '../../lib/mailer';
import { freePort } from '../../lib/process';
import { createTestDatabase, type TestDatabase } from '../harness/database';

/** The real mail path: SES's API (the local implementation started by the harness) and PostgreSQL. */
let t: TestDatabase;
let mailer: Mailer;
let tenantId: string;
const sesEndpoint = process.env.TEST_SES_ENDPOINT!;

beforeAll(async () => {
  t = await createTestDatabase();
  mailer = createSesMailer({ region: 'ap-northeast-1', from: 'no-reply@forclinic.example', endpoint: sesEndpoint });
  tenantId = (await insertTenant(t.db, { slug: `mail-${randomBytes(3).toString('hex')}`, name: 'Mail clinic', contractEmails: ['info@mail.example'] })).id;
});
afterAll(async () => {
  mailer?.close();
  await t?.drop();
});

/** A mail no other test sends, and a way to count its arrivals at SES. */
function uniqueMail(to = 'patient@example.jp') {
  const subject = `test ${randomBytes(8).toString('hex')}`;
  return {
    args: { tenantId, idempotencyKey: `test/${subject}`, purpose: 'test', mail: { to, subject, text: 'テスト / test' } },
    arrived: async () => (await fetchLocalEmails(sesEndpoint)).filter((m) => m.subject.endsWith(subject)).length,
    subjects: async () => (await fetchLocalEmails(sesEndpoint)).filter((m) => m.subject.endsWith(subject)).map((m) => m.subject),
  };
}
const row = (key: string) => t.ownerDb('email_deliveries').where({ idempotency_key: key }).first();
const failureOf = async (p: Promise<unknown>) => {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
};

describe('sendEmailOnce', () => {
  it('sends once when attempts with one key run concurrently; the others wait or find it sent', async () => {
    const { args, arrived } = uniqueMail();
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => sendEmailOnce({ db: t.db, mailer }, args)));
    const sent = results.filter((r) => r.status === 'fulfilled' && r.value.sent);
    expect(sent).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect([r.reason.type, r.reason.nonRetryable]).toEqual([MAIL_SEND_IN_PROGRESS, false]);
      else if (!r.value.sent) expect(r.value.messageId).toBe((sent[0] as PromiseFulfilledResult<{ messageId: string }>).value.messageId);
    }
    expect(await arrived()).toBe(1);
    expect(await row(args.idempotencyKey)).toMatchObject({ status: 'sent', attempts: 1, claimToken: null, leaseExpiresAt: null });
  });

  it('sends nothing when retried after a send that committed', async () => {
    const { args, arrived } = uniqueMail();
    const first = await sendEmailOnce({ db: t.db, mailer }, args);
    expect(first.sent).toBe(true);
    expect(first.messageId).toBeTruthy();
    expect(await sendEmailOnce({ db: t.db, mailer }, args)).toEqual({ sent: false, messageId: first.messageId });
    expect(await arrived()).toBe(1);
    expect(await row(args.idempotencyKey)).toMatchObject({ status: 'sent', attempts: 1, providerMessageId: first.messageId });
  });

  it('leaves a live lease alone, and takes over one that expired (its worker died mid-send), marking the mail as a resend', async () => {
    const { args, arrived, subjects } = uniqueMail();
    // The attempt that died: it claimed the row and never came back.
    expect((await claimDelivery(t.db, args)).kind).toBe('claimed');
    const busy = await failureOf(sendEmailOnce({ db: t.db, mailer }, args));
    expect([busy.type, busy.nonRetryable]).toEqual([MAIL_SEND_IN_PROGRESS, false]);
    expect(Number(busy.nextRetryDelay)).toBeGreaterThan(0);
    expect(await arrived()).toBe(0);

    await t.ownerDb('email_deliveries').where({ idempotency_key: args.idempotencyKey }).update({ lease_expires_at: t.ownerDb.raw(`now() - interval '1 second'`) });
    // The dead attempt may have handed the mail to SES already: the takeover says it is a resend.
    expect(await sendEmailOnce({ db: t.db, mailer }, args)).toMatchObject({ sent: true, resentInDoubt: true });
    expect(await subjects()).toEqual([`[再送 / Resent] ${args.mail.subject}`]);
    expect((await fetchLocalEmails(sesEndpoint)).find((m) => m.subject.endsWith(args.mail.subject))!.body.text).toMatch(/^※ このメールは再送です。[\s\S]*\nテスト \/ test$/);
    expect(await row(args.idempotencyKey)).toMatchObject({ status: 'sent', attempts: 2, claimToken: null });
  });

  it('marks the retry as a resend after a failure that leaves the outcome unknown (a timeout), not after one that proves nothing went out', async () => {
    const { args, subjects } = uniqueMail();
    // Mocked provider calls: a deadline that ran out while SES may have been accepting the mail.
    const timedOut: Mailer = { send: async () => Promise.reject(Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' })), close: () => undefined };
    const failure = await failureOf(sendEmailOnce({ db: t.db, mailer: timedOut }, args));
    expect([failure.type, failure.nonRetryable]).toEqual([MAIL_SEND_FAILED, false]);
    const held = await row(args.idempotencyKey);
    expect(held).toMatchObject({ status: 'sending', attempts: 1, lastError: 'TimeoutError' });
    expect(held.claimToken).not.toBeNull();
    // The retry need not wait for a lease: it sends at once, marked.
    expect(await sendEmailOnce({ db: t.db, mailer }, args)).toMatchObject({ sent: true, resentInDoubt: true });
    expect(await subjects()).toEqual([`[再送 / Resent] ${args.mail.subject}`]);

    // SES answering with an error proves it did not take the mail: the retry is a plain send.
    const plain = uniqueMail();
    const refused: Mailer = { send: async () => Promise.reject(new SESServiceException({ name: 'Throttling', $fault: 'client', message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } })), close: () => undefined };
    await failureOf(sendEmailOnce({ db: t.db, mailer: refused }, plain.args));
    expect(await row(plain.args.idempotencyKey)).toMatchObject({ status: 'sending', claimToken: null, lastError: 'Throttling' });
    const retried = await sendEmailOnce({ db: t.db, mailer }, plain.args);
    expect(retried.sent).toBe(true);
    expect(retried.resentInDoubt).toBeUndefined();
    expect(await plain.subjects()).toEqual([plain.args.mail.subject]);
  });

  it('records a rejected address as failed and raises the non-retryable MailRejected, on every later attempt too', async () => {
    const { args, arrived } = uniqueMail('patient@@example.jp');
    for (let i = 0; i < 2; i += 1) {
      const failure = await failureOf(sendEmailOnce({ db: t.db, mailer }, args));
      expect([failure.type, failure.nonRetryable]).toEqual([MAIL_REJECTED, true]);
      expect(failure.message).not.toContain('patient@');
    }
    expect(await arrived()).toBe(0);
    const stored = await row(args.idempotencyKey);
    expect(stored).toMatchObject({ status: 'failed', lastError: 'InvalidAddress', attempts: 1, claimToken: null, leaseExpiresAt: null });
    expect(stored.failedAt).toBeInstanceOf(Date);
  });

  it('releases the claim after a transient failure, so the retry sends at once', async () => {
    const { args, arrived } = uniqueMail();
    const unreachable = createSesMailer({ region: 'ap-northeast-1', from: 'no-reply@forclinic.example', endpoint: `http://127.0.0.1:${await freePort()}` });
    try {
      const failure = await failureOf(sendEmailOnce({ db: t.db, mailer: unreachable }, args));
      expect([failure.type, failure.nonRetryable]).toEqual([MAIL_SEND_FAILED, false]);
    } finally {
      unreachable.close();
    }
    expect(await row(args.idempotencyKey)).toMatchObject({ status: 'sending', attempts: 1, claimToken: null, leaseExpiresAt: null, lastError: 'ECONNREFUSED' });
    // Nothing was ever connected: the retry is a plain send, not a resend.
    expect(await sendEmailOnce({ db: t.db, mailer }, args)).toEqual({ sent: true, messageId: expect.any(String) });
    expect(await arrived()).toBe(1);
    expect(await row(args.idempotencyKey)).toMatchObject({ status: 'sent', attempts: 2 });
  });
});

describe('provider errors', () => {
  it('treats SES MessageRejected and InvalidParameterValue as permanent, everything else as transient', () => {
    const rejected = permanentRejection(new MessageRejected({ message: 'Email address is not verified: someone@example.jp', $metadata: {} }));
    expect(rejected).toBeInstanceOf(MailRejectedError);
    expect(rejected?.code).toBe('MessageRejected');
    expect(rejected?.message).not.toContain('someone@');
    const sesError = (name: string) => new SESServiceException({ name, $fault: 'client', message: name, $metadata: {} });
    expect(permanentRejection(sesError('InvalidParameterValue'))?.code).toBe('InvalidParameterValue');
    for (const name of ['Throttling', 'AccountSendingPausedException', 'MailFromDomainNotVerifiedException', 'ServiceUnavailable']) {
      expect([name, permanentRejection(sesError(name))]).toEqual([name, undefined]);
    }
    expect(permanentRejection(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBeUndefined();
  });
});
