import Router from '@koa/router';
import Koa from 'koa';
import { z } from 'zod';
import type { Db } from '../db/connection';
import type { Logger } from '../lib/logger';
import type { TemporalClient } from '../temporal/client';
import { accessLog } from './middleware/access-log';
import { requestMetrics, type RequestMetrics } from './middleware/request-metrics';
import { requestTracing } from './middleware/tracing';
import type { Tracing } from '../lib/tracing';
import { allowedMethods } from './middleware/allowed-methods';
import { jsonBody } from './middleware/json-body';
import { operatorAuth } from './middleware/operator-auth';
import { problemHandler } from './middleware/problem-handler';
import { requestId } from './middleware/request-id';
import { requestTarget } from './middleware/request-target';
import { securityHeaders } from './middleware/security-headers';
import { buildOpenApi, type Listener } from './openapi';
import { operatorRequestLog } from './middleware/operator-request-log';
import { operatorSource } from './middleware/operator-source';
import { defineRoute, mountRoutes, type AnyRoute, type AuthMiddleware } from './route';
import { accountRoutes } from './routes/accounts';
import { auditLogRoutes } from './routes/audit-logs';
import { authRoutes } from './routes/auth';
import { sessionRoutes } from './routes/sessions';
import { groupRoutes } from './routes/groups';
import { loginProbeRoutes } from './routes/login-probes';
import { securityEventRoutes } from './routes/security-events';
import { passkeyPageRoutes } from './routes/passkey-page';
import { operatorPlatformLogRoutes } from './routes/operator-platform-log';
import { settingsRoutes } from './routes/settings';
import { webauthnRoutes } from './routes/webauthn';
import { clientAddress } from './middleware/client-ip';
import { cors } from './middleware/cors';
import { sessionAuth } from './middleware/session-auth';
import { breakGlassEnabled, type Config } from '../lib/config';
import type { OperatorIdentitySettings } from '../application/operators/operator-deps';
import { operatorAuthRoutes } from './routes/operator-auth';
import { operatorAccountRoutes } from './routes/operator-accounts';
import { createKeyProvider } from '../lib/crypto/provider';
import { createObjectStore } from '../lib/storage';
import type { ObjectStore } from '../lib/storage/object-store';
import { processRoutes } from './routes/processes';
import { patientRoutes } from './routes/patients';
import { practitionerRoutes } from './routes/practitioners';
import { consultationRoutes } from './routes/consultations';
import { exportRoutes } from './routes/exports';
import { jwtVideoRooms, type VideoRoomProvider } from '../lib/video-room';
import type { ConsultationTiming } from '../workflows/consultation';
import { randomBytes } from 'node:crypto';
import { Vault } from '../lib/crypto/vault';
import { PasswordHasher } from '../lib/password-hash';
import { healthRoutes } from './routes/health';
import { operatorTenantRoutes } from './routes/operator-tenants';
import { operatorContractEndRoutes } from './routes/operator-contract-end';
import { operatorNoticeRoutes } from './routes/operator-notices';
import { noticeRoutes } from './routes/notices';
import type { ChangeNoticeSettings } from '../application/notices/change-notices';
import { operatorBackupRoutes } from './routes/operator-backups';
import { backupStoreLocation } from '../lib/storage/backup-store';
import type { AppState } from './state';
import { WorkflowOutbox } from '../temporal/workflow-outbox';
import { ExportSlots } from '../lib/export-slots';
import { SecurityEventRecorder } from '../application/security/security-event-recorder';
import { PlatformLogWriter } from '../application/operators/platform-log-writer';
import { ReadLog } from '../application/audit/read-log';
import { SessionAuthCache } from '../db/session-auth-cache';
import type { SessionAuthRecord } from '../db/sessions';

