import { z } from 'zod';
import { recordAudit } from '../../db/audit';
import { getSettings, saveAllowlist, savePasswordPolicy, saveProcessSettings } from '../../db/settings';
import { withTenant } from '../../db/tenant-scope';
import { canonicalCidr, ipInCidrs } from '../../domain/network';
import { passwordPolicySchema } from '../../domain/password-policy';
import { conflict } from '../../domain/problems';
import { auditContext } from '../audit-context';
import { defineRoute } from '../route';
import type { AppDeps } from '../app';

const allowlistBody = z.strictObject({
  cidrs: z
    .array(z.string().max(64).refine((c) => canonicalCidr(c) !== undefined, 'must be an IPv4 or IPv6 network in CIDR form without host bits, e.g. 203.0.113.0/24'))
    .max(200),
  /** Set to true to save a list that does not contain the address you are saving it from. */
  confirmSelfLockout: z.boolean().optional(),
});
const allowlistView = z.object({ cidrs: z.array(z.string()), yourAddress: z.string() });

const policyView = z.record(z.string(), z.unknown()).meta({ id: 'PasswordPolicy' });

const processSettings = z.strictObject({ adminsSeeAllProcesses: z.boolean() });

export const settingsRoutes = (deps: AppDeps) => [
  defineRoute({
    method: 'get',
    path: '/v1/settings/processes',
    operationId: 'getProcessSettings',
    summary: 'Whether administrators see every process area of the clinic',
    tags: ['settings'],
    security: 'session',
    roles: ['admin'],
    responses: { 200: { description: 'The setting', schema: processSettings } },
    problems: [403],
    handler: async (ctx) => {
      const tenantId = ctx.state.auth!.tenantId;
      const row = await withTenant(deps.db, tenantId, (trx) => trx('tenant_settings').where({ tenant_id: tenantId }).first('admins_see_all_processes'));
      ctx.body = { adminsSeeAllProcesses: row?.adminsSeeAllProcesses === true };
    },
  }),
  defineRoute({
    method: 'put',
    path: '/v1/settings/processes',
    operationId: 'putProcessSettings',
    summary: 'Let administrators see every process area (off by default: areas are private to those listed)',
    tags: ['settings'],
    security: 'session',
    roles: ['admin'],
    body: processSettings,
    responses: { 200: { description: 'The saved setting', schema: processSettings } },
    problems: [403],
    handler: async (ctx, { body }) => {
      await withTenant(deps.db, ctx.state.auth!.tenantId, async (trx) => {
        await saveProcessSettings(trx, body.adminsSeeAllProcesses);
        await recordAudit(trx, auditContext(ctx), { action: 'settings.processes', outcome: 'success', details: body });
      });
      ctx.body = body;
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/settings/password-policy',
    operationId: 'getPasswordPolicy',
    summary: 'Your clinic\'s password, lockout, session and two-step verification policy',
    tags: ['settings'],
    security: 'session',
    roles: ['admin'],
    responses: { 200: { description: 'The policy (defaults until saved)', schema: policyView } },
    problems: [403],
    handler: async (ctx) => {
      ctx.body = (await withTenant(deps.db, ctx.state.auth!.tenantId, (trx) => getSettings(trx))).policy;
    },
  }),
  defineRoute({
    method: 'put',
    path: '/v1/settings/password-policy',
    operationId: 'putPasswordPolicy',
    summary: 'Replace the policy; omitted fields take their defaults',
    tags: ['settings'],
    security: 'session',
    roles: ['admin'],
    body: passwordPolicySchema,
    responses: { 200: { description: 'The saved policy', schema: policyView } },
    problems: [403],
    handler: async (ctx, { body }) => {
      ctx.body = await withTenant(deps.db, ctx.state.auth!.tenantId, async (trx) => {
        const before = (await getSettings(trx)).policy;
        await savePasswordPolicy(trx, body);
        await recordAudit(trx, auditContext(ctx), { action: 'settings.password_policy', outcome: 'success', details: { before, after: body } });
        return body;
      });
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/settings/network-allowlist',
    operationId: 'getNetworkAllowlist',
    summary: 'Networks your clinic may be reached from (empty: anywhere)',
    tags: ['settings'],
    security: 'session',
    roles: ['admin'],
    responses: { 200: { description: 'The allowlist and the address you are calling from', schema: allowlistView } },
    problems: [403],
    handler: async (ctx) => {
      const { allowlist } = await withTenant(deps.db, ctx.state.auth!.tenantId, (trx) => getSettings(trx));
      ctx.body = { cidrs: allowlist, yourAddress: ctx.state.clientIp };
    },
  }),
  defineRoute({
    method: 'put',
    path: '/v1/settings/network-allowlist',
    operationId: 'putNetworkAllowlist',
    summary: 'Replace the allowlist; refuses to lock out your own address unless confirmSelfLockout is true',
    tags: ['settings'],
    security: 'session',
    roles: ['admin'],
    body: allowlistBody,
    responses: { 200: { description: 'The saved allowlist', schema: allowlistView } },
    problems: [403, 409],
    handler: async (ctx, { body }) => {
      const cidrs = [...new Set(body.cidrs.map((c) => canonicalCidr(c)!))];
      const ip = ctx.state.clientIp;
      if (cidrs.length > 0 && !ipInCidrs(ip, cidrs) && body.confirmSelfLockout !== true) {
        throw conflict('would_lock_out_self', `The list does not contain your address ${ip}: you would lose access. Add it, or send "confirmSelfLockout": true.`);
      }
      await withTenant(deps.db, ctx.state.auth!.tenantId, async (trx) => {
        const before = (await getSettings(trx)).allowlist;
        await saveAllowlist(trx, cidrs);
        await recordAudit(trx, auditContext(ctx), { action: 'settings.network_allowlist', outcome: 'success', details: { before, after: cidrs, confirmedSelfLockout: body.confirmSelfLockout === true } });
      });
      ctx.body = { cidrs, yourAddress: ip };
    },
  }),
];
