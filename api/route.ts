import type Router from '@koa/router';
import type { ParameterizedContext } from 'koa';
import { z } from 'zod';
import { parseOrThrow } from '../domain/validation';
import { asClinicWrite } from '../db/tenant-scope';
import { contractEnded, forbidden, validationFailed } from '../domain/problems';
import { isFreshlyVerified, REAUTHENTICATION_WINDOW_SECONDS } from '../domain/sign-in';
import type { SessionState } from '../db/models/session';
import type { Role } from '../domain/roles';
import type { OperatorRole } from '../domain/operator-roles';
import type { AppState } from './state';

/**
 * A route is declared once, with its schemas, and that one declaration both registers the
 * handler and documents it in /openapi.json — so the document cannot drift from the code.
 */
export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export type Security = 'none' | 'operator' | 'session';

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** Default application/json; several when the body's type varies (e.g. a stored file's). */
  contentType?: string | string[];
}

export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: HttpMethod;
  path: string;
  operationId: string;
  summary: string;
  tags: string[];
  security: Security;
  /** With `session`: roles of which the account needs one (default: any signed-in account). */
  roles?: Role[];
  /** With `session`: session states allowed in (default: only `active`). */
  states?: SessionState[];
  /**
   * With `session`: the caller ends their own session (logout). Let through while the clinic is
   * suspended and from outside its allowlist: taking one's own access away is never refused (a
   * user at a shared terminal, or someone who finds their token used from elsewhere).
   */
  endsOwnSession?: boolean;
  /**
   * With `operator`: operator roles of which the caller needs one. Required on every operator
   * route (a unit test checks), so no route is open to every operator by omission.
   */
  operatorRoles?: OperatorRole[];
  /**
   * With `operator`: refused to API keys (403 operator_session_required). Managing operators and
   * keys is for people: a leaked key must not mint keys or operators that outlive its revocation.
   */
  notByApiKey?: boolean;
  /**
   * With `operator`: states an operator's session may be in (default: only `active`). Sign-in
   * steps (password change, passkey enrolment and presentation) name theirs. API keys and
   * break-glass have no session and count as active.
   */
  operatorStates?: SessionState[];
  /**
   * With `operator`: a person signed in must have proved their passkey (or password) in the last
   * 5 minutes for this route (true), or for the bodies the function picks: changes that hand out
   * access (an operator, a role, a key, a clinic's administrator). Else 403
   * reauthentication_required; a passkey assertion from the active session re-proves it. An API
   * key, which proves no passkey, gets 403 operator_session_required for them.
   * Break-glass has no session: it is itself the emergency credential, mailed on every use.
   */
  operatorFreshProof?: boolean | ((body: z.output<B>) => boolean);
  /** For a function above: which changes it picks, in the README's role table (default "to give access"). */
  operatorFreshProofFor?: string;
  /**
   * With `session`, on a write: the route stays open while the clinic is read-only after its
   * contract ended (exports, logout, own password and passkeys), or open only to the bodies the
   * function accepts (taking someone's access away: disabling an account). Every other write then
   * answers 403 `contract_ended`.
   */
  openAfterContractEnd?: boolean | ((body: z.output<B>) => boolean);
  /** The body is a raw upload the handler streams itself (no JSON parsing, no JSON size limit). */
  upload?: boolean;
  params?: P;
  query?: Q;
  body?: B;
  responses: Record<number, ResponseSpec>;
  /**
   * Problem statuses this route can answer with beyond the common ones, each with the `code`s it
   * uses (api/openapi.ts adds the codes every route of its kind shares). A bare list of statuses
   * documents only the shared codes.
   */
  problems?: number[] | Partial<Record<number, string[]>>;
  /** The route requires an `Idempotency-Key` header (true), or honours one when sent ('optional'). */
  idempotencyKey?: boolean | 'optional';
  /** A typical request body, shown in /openapi.json (a unit test parses it with `body`). */
  bodyExample?: unknown;
  description?: string;
  handler: (
    ctx: ParameterizedContext<AppState>,
    input: { params: z.output<P>; query: z.output<Q>; body: z.output<B> },
  ) => Promise<void>;
}