export interface AppDeps {
  db: Db;
  /** Request counters and latency (lib/metrics.ts), when the process serves metrics. */
  metrics?: RequestMetrics;
  /** OpenTelemetry tracing (lib/tracing.ts), when OTEL_EXPORTER_OTLP_ENDPOINT is set. */
  tracing?: Tracing;
  /** Slots for long exports (lib/export-slots.ts). */
  exports: ExportSlots;
  outbox: WorkflowOutbox;
  vault: Vault;
  storage: ObjectStore;
  files: { maxBytes: number };
  /** Full data exports: how long an archive is kept once ready (EXPORT_RETENTION_SECONDS). */
  dataExports: { retentionSeconds: number };
  /** Contract end: the read-only grace (CONTRACT_GRACE_SECONDS), which bounds how far in the past a new end may lie. */
  contract?: { graceSeconds: number };
  video: VideoRoomProvider;
  consultations: ConsultationTiming;
  /** Advance change notices: lead times and the minimum (CHANGE_NOTICE_*). */
  changeNotices: ChangeNoticeSettings;
  temporal: TemporalClient;
  log: Logger;
  /** Operators' sessions, passkeys, login limits and the break-glass token (README: Operators). */
  operators: OperatorIdentitySettings;
  /** Sources the operator listener answers (OPERATOR_ALLOWED_CIDRS). */
  operatorAllowedCidrs: string[];
  taskQueue: string;
  bodyLimitBytes: number;
  tls: boolean;
  isShuttingDown: () => boolean;
  passwords: PasswordHasher;
  /** Denied attempts, aggregated per source and minute (application/security/security-event-recorder.ts). */
  securityEvents: SecurityEventRecorder;
  /** The operator listener's per-request platform-log entries, in group commits. */
  platformLog: PlatformLogWriter;
  /** The clinic log's entries of reads, in group commits per clinic (application/audit/read-log.ts). */
  readLog: ReadLog;
  /** Session authentication's kept answers (SESSION_AUTH_CACHE_ENTRIES; absent when 0): db/session-auth-cache.ts. */
  sessionAuthCache?: SessionAuthCache<SessionAuthRecord>;
  security: {
    trustedProxies: string[];
    loginFailuresPerIp: number;
    loginFailuresPerAccount: number;
    loginFailuresPerClinic: number;
    loginRateWindowSeconds: number;
    loginIdKey: string;
    webauthn: { rpId: string; rpName: string; origins: string[] };
  };
  audit: { defaultWindowDays: number; maxWindowDays: number };
  corsOrigins: string[];
  /** Serve the passkey reference page (/passkeys): everywhere but production. */
  passkeyPage: boolean;
  /** Where backup generations are stored (recorded with each one). */
  backupStore: string;
}

