/**
 * PostgreSQL's unique_violation, whether it arrives from pg directly or wrapped by objection,
 * optionally for one named constraint or index.
 */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string; nativeError?: { code?: string; constraint?: string } };
  const code = e?.nativeError?.code ?? e?.code;
  const name = e?.nativeError?.constraint ?? e?.constraint;
  return code === '23505' && (constraint === undefined || name === constraint);
}

/**
 * PostgreSQL cannot be reached or is going away: the pool timed out waiting for a connection,
 * the connection was refused or reset, or the server is shutting down or in recovery
 * (SQLSTATE classes 08 and 57P0x). Such failures are 503 for the caller, never 500.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { name?: string; code?: string; message?: string; nativeError?: { code?: string } };
  if (!e) return false;
  if (e.name === 'KnexTimeoutError') return true;
  const code = e.nativeError?.code ?? e.code ?? '';
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code)) return true;
  if (/^08/.test(code) || /^57P0[1-4]$/.test(code) || code === '53300') return true;
  return /Connection terminated|connection is closed|Client has encountered a connection error/i.test(e.message ?? '');
}
