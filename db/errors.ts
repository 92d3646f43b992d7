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
