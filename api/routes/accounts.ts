import { z } from 'zod';
import { createClinicAccount, createClinicAdmin } from '../../application/accounts/create-account';
import { deleteAccount } from '../../application/accounts/delete-account';
import { listClinicAccounts, readAccount } from '../../application/accounts/read-accounts';
import { resetPassword } from '../../application/accounts/reset-password';
import { unlockAccount } from '../../application/accounts/unlock-account';
import { endAccountSessions, listAccountSessions } from '../../application/accounts/account-sessions';
import { sessionList } from './sessions';
import { removeAccountPasskeys } from '../../application/accounts/remove-passkeys';
import { updateAccount } from '../../application/accounts/update-account';
import { createAccountSchema, createAdminSchema, updateAccountSchema } from '../../domain/account';
import { ONBOARDING_STATES } from '../../domain/onboarding';
import { actor, clinicActor, sessionActor } from '../actor';
import { defineRoute } from '../route';
import type { AppDeps } from '../app';
import { pathId } from '../schemas';

/** Accounts of a clinic (admins; operators for a clinic's first admin): validate, call one use case (application/accounts/), respond. */
const accountSchema = z
  .object({
    id: z.string().uuid(),
    loginId: z.string(),
    email: z.string(),
    displayName: z.string(),
    roles: z.array(z.string()),
    disabled: z.boolean(),
    onboardingState: z.enum(ONBOARDING_STATES),
    locked: z.boolean(),
    lockedUntil: z.string().nullable(),
    passkeyCount: z.number().int(),
    lastLoginAt: z.string().nullable(),
    passwordChangedAt: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'Account' });

const initialPasswordShown = z.string().describe('Generated (none was given): shown once, never retrievable again');
const created = z.object({ accountId: z.string().uuid(), initialPassword: initialPasswordShown.optional() });
/** The administrator's choice of initial password: checked against the clinic's policy, never returned or logged. */
const chosenInitialPassword = z.string().min(1).max(4096).describe('Your choice of initial password (else one is generated); it must be changed at first login');
const createBody = createAccountSchema.extend({ initialPassword: chosenInitialPassword.optional() });
const resetBody = z.strictObject({ initialPassword: chosenInitialPassword.optional() }).optional();
const accountParams = z.strictObject({ id: pathId });
const tenantParams = z.strictObject({ tenantId: pathId });
const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(512).optional(),
});

const admin = { tags: ['accounts'], security: 'session' as const, roles: ['admin' as const] };

