import { z } from 'zod';
import { readBookingSettings, readProcessSettings, readSecuritySettings } from '../../application/settings/read-settings';
import { saveBookingSettings } from '../../application/settings/save-booking-settings';
import { saveNetworkAllowlist } from '../../application/settings/save-network-allowlist';
import { savePasswordPolicy } from '../../application/settings/save-password-policy';
import { saveProcessSettings } from '../../application/settings/save-process-settings';
import { bookingSettingsSchema } from '../../domain/booking-horizon';
import { canonicalCidr } from '../../domain/network';
import { CARE_TEAM } from '../../domain/roles';
import { passwordPolicySchema } from '../../domain/password-policy';
import { clinicActor, sessionActor } from '../actor';
import { defineRoute } from '../route';
import type { AppDeps } from '../app';

/** The clinic's settings (admins only): validate, call one use case (application/settings/), respond. */
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

const common = { tags: ['settings'], security: 'session' as const, roles: ['admin' as const], problems: [403] };

export const settingsRoutes = (deps: AppDeps) => [
  defineRoute({
    ...common,
    method: 'get',
    path: '/v1/settings/processes',
    operationId: 'getProcessSettings',
    summary: 'Whether administrators see every process area of the clinic',
    responses: { 200: { description: 'The setting', schema: processSettings } },
    handler: async (ctx) => {
      ctx.body = await readProcessSettings(deps, clinicActor(ctx));
    },
  }),
  defineRoute({
    ...common,
    method: 'put',
    path: '/v1/settings/processes',
    operationId: 'putProcessSettings',
    summary: 'Let administrators see every process area (off by default: areas are private to those listed)',
    description: 'Turning it on needs a password or passkey proved by you in the last 5 minutes (403 `reauthentication_required`; `POST /v1/auth/reauthenticate`); turning it off does not.',
    body: processSettings,
    problems: { 403: ['reauthentication_required'] },
    responses: { 200: { description: 'The saved setting', schema: processSettings } },
    handler: async (ctx, { body }) => {
      await saveProcessSettings(deps, sessionActor(ctx), body);
      ctx.body = body;
    },
  }),
  defineRoute({
    ...common,
    method: 'get',
    path: '/v1/settings/password-policy',
    operationId: 'getPasswordPolicy',
    summary: 'Your clinic\'s password, lockout, session and two-step verification policy',
    responses: { 200: { description: 'The policy (defaults until saved)', schema: policyView } },
    handler: async (ctx) => {
      ctx.body = (await readSecuritySettings(deps, clinicActor(ctx))).policy;
    },
  }),
  defineRoute({
    ...common,
    method: 'put',
    path: '/v1/settings/password-policy',
    operationId: 'putPasswordPolicy',
    summary: 'Replace the policy; omitted fields take their defaults',
    description: 'Needs a password or passkey proved by you in the last 5 minutes (403 `reauthentication_required`; `POST /v1/auth/reauthenticate`).',
    problems: { 403: ['reauthentication_required'] },
    body: passwordPolicySchema,
    responses: { 200: { description: 'The saved policy', schema: policyView } },
    handler: async (ctx, { body }) => {
      ctx.body = await savePasswordPolicy(deps, sessionActor(ctx), body);
    },
  }),
  defineRoute({
    ...common,
    method: 'get',
    path: '/v1/settings/network-allowlist',
    operationId: 'getNetworkAllowlist',
    summary: 'Networks your clinic may be reached from (empty: anywhere)',
    responses: { 200: { description: 'The allowlist and the address you are calling from', schema: allowlistView } },
    handler: async (ctx) => {
      ctx.body = { cidrs: (await readSecuritySettings(deps, clinicActor(ctx))).allowlist, yourAddress: ctx.state.clientIp };
    },
  }),
  defineRoute({
    ...common,
    method: 'put',
    path: '/v1/settings/network-allowlist',
    operationId: 'putNetworkAllowlist',
    summary: 'Replace the allowlist; refuses to lock out your own address unless confirmSelfLockout is true',
    description: 'Needs a password or passkey proved by you in the last 5 minutes (403 `reauthentication_required`; `POST /v1/auth/reauthenticate`).',
    body: allowlistBody,
    responses: { 200: { description: 'The saved allowlist', schema: allowlistView } },
    problems: { 403: ['reauthentication_required'], 409: ['would_lock_out_self'] },
    handler: async (ctx, { body }) => {
      const ip = ctx.state.clientIp;
      ctx.body = { cidrs: await saveNetworkAllowlist(deps, sessionActor(ctx), { ...body, clientIp: ip }), yourAddress: ip };
    },
  }),
  defineRoute({
    ...common,
    // The desk and the doctors book too: their calendars show how far ahead they may.
    roles: [...CARE_TEAM],
    method: 'get',
    path: '/v1/settings/bookings',
    operationId: 'getBookingSettings',
    summary: 'How many days ahead your clinic takes bookings (today in Japan and the next horizonDays days)',
    responses: { 200: { description: 'The setting (365 days until saved)', schema: bookingSettingsSchema } },
    handler: async (ctx) => {
      ctx.body = await readBookingSettings(deps, clinicActor(ctx));
    },
  }),
  defineRoute({
    ...common,
    method: 'put',
    path: '/v1/settings/bookings',
    operationId: 'putBookingSettings',
    summary: 'Set the booking horizon; visits already booked beyond a shorter one stay booked',
    body: bookingSettingsSchema,
    responses: { 200: { description: 'The saved setting', schema: bookingSettingsSchema } },
    handler: async (ctx, { body }) => {
      ctx.body = await saveBookingSettings(deps, clinicActor(ctx), body);
    },
  }),
];
