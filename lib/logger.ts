import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. We never log request bodies; the redaction list is a second line of
 * defence for secrets that might slip into a log object through an error or a context field.
 */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'newPassword',
  '*.newPassword',
  'currentPassword',
  '*.currentPassword',
  'initialPassword',
  '*.initialPassword',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  '*.headers.authorization',
  '*.headers.cookie',
  'operatorToken',
  '*.operatorToken',
];

export function createLogger(options: { level?: string; name?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino({
    name: options.name,
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { service: options.name },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
  }, options.destination ?? pino.destination(1));
}