export const accountRoutes = (deps: AppDeps) => [
  defineRoute({
    method: 'post',
    path: '/v1/operator/tenants/:tenantId/admins',
    operationId: 'createClinicAdmin',
    summary: 'Create a clinic\'s administrator (operator only)',
    tags: ['operator'],
    security: 'operator',
    operatorRoles: ['support'],
    // A person, not a key: an administrator minted with a leaked key would outlive the key's revocation.
    notByApiKey: true,
    // A way into a clinic: the person proves their passkey again, as a clinic admin does for an account.
    operatorFreshProof: true,
    params: tenantParams,
    body: createAdminSchema,
    responses: { 201: { description: 'Created; hand the initial password over out of band', schema: created } },
    problems: { 400: ['password_policy'], 404: [], 409: ['login_id_taken', 'purge_started'], 429: ['rate_limited'] },
    handler: async (ctx, { params, body }) => {
      ctx.status = 201;
      ctx.body = await createClinicAdmin(deps, actor(ctx), params.tenantId, body);
    },
  }),

  defineRoute({
    ...admin,
    method: 'post',
    path: '/v1/accounts',
    operationId: 'createAccount',
    summary: 'Create an account in your clinic',
    body: createBody,
    bodyExample: { loginId: 'tanaka', email: 'tanaka@sakura-clinic.example', displayName: '田中 一郎', roles: ['doctor'] },
    responses: { 201: { description: 'Created; a generated initial password is shown only now', schema: created } },
    description: 'Needs a password or passkey proved by you in the last 5 minutes (403 `reauthentication_required`; `POST /v1/auth/reauthenticate`).',
    problems: { 400: ['password_policy'], 403: ['reauthentication_required'], 409: ['login_id_taken'], 429: ['rate_limited'] },
    handler: async (ctx, { body }) => {
      const { initialPassword, ...input } = body;
      ctx.status = 201;
      ctx.body = await createClinicAccount(deps, sessionActor(ctx), input, { initialPassword });
    },
  }),

  defineRoute({
    ...admin,
    method: 'get',
    path: '/v1/accounts',
    operationId: 'listAccounts',
    summary: 'Accounts of your clinic, oldest first',
    query: listQuery,
    responses: { 200: { description: 'A page of accounts', schema: z.object({ items: z.array(accountSchema), nextCursor: z.string().nullable() }) } },
    problems: [403],
    handler: async (ctx, { query }) => {
      ctx.body = await listClinicAccounts(deps, clinicActor(ctx), query);
    },
  }),

  defineRoute({
    ...admin,
    method: 'get',
    path: '/v1/accounts/:id',
    operationId: 'getAccount',
    summary: 'One account, with its onboarding state',
    params: accountParams,
    responses: { 200: { description: 'The account', schema: accountSchema } },
    problems: [403, 404],
    handler: async (ctx, { params }) => {
      ctx.body = await readAccount(deps, clinicActor(ctx), params.id);
    },
  }),

  defineRoute({
    ...admin,
    method: 'patch',
    path: '/v1/accounts/:id',
    operationId: 'updateAccount',
    summary: 'Change roles, display name, e-mail or disabled; the last active admin cannot be removed',
    params: accountParams,
    body: updateAccountSchema,
    // Read-only after the contract's end, a clinic can still take access away (someone leaves
    // during the grace while the records are still there to be read): `{ "disabled": true }` alone.
    openAfterContractEnd: (body) => Object.keys(body).length === 1 && body.disabled === true,
    description:
      'A change that hands out access (a role the account did not have, `"disabled": false` for a disabled account, another e-mail address) needs a password or passkey proved by you in the last 5 minutes (403 `reauthentication_required`); taking access away and renaming do not. While the clinic is read-only after its contract ended, only `{ "disabled": true }` is accepted (taking access away); anything else answers 403 `contract_ended`.',
    responses: { 200: { description: 'The updated account', schema: accountSchema } },
    problems: { 403: ['reauthentication_required'], 404: [], 409: ['last_admin'] },
    handler: async (ctx, { params, body }) => {
      ctx.body = await updateAccount(deps, sessionActor(ctx), params.id, body);
    },
  }),

  defineRoute({
    ...admin,
    method: 'delete',
    path: '/v1/accounts/:id',
    operationId: 'deleteAccount',
    summary: 'Delete an account (its sessions and passkeys go with it)',
    params: accountParams,
    responses: { 204: { description: 'Deleted' } },
    problems: { 403: [], 404: [], 409: ['last_admin'] },
    handler: async (ctx, { params }) => {
      await deleteAccount(deps, clinicActor(ctx), params.id);
      ctx.status = 204;
    },
  }),

  defineRoute({
    ...admin,
    method: 'post',
    path: '/v1/accounts/:id/reset-password',
    operationId: 'resetAccountPassword',
    summary: 'Set a new initial password (yours, or a generated one); onboarding starts over and all sessions end',
    params: accountParams,
    body: resetBody,
    responses: { 200: { description: 'Reset; a generated initial password is shown only now', schema: z.object({ initialPassword: initialPasswordShown.optional() }) } },
    description: 'Needs a password or passkey proved by you in the last 5 minutes (403 `reauthentication_required`).',
    problems: { 400: ['password_policy'], 403: ['reauthentication_required'], 404: [], 429: ['rate_limited'] },
    handler: async (ctx, { params, body }) => {
      ctx.body = await resetPassword(deps, sessionActor(ctx), params.id, { initialPassword: body?.initialPassword });
    },
  }),

  defineRoute({
    ...admin,
    method: 'delete',
    path: '/v1/accounts/:id/passkeys',
    // Taking access away stays possible while the clinic is read-only after its contract ended.
    openAfterContractEnd: true,
    operationId: 'removeAccountPasskeys',
    summary: 'Remove every passkey of another account (lost or stolen authenticator); its sessions end, its password stays',
    description:
      'Needs a password or passkey proved by you in the last 5 minutes (403 `reauthentication_required`). The holder registers a new passkey at the next sign-in. Your own passkeys: `DELETE /v1/auth/webauthn/credentials/{id}` (409 `own_account` here).',
    params: accountParams,
    responses: { 200: { description: 'Removed', schema: z.object({ removed: z.number().int() }) } },
    problems: { 403: ['reauthentication_required'], 404: [], 409: ['own_account'] },
    handler: async (ctx, { params }) => {
      ctx.body = await removeAccountPasskeys(deps, sessionActor(ctx), params.id);
    },
  }),

  defineRoute({
    ...admin,
    method: 'get',
    path: '/v1/accounts/:id/sessions',
    operationId: 'listAccountSessions',
    summary: 'Where an account is signed in: its live sessions, most recently used first (logged as a read)',
    params: accountParams,
    responses: { 200: { description: 'Its live sessions (at most 20)', schema: sessionList } },
    problems: [403, 404],
    handler: async (ctx, { params }) => {
      ctx.body = await listAccountSessions(deps, sessionActor(ctx), params.id);
    },
  }),

  defineRoute({
    ...admin,
    method: 'delete',
    path: '/v1/accounts/:id/sessions',
    // Taking access away stays possible while the clinic is read-only after its contract ended.
    openAfterContractEnd: true,
    operationId: 'endAccountSessions',
    summary: 'Sign an account out everywhere (a lost or shared device); it keeps working, its holder signs in again',
    description: 'Your own account: every session but the one asking. Disabling an account (`PATCH`) also ends its sessions, and keeps it out.',
    params: accountParams,
    responses: { 200: { description: 'How many sessions ended', schema: z.object({ ended: z.number().int() }) } },
    problems: [403, 404],
    handler: async (ctx, { params }) => {
      ctx.body = await endAccountSessions(deps, sessionActor(ctx), params.id);
    },
  }),

  defineRoute({
    ...admin,
    method: 'post',
    path: '/v1/accounts/:id/unlock',
    operationId: 'unlockAccount',
    summary: 'Lift a lockout after failed logins',
    description: 'Lets password guesses at the account start again, so this needs a password or passkey proved by you in the last 5 minutes (403 `reauthentication_required`; `POST /v1/auth/reauthenticate`).',
    params: accountParams,
    responses: { 204: { description: 'Unlocked' } },
    problems: { 403: ['reauthentication_required'], 404: [] },
    handler: async (ctx, { params }) => {
      await unlockAccount(deps, sessionActor(ctx), params.id);
      ctx.status = 204;
    },
  }),
];