/** The app's dependencies from validated configuration plus the live connections. */
export function appDeps(
  config: Config,
  live: Pick<AppDeps, 'db' | 'temporal' | 'log'> & { vault?: Vault; storage?: ObjectStore; isShuttingDown?: () => boolean; tls?: boolean },
): AppDeps {
  // Without a configured key (local development) login IDs are hashed with a per-process one.
  const loginIdKey = config.LOGIN_ID_HMAC_KEY ?? randomBytes(32).toString('hex');
  return {
    ...live,
    exports: new ExportSlots(config.EXPORT_CONCURRENCY),
    outbox: new WorkflowOutbox({ db: live.db, client: live.temporal.client, taskQueue: config.TEMPORAL_TASK_QUEUE, log: live.log }),
    vault: live.vault ?? new Vault(live.db, createKeyProvider(config)),
    storage: live.storage ?? createObjectStore(config),
    files: { maxBytes: config.FILE_MAX_BYTES },
    dataExports: { retentionSeconds: config.EXPORT_RETENTION_SECONDS },
    contract: { graceSeconds: config.CONTRACT_GRACE_SECONDS },
    // Without a configured secret (local development) tokens are signed with a per-process one.
    video: jwtVideoRooms({ baseUrl: config.VIDEO_BASE_URL, secret: config.VIDEO_TOKEN_SECRET ?? randomBytes(32).toString('hex') }),
    consultations: {
      reminderOffsetsSec: config.CONSULTATION_REMINDERS_SECONDS,
      joinWindowBeforeSec: config.JOIN_WINDOW_BEFORE_SECONDS,
      noShowAfterSec: config.NO_SHOW_AFTER_SECONDS,
      paymentReminderAfterSec: config.PAYMENT_REMINDER_AFTER_SECONDS,
    },
    changeNotices: { leadTimesSec: config.CHANGE_NOTICE_LEAD_SECONDS, minLeadSec: config.CHANGE_NOTICE_MIN_LEAD_SECONDS },
    operatorAllowedCidrs: config.OPERATOR_ALLOWED_CIDRS,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
    tls: live.tls ?? config.BEHIND_TLS_PROXY,
    isShuttingDown: live.isShuttingDown ?? (() => false),
    passwords: new PasswordHasher({ concurrency: config.PASSWORD_HASH_CONCURRENCY, queue: config.PASSWORD_HASH_QUEUE }),
    securityEvents: new SecurityEventRecorder({ db: live.db, log: live.log }),
    platformLog: new PlatformLogWriter(live.db),
    readLog: new ReadLog(live.db, live.log),
    sessionAuthCache: config.SESSION_AUTH_CACHE_ENTRIES > 0 ? new SessionAuthCache<SessionAuthRecord>(config.SESSION_AUTH_CACHE_ENTRIES) : undefined,
    security: {
      trustedProxies: config.TRUSTED_PROXIES,
      loginFailuresPerIp: config.LOGIN_FAILURES_PER_IP,
      loginFailuresPerAccount: config.LOGIN_FAILURES_PER_ACCOUNT,
      loginFailuresPerClinic: config.LOGIN_FAILURES_PER_CLINIC,
      loginRateWindowSeconds: config.LOGIN_RATE_WINDOW_SECONDS,
      loginIdKey,
      webauthn: { rpId: config.WEBAUTHN_RP_ID, rpName: config.WEBAUTHN_RP_NAME, origins: config.WEBAUTHN_ORIGINS },
    },
    operators: {
      session: { idleSeconds: config.OPERATOR_SESSION_IDLE_SECONDS, maxSeconds: config.OPERATOR_SESSION_MAX_SECONDS },
      webauthn: {
        rpId: config.OPERATOR_WEBAUTHN_RP_ID ?? config.WEBAUTHN_RP_ID,
        rpName: `${config.WEBAUTHN_RP_NAME} operators`,
        origins: config.OPERATOR_WEBAUTHN_ORIGINS ?? config.WEBAUTHN_ORIGINS,
      },
      breakGlassToken: breakGlassEnabled(config) ? config.OPERATOR_TOKEN : undefined,
      loginFailuresPerIp: config.LOGIN_FAILURES_PER_IP,
      loginFailuresPerAccount: config.LOGIN_FAILURES_PER_ACCOUNT,
      loginRateWindowSeconds: config.LOGIN_RATE_WINDOW_SECONDS,
      loginIdKey,
    },
    audit: { defaultWindowDays: config.AUDIT_DEFAULT_WINDOW_DAYS, maxWindowDays: config.AUDIT_MAX_WINDOW_DAYS },
    corsOrigins: config.CORS_ORIGINS,
    passkeyPage: config.NODE_ENV !== 'production',
    backupStore: backupStoreLocation(config),
  };
}

/**
 * Which listener serves a route: operator routes only the operator listener (OPERATOR_PORT,
 * internal), health both, everything else only the public one. A route on the wrong listener is
 * simply not mounted there, so it answers 404 like any unknown path.
 */
export const servedOn = (route: AnyRoute, listener: Listener) =>
  route.tags.includes('health') || isPasskeyPage(route) || isOperatorRoute(route) === (listener === 'operator');

/** The passkey reference page (outside production only) runs its ceremonies against its own origin's listener. */
const isPasskeyPage = (route: AnyRoute) => route.path === '/passkeys' || route.path.startsWith('/passkeys/');

/** Operator routes: those operators authenticate for, and their sign-in steps (`security: 'none'`, same prefix). */
export const isOperatorRoute = (route: AnyRoute) => route.security === 'operator' || route.path.startsWith('/v1/operator/');

