import type { Logger } from '../lib/logger';

/** What middleware puts on ctx.state for the handlers after it. */
export interface AppState {
  requestId: string;
  log: Logger;
  /** Parsed JSON body (undefined when the request had none). */
  body?: unknown;
  actor?: { kind: 'operator' };
}
