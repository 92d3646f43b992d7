import type { SessionState } from '../db/models/session';
import type { Logger } from '../lib/logger';
import type { OperatorPrincipal } from '../domain/operator-roles';

/** What middleware puts on ctx.state for the handlers after it. */
export interface AppState {
  requestId: string;
  log: Logger;
  /** Parsed JSON body (undefined when the request had none). */
  body?: unknown;
  /** The client's address (see domain/network.ts clientIp for proxies). */
  clientIp: string;
  /** Set by operator authentication: who the operator is (person, API key or break-glass). */
  actor?: { kind: 'operator'; operator: OperatorPrincipal; session?: { id: string; state: SessionState; verifiedAt: Date } };
  /** Set by session authentication. */
  auth?: SessionAuth;
  /**
   * Set by session authentication on a write to a route open after the contract's end to some
   * bodies only: the route checks the parsed body (api/route.ts mountRoutes).
   */
  contractEnded?: boolean;
}

export interface SessionAuth {
  tenantId: string;
  /** The clinic as loaded by authentication, so handlers need not load it again. */
  clinic: { id: string; slug: string; name: string };
  accountId: string;
  sessionId: string;
  loginId: string;
  roles: string[];
  state: SessionState;
  /** Read by authentication in the same query, for `GET /v1/me`. */
  displayName: string;
  email: string;
  passkeyCount: number;
}