export function appRoutes(deps: AppDeps, listener: Listener = 'public'): AnyRoute[] {
  const all = [
    ...healthRoutes(deps),
    ...operatorTenantRoutes(deps),
    ...operatorContractEndRoutes(deps),
    ...operatorNoticeRoutes(deps),
    ...noticeRoutes(deps),
    ...operatorBackupRoutes(deps),
    ...operatorAuthRoutes(deps),
    ...operatorAccountRoutes(deps),
    ...operatorPlatformLogRoutes(deps),
    ...accountRoutes(deps),
    ...authRoutes(deps),
    ...sessionRoutes(deps),
    ...webauthnRoutes(deps),
    ...groupRoutes(deps),
    ...settingsRoutes(deps),
    ...auditLogRoutes(deps),
    ...loginProbeRoutes(deps),
    ...securityEventRoutes(deps),
    ...processRoutes(deps),
    ...patientRoutes(deps),
    ...practitionerRoutes(deps),
    ...consultationRoutes(deps),
    ...exportRoutes(deps),
    ...(deps.passkeyPage ? passkeyPageRoutes(listener) : []),
  ];
  const routes = all.filter((r) => servedOn(r, listener));
  let doc: unknown;
  const openapi = defineRoute({
    method: 'get',
    path: '/openapi.json',
    operationId: 'getOpenApi',
    summary: listener === 'operator' ? 'This OpenAPI 3.1 document (the operator listener\'s routes only)' : 'This OpenAPI 3.1 document (the public listener\'s routes only)',
    tags: ['meta'],
    security: 'none',
    responses: { 200: { description: 'OpenAPI document', schema: z.object({ openapi: z.string() }).passthrough() } },
    handler: async (ctx) => {
      ctx.body = doc;
    },
  });
  routes.push(openapi);
  doc = buildOpenApi(routes, { version: process.env.npm_package_version ?? '0.1.0', listener });
  return routes;
}

/**
 * One listener's app: `public` (clinics) or `operator` (the provider's staff; its own port,
 * source allowlist and a platform-log entry per request). `sessionAuth` replaces session
 * authentication; only the benchmark uses it, to measure what authentication costs on an
 * otherwise identical route.
 */
export function createApp(
  deps: AppDeps,
  opts: { listener?: Listener; sessionAuth?: (route: AnyRoute) => AuthMiddleware } = {},
): { app: Koa<AppState>; router: Router<AppState>; routes: AnyRoute[] } {
  const listener = opts.listener ?? 'public';
  const app = new Koa<AppState>();
  const router = new Router<AppState>();
  const routes = appRoutes(deps, listener);
  const open: AuthMiddleware = async (_ctx, next) => next();
  const operator = operatorAuth(deps);
  mountRoutes(router, routes, {
    none: () => open,
    operator: (route) => operator(route) as AuthMiddleware,
    session: opts.sessionAuth ?? ((route) => sessionAuth(deps, route) as AuthMiddleware),
  });

  // First, so that the whole request, and any workflow it starts, is inside its span.
  if (deps.tracing) app.use(requestTracing(deps.tracing, listener));
  app.use(requestId(deps.log));
  app.use(clientAddress(deps.security.trustedProxies));
  app.use(accessLog());
  if (deps.metrics) app.use(requestMetrics(deps.metrics, listener));
  for (const m of securityHeaders({ tls: deps.tls })) app.use(m);
  // Outside the problem handler: it writes the final status, problems included.
  if (listener === 'operator') app.use(operatorRequestLog(deps.platformLog));
  app.use(problemHandler());
  if (listener === 'operator') app.use(operatorSource(deps.operatorAllowedCidrs, deps.securityEvents));
  // Operators use the API from tools, never from a clinic's browser front end.
  else app.use(cors(deps.corsOrigins));
  app.use(requestTarget());
  app.use(allowedMethods(router));
  // Uploads stream their own bodies; everything else is JSON with the general size limit.
  const uploadPaths = new Set(routes.filter((r) => r.upload).map((r) => `${r.method.toUpperCase()} ${r.path}`));
  const isUpload = (method: string, path: string) =>
    router.match(path, method).pathAndMethod.some((layer) => uploadPaths.has(`${method} ${String(layer.path)}`));
  app.use(jsonBody(deps.bodyLimitBytes, (ctx) => isUpload(ctx.method, ctx.path)));
  app.use(router.routes());
  return { app, router, routes };
}
