import { SESClient, SendEmailCommand } from '@aws-sdk/client-ses';

export interface OutgoingEmail {
  /** One recipient per mail: delivery, bounces and retries are tracked per address. */
  to: string;
  subject: string;
  text: string;
}

/** What a mail template produces (activities/mail-templates/): the mail without its recipient. */
export type MailText = Pick<OutgoingEmail, 'subject' | 'text'>;

export interface Mailer {
  send(mail: OutgoingEmail): Promise<{ messageId: string }>;
  close(): void;
}

/**
 * Amazon SES through the real SDK. With SES_ENDPOINT set (development, tests) the same API calls
 * go to the local SES implementation; without it, to SES in the configured (Japanese) region.
 */
export function createSesMailer(opts: { region: string; from: string; endpoint?: string }): Mailer {
  const client = new SESClient({
    region: opts.region,
    endpoint: opts.endpoint,
    // The local implementation ignores signatures; never borrow real credentials for it.
    ...(opts.endpoint && !process.env.AWS_ACCESS_KEY_ID
      ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
      : {}),
  });
  return {
    async send(mail) {
      const out = await client.send(
        new SendEmailCommand({
          Source: opts.from,
          Destination: { ToAddresses: [mail.to] },
          Message: {
            Subject: { Data: mail.subject, Charset: 'UTF-8' },
            Body: { Text: { Data: mail.text, Charset: 'UTF-8' } },
          },
        }),
      );
      return { messageId: out.MessageId ?? '' };
    },
    close: () => client.destroy(),
  };
}
