import type { z } from 'zod';
import { validationFailed, type FieldError } from './problems';

/** Parses `input` with `schema`, or throws 400 validation_failed listing every offending field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const errors: FieldError[] = result.error.issues.map((issue) => {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const base = issue.path.map(String).join('.');
    const field = keys.length ? [base, keys.join(',')].filter(Boolean).join('.') : base || '(body)';
    return { field, message: issue.message };
  });
  throw validationFailed(errors);
}
