import { OPERATOR_READERS } from '../../domain/operator-roles';
import { z } from 'zod';
import { clearClinicAllowlist } from '../../application/settings/clear-network-allowlist';
import { endClinicSessions } from '../../application/tenants/end-clinic-sessions';
import { createClinic } from '../../application/tenants/create-clinic';
import { getClinic, listClinics } from '../../application/tenants/read-clinics';
import { retryProvisioning } from '../../application/tenants/retry-provisioning';
import { rotateTenantKeys } from '../../application/tenants/rotate-keys';
import { updateClinic } from '../../application/tenants/update-clinic';
import { createTenantSchema, TENANT_STATUSES, updateTenantSchema } from '../../domain/tenant';
import { actor } from '../actor';
import { defineRoute } from '../route';
import { idParams, tenantPageSchema, tenantSchema } from '../schemas';
import type { AppDeps } from '../app';

const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(512).optional(),
  status: z.enum(TENANT_STATUSES).optional(),
});

export const operatorTenantRoutes = (deps: AppDeps) => [
  defineRoute({
    method: 'delete',
    path: '/v1/operator/tenants/:id/network-allowlist',
    operationId: 'clearTenantNetworkAllowlist',
    summary: 'Clear a clinic\'s network allowlist (reachable from anywhere again): the way back from a confirmed self-lockout, logged in the clinic\'s log with the operator\'s name',
    tags: ['operator'],
    security: 'operator',
    operatorRoles: ['support'],
    // A person, not a key: it opens the clinic to the whole internet, which a leaked key must not do;
    // and a person who has just proved their passkey, not a session left open on someone's desk.
    notByApiKey: true,
    operatorFreshProof: true,
    params: idParams,
    responses: { 200: { description: 'Cleared; the clinic\'s admins set a new list themselves', schema: z.object({ cidrs: z.array(z.string()) }) } },
    problems: { 404: [], 409: ['purge_started'] },
    handler: async (ctx, { params }) => {
      ctx.body = await clearClinicAllowlist(deps, actor(ctx), params.id);
    },
  }),
  defineRoute({
    method: 'delete',
    path: '/v1/operator/tenants/:id/sessions',
    operationId: 'endTenantSessions',
    summary: 'Sign every account of a clinic out (incident response): all its live sessions end, logged in the clinic\'s log with the operator\'s name',
    description: 'A suspension only pauses sessions (they work again when the clinic is resumed); this ends them. Accounts are not changed: everyone signs in again with their password and passkey.',
    tags: ['operator'],
    security: 'operator',
    operatorRoles: ['security'],
    // A person, not a key: a leaked key must not be able to sign every clinic out, again and again.
    notByApiKey: true,
    params: idParams,
    responses: { 200: { description: 'How many sessions ended', schema: z.object({ ended: z.number().int() }) } },
    problems: { 404: [], 409: ['purge_started'] },
    handler: async (ctx, { params }) => {
      ctx.body = await endClinicSessions(deps, actor(ctx), params.id);
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/operator/tenants/:id/key-rotation',
    operationId: 'rotateTenantKeys',
    summary: 'Re-wrap the clinic\'s data keys under a new master key version (a workflow; no downtime)',
    tags: ['operator'],
    security: 'operator',
    operatorRoles: ['platform-admin'],
    params: idParams,
    responses: { 202: { description: 'Rotation started', schema: z.object({ workflowId: z.string() }) } },
    problems: { 404: [], 409: ['rotation_in_progress', 'purge_started'] },
    handler: async (ctx, { params }) => {
      const { workflowId } = await rotateTenantKeys(deps, actor(ctx), params.id);
      ctx.status = 202;
      ctx.body = { workflowId };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/operator/tenants/:id/provisioning/retry',
    operationId: 'retryTenantProvisioning',
    summary: 'Run a clinic\'s provisioning again after its run ended without opening the clinic (a refused contract address, fixed first with PATCH; an outage that used up its retries; a terminated run)',
    description:
      'Starts a new run of `tenant-provisioning/<id>`. Addresses an earlier run welcomed are not mailed again. ' +
      'Logged in the clinic\'s and the operators\' logs with the operator\'s name.',
    tags: ['operator'],
    security: 'operator',
    operatorRoles: ['platform-admin'],
    params: idParams,
    responses: { 202: { description: 'A new provisioning run started', schema: z.object({ workflowId: z.string(), runId: z.string() }) } },
    problems: { 404: [], 409: ['not_provisioning', 'provisioning_running', 'purge_started'] },
    handler: async (ctx, { params }) => {
      ctx.body = await retryProvisioning(deps, actor(ctx), params.id);
      ctx.status = 202;
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/operator/tenants',
    operationId: 'createTenant',
    summary: 'Register a clinic (tenant); its provisioning workflow starts after the clinic is committed',
    tags: ['operator'],
    security: 'operator',
    operatorRoles: ['platform-admin'],
    body: createTenantSchema,
    bodyExample: { slug: 'sakura', name: 'さくらクリニック', contractEmails: ['info@sakura-clinic.example'] },
    responses: { 201: { description: 'Created; status is "provisioning" until the welcome mail is sent', schema: tenantSchema } },
    problems: { 409: ['slug_taken'] },
    handler: async (ctx, { body }) => {
      const tenant = await createClinic(deps, actor(ctx), body);
      ctx.status = 201;
      ctx.set('Location', `/v1/operator/tenants/${tenant.id}`);
      ctx.body = tenant;
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/operator/tenants',
    operationId: 'listTenants',
    summary: 'List clinics, oldest first (keyset pagination)',
    tags: ['operator'],
    security: 'operator',
    operatorRoles: OPERATOR_READERS,
    query: listQuery,
    responses: { 200: { description: 'A page of clinics', schema: tenantPageSchema } },
    handler: async (ctx, { query }) => {
      ctx.body = await listClinics(deps, query);
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/operator/tenants/:id',
    operationId: 'getTenant',
    summary: 'Get one clinic',
    tags: ['operator'],
    security: 'operator',
    operatorRoles: OPERATOR_READERS,
    params: idParams,
    responses: { 200: { description: 'The clinic', schema: tenantSchema } },
    problems: [404],
    handler: async (ctx, { params }) => {
      ctx.body = await getClinic(deps, params.id);
    },
  }),
  defineRoute({
    method: 'patch',
    path: '/v1/operator/tenants/:id',
    operationId: 'updateTenant',
    summary: 'Change a clinic\'s name, contract e-mail addresses, status (active/suspended) or contract end',
    description:
      'Setting `contractEndsAt` starts (or re-plans) the clinic\'s contract-end workflow `contract-end/<id>`: notices, read-only after the end, ' +
      'purge after the grace period (README: Contract end). `null` or a later date cancels what was pending and says so by mail. ' +
      'A person signed in who changes `contractEmails` (where incident, contract-end and deletion notices go) or `contractEndsAt` (when the clinic\'s data is deleted), or who resumes a suspended clinic (`"status": "active"`), ' +
      'must have proved their passkey in the last 5 minutes (403 `reauthentication_required`; an API key gets 403 `operator_session_required`); a name or a suspension does not need it.',
    tags: ['operator'],
    security: 'operator',
    operatorRoles: ['platform-admin'],
    // Where the clinic's notices go and when its data is deleted: a session left open must not
    // redirect the one or bring forward the other, nor let a suspended clinic back in. Suspending
    // stays one step (it is done in a hurry).
    operatorFreshProof: (body) => body.contractEmails !== undefined || body.contractEndsAt !== undefined || body.status === 'active',
    operatorFreshProofFor: 'for contract e-mails or end, or a resume',
    params: idParams,
    body: updateTenantSchema,
    responses: { 200: { description: 'The updated clinic', schema: tenantSchema } },
    problems: { 400: ['contract_end_in_past'], 404: [], 409: ['invalid_transition', 'purge_started'] },
    bodyExample: { contractEndsAt: '2027-03-31T15:00:00Z' },
    handler: async (ctx, { params, body }) => {
      ctx.body = await updateClinic(deps, actor(ctx), params.id, body);
    },
  }),
];
