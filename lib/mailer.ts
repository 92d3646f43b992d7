import { SESClient, SendEmailCommand } from '@aws-sdk/client-ses';
import { isDeliverableAddress } from '../domain/fields';

export interface OutgoingEmail {
  /** One recipient per mail: delivery, bounces and retries are tracked per address. */
  to: string;
  subject: string;
  text: string;
}

/** What a mail template produces (activities/mail-templates/): the mail without its recipient. */
export type MailText = Pick<OutgoingEmail, 'subject' | 'text'>;

export interface Mailer {
  /**
   * Hands the mail to the provider. Throws MailRejectedError when sending this mail again can
   * never succeed; any other error may be transient (and the mail may or may not have been
   * accepted). `signal` abandons the call.
   */
  send(mail: OutgoingEmail, opts?: { signal?: AbortSignal }): Promise<{ messageId: string }>;
  close(): void;
}

/** A permanent refusal of one mail (a bad or refused address, a rejected message). */
export class MailRejectedError extends Error {
  constructor(readonly code: string) {
    // The provider's own message is left out on purpose: it may quote the address.
    super(`the mail was rejected permanently (${code})`);
    this.name = 'MailRejectedError';
  }
}

/**
 * SES errors that sending the same mail again cannot cure. MessageRejected: SES refused the
 * message (unverified recipient in the sandbox, virus, …); InvalidParameterValue: a malformed
 * address or header. Everything else (throttling, paused sending, an unverified MAIL FROM
 * domain, network and 5xx errors) is treated as transient: it heals once SES or the operator
 * has fixed it.
 */
const PERMANENT_SES_ERRORS = new Set(['MessageRejected', 'InvalidParameterValue']);


/** Maps a provider error to a permanent rejection, or undefined when it may be transient. */
export function permanentRejection(err: unknown): MailRejectedError | undefined {
  if (err instanceof MailRejectedError) return err;
  const name = (err as { name?: unknown })?.name;
  return typeof name === 'string' && PERMANENT_SES_ERRORS.has(name) ? new MailRejectedError(name) : undefined;
}

/**
 * Amazon SES through the real SDK. With SES_ENDPOINT set (development, tests) the same API calls
 * go to the local SES implementation; without it, to SES in the configured (Japanese) region.
 */
export function createSesMailer(opts: { region: string; from: string; endpoint?: string }): Mailer {
  const client = new SESClient({
    region: opts.region,
    endpoint: opts.endpoint,
    // A call must end on its own: a lease on the delivery row waits for it (activities/email.ts).
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 10_000 },
    // The local implementation ignores signatures; never borrow real credentials for it.
    ...(opts.endpoint && !process.env.AWS_ACCESS_KEY_ID
      ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
      : {}),
  });
  return {
    async send(mail, { signal } = {}) {
      if (!isDeliverableAddress(mail.to)) throw new MailRejectedError('InvalidAddress');
      try {
        const out = await client.send(
          new SendEmailCommand({
            Source: opts.from,
            Destination: { ToAddresses: [mail.to] },
            Message: {
              Subject: { Data: mail.subject, Charset: 'UTF-8' },
              Body: { Text: { Data: mail.text, Charset: 'UTF-8' } },
            },
          }),
          { abortSignal: signal },
        );
        return { messageId: out.MessageId ?? '' };
      } catch (err) {
        throw permanentRejection(err) ?? err;
      }
    },
    close: () => client.destroy(),
  };
}