export type AnyRoute = RouteSpec<z.ZodType, z.ZodType, z.ZodType>;

export function defineRoute<
  P extends z.ZodType = z.ZodUndefined,
  Q extends z.ZodType = z.ZodUndefined,
  B extends z.ZodType = z.ZodUndefined,
>(spec: RouteSpec<P, Q, B>): AnyRoute {
  return spec as unknown as AnyRoute;
}

/**
 * Who reads a clinic's records of what happened there (operation log, probe records, denied
 * attempts): its admins and auditors, one declaration for all of those routes.
 */
export const CLINIC_RECORD_READERS = { tags: ['audit'], security: 'session' as const, roles: ['admin', 'auditor'] as Role[], problems: [403] };

/** `/v1/tenants/:id` → `/v1/tenants/{id}` */
export const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

export type AuthMiddleware = (ctx: ParameterizedContext<AppState>, next: () => Promise<unknown>) => Promise<unknown>;

const isNoBody = (body: unknown) =>
  body === undefined || (typeof body === 'object' && body !== null && !Array.isArray(body) && Object.keys(body).length === 0);

export function mountRoutes(router: Router<AppState>, routes: AnyRoute[], auth: Record<Security, (route: AnyRoute) => AuthMiddleware>): void {
  for (const route of routes) {
    // Fail at start-up rather than leave an operator route open to every operator by omission.
    if (route.security === 'operator' && !route.operatorRoles?.length) {
      throw new Error(`${route.method.toUpperCase()} ${route.path}: an operator route must name its operatorRoles`);
    }
    router[route.method](route.path, auth[route.security](route), async (ctx) => {
      // A route that takes no body refuses one rather than ignore it (an empty object is no body):
      // a client that sends fields to the wrong route learns it at once.
      if (!route.body && !route.upload && !isNoBody(ctx.state.body)) throw validationFailed([{ field: '(body)', message: 'this route takes no request body' }]);
      const input = {
        params: route.params ? parseOrThrow(route.params, ctx.params) : undefined,
        query: route.query ? parseOrThrow(route.query, ctx.query) : undefined,
        body: route.body ? parseOrThrow(route.body, ctx.state.body) : undefined,
      };
      // Read-only after the contract's end, and this route is open to some bodies only (session auth let it through to be told).
      const { openAfterContractEnd } = route;
      const open = openAfterContractEnd === true || (typeof openAfterContractEnd === 'function' && openAfterContractEnd(input.body));
      if (ctx.state.contractEnded && !open) throw contractEnded();
      const { operatorFreshProof } = route;
      const session = ctx.state.actor?.session;
      const needsProof = operatorFreshProof === true || (typeof operatorFreshProof === 'function' && operatorFreshProof(input.body));
      // An API key proves no passkey: a change that needs one is a person's (or break-glass's). A
      // leaked key could otherwise redirect a clinic's notices or set when its data is deleted.
      if (needsProof && ctx.state.actor?.operator?.via === 'api-key') {
        throw forbidden('operator_session_required', 'Only a person who has just proved their passkey (or break-glass) can make this change, not an API key.');
      }
      if (session && needsProof && !isFreshlyVerified(session.verifiedAt, new Date())) {
        throw forbidden('reauthentication_required', `Present your passkey again (POST /v1/operator/auth/passkeys/authentication/options, then …/verify): this needs a proof from the last ${REAUTHENTICATION_WINDOW_SECONDS / 60} minutes.`);
      }
      // A clinic user's write that a read-only clinic may not make: each of its transactions
      // re-reads the clinic as it begins (asClinicWrite), so one racing the end or a suspension is
      // refused as the next request would be, not committed just after it.
      const handle = () => route.handler(ctx as ParameterizedContext<AppState>, input);
      if (ctx.state.auth && route.method !== 'get' && !open) await asClinicWrite(handle);
      else await handle();
    });
  }
}
