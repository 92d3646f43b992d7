import { z } from 'zod';
import { contractEndProgress } from '../../application/tenants/contract-end-progress';
import { readDeletionCertificate } from '../../application/tenants/deletion-certificate';
import { OPERATOR_READERS } from '../../domain/operator-roles';
import { liftLegalHold, placeLegalHold } from '../../application/tenants/legal-hold';
import { nameText } from '../../domain/fields';
import { actor } from '../actor';
import { defineRoute } from '../route';
import { idParams, tenantSchema } from '../schemas';
import type { AppDeps } from '../app';

const legalHoldSchema = z
  .strictObject({ reason: nameText(1000).describe('Why the data must be kept (recorded in the operators\' log)') })
  .meta({ id: 'LegalHoldInput' });

const certificateSchema = z
  .object({
    certificate: z.record(z.string(), z.unknown()).describe('What was deleted (tables and rows, objects and bytes, key ids), when (UTC) and by which workflow run'),
    canonical: z.string().describe('The exact text hashed and signed: canonical JSON of `certificate` (keys sorted, no spaces)'),
    sha256: z.string().describe('SHA-256 of `canonical` (hex)'),
    signature: z.string().describe('HMAC-SHA-256 of `canonical` under DELETION_CERTIFICATE_KEY (hex)'),
    issuedAt: z.string().datetime().describe('UTC, ISO 8601'),
    mailedAt: z.string().datetime().nullable().describe('When it was mailed to the contract addresses (UTC)'),
  })
  .meta({ id: 'DeletionCertificate' });

/**
 * Contract end for operators: the end date itself is `PATCH /v1/operator/tenants/:id`
 * (`contractEndsAt`); here the legal hold and the deletion certificate. Holds are for
 * platform-admins; the certificate holds no clinic data beyond id and slug, so the security
 * team may read it too (answering a clinic's or an auditor's question about a deletion).
 */
const progressSchema = z
  .object({
    tenantId: z.uuid(),
    contractState: tenantSchema.shape.contractState,
    contractEndsAt: tenantSchema.shape.contractEndsAt,
    legalHold: tenantSchema.shape.legalHold,
    workflowId: z.string().describe('`contract-end/<id>`: find it in the Temporal UI'),
    live: z
      .object({
        state: z.string().describe('What the workflow last saw: a contract state, `cancelled` or `missing`'),
        endsAt: z.string().datetime().nullable().describe('The end its plan is for (UTC)'),
        next: z
          .object({
            kind: z.string().describe('`announce`, `reminder`, `end`, `purge` or `legal_hold`'),
            at: z.string().datetime().describe('When it is due (UTC; for `legal_hold`, when the purge was due)'),
          })
          .nullable(),
        legalHold: z.boolean(),
        noticesSent: z.number().int(),
      })
      .nullable()
      .describe('The workflow\'s own answer; null when no run is open (no end set, cancelled, purged) or it did not answer within 2 s'),
  })
  .meta({ id: 'ContractEndProgress' });

export const operatorContractEndRoutes = (deps: AppDeps) => [
  defineRoute({
    method: 'get',
    path: '/v1/operator/tenants/:id/contract-end',
    operationId: 'getContractEnd',
    summary: 'Where the clinic\'s contract end stands: the stored contract and what its workflow waits for next, and when',
    tags: ['operator'],
    security: 'operator',
    operatorRoles: OPERATOR_READERS,
    params: idParams,
    responses: { 200: { description: 'The contract and the workflow\'s next step', schema: progressSchema } },
    problems: [404],
    handler: async (ctx, { params }) => {
      ctx.body = await contractEndProgress(deps, params.id);
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/operator/tenants/:id/legal-hold',
    operationId: 'placeLegalHold',
    summary: 'Place a legal hold: the purge after the contract\'s end waits until it is lifted',
    tags: ['operator'],
    security: 'operator',
    operatorRoles: ['platform-admin'],
    params: idParams,
    body: legalHoldSchema,
    bodyExample: { reason: '訴訟対応のため保全 / preserved for litigation (case 2027-12)' },
    responses: { 200: { description: 'The clinic, with its legal hold', schema: tenantSchema } },
    problems: { 404: [], 409: ['purge_started'] },
    handler: async (ctx, { params, body }) => {
      ctx.body = await placeLegalHold(deps, actor(ctx), params.id, body.reason);
    },
  }),
  defineRoute({
    method: 'delete',
    path: '/v1/operator/tenants/:id/legal-hold',
    operationId: 'liftLegalHold',
    summary: 'Lift the legal hold: a purge that was waiting goes on',
    description: 'A person (not an API key) whose passkey was proved in the last 5 minutes: what it lets go on cannot be undone.',
    tags: ['operator'],
    security: 'operator',
    operatorRoles: ['platform-admin'],
    // It lets a purge go on: the clinic's records, kept for a reason, are deleted for good. A
    // leaked key or a session left open must not be able to do that.
    notByApiKey: true,
    operatorFreshProof: true,
    params: idParams,
    responses: { 200: { description: 'The clinic, without a legal hold', schema: tenantSchema } },
    problems: { 404: [], 409: ['purge_started'] },
    handler: async (ctx, { params }) => {
      ctx.body = await liftLegalHold(deps, actor(ctx), params.id);
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/operator/tenants/:id/deletion-certificate',
    operationId: 'getDeletionCertificate',
    summary: 'The deletion certificate of a purged clinic (404 until the purge has finished)',
    tags: ['operator'],
    security: 'operator',
    operatorRoles: ['platform-admin', 'security'],
    params: idParams,
    responses: { 200: { description: 'The certificate, its canonical text, hash and signature', schema: certificateSchema } },
    problems: [404],
    handler: async (ctx, { params }) => {
      ctx.body = await readDeletionCertificate(deps, actor(ctx), params.id);
    },
  }),
];
