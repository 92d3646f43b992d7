import { z } from 'zod';
import { readBackups, readRestoreTests, startBackup, startRestoreTest } from '../../application/backups/backups';
import { actor } from '../actor';
import { defineRoute } from '../route';
import type { AppDeps } from '../app';
import { uuidInput } from '../../domain/ids';

/** Operator routes for backups (README: Backups). Every call is in the operators' log (operator_actions). */
const generationParams = z.strictObject({ id: uuidInput() });
const listQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(512).optional().describe('`nextCursor` of the previous page'),
});

const utc = z.string().datetime();
const backupGenerationSchema = z
  .object({
    id: z.string().uuid(),
    workflowId: z.string(),
    trigger: z.enum(['schedule', 'operator']),
    state: z.enum(['running', 'written', 'verified', 'failed', 'pruned']).describe('`verified` generations count toward retention; `pruned` ones have no objects left'),
    startedAt: utc,
    finishedAt: utc.nullable(),
    sizeBytes: z.number().int().nullable().describe('Stored bytes (compressed and encrypted) of all table objects'),
    keyId: z.string().nullable().describe('The platform backup master key that wraps this generation\'s data key'),
    postgresVersion: z.string().nullable(),
    latestMigration: z.string().nullable(),
    tables: z.array(z.object({ name: z.string(), rows: z.number().int() })),
    error: z.string().nullable(),
    lastVerification: z
      .object({
        checkedAt: utc,
        ok: z.boolean(),
        problems: z.array(z.object({ object: z.string(), problem: z.enum(['missing', 'size', 'sha256', 'not_authentic', 'content', 'manifest_mismatch']) })),
      })
      .nullable(),
  })
  .meta({ id: 'BackupGeneration' });

const restoreTestSchema = z
  .object({
    id: z.string().uuid(),
    generationId: z.string().uuid(),
    workflowId: z.string(),
    trigger: z.enum(['schedule', 'operator']),
    state: z.enum(['running', 'passed', 'failed']),
    startedAt: utc,
    finishedAt: utc.nullable(),
    durationMs: z.number().int().nullable(),
    tables: z.array(z.object({ name: z.string(), rows: z.number().int(), expectedRows: z.number().int(), checksumOk: z.boolean() })),
    error: z.string().nullable(),
  })
  .meta({ id: 'RestoreTest' });

export const operatorBackupRoutes = (deps: AppDeps) => [
  defineRoute({
    method: 'post',
    path: '/v1/operator/backups',
    operationId: 'startBackup',
    summary: 'Start a backup generation now (a workflow: snapshot, verification, retention)',
    tags: ['operator'],
    security: 'operator',
    operatorRoles: ['platform-admin'],
    responses: { 202: { description: 'Started', schema: z.object({ generationId: z.string().uuid(), workflowId: z.string() }).meta({ id: 'BackupStarted' }) } },
    problems: { 409: ['backup_running'] },
    handler: async (ctx) => {
      ctx.status = 202;
      ctx.body = await startBackup(deps, actor(ctx));
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/operator/backups',
    operationId: 'listBackups',
    summary: 'Backup generations, newest first, with their tables\' row counts and last verification',
    tags: ['operator'],
    security: 'operator',
    operatorRoles: ['platform-admin'],
    query: listQuery,
    responses: { 200: { description: 'Generations', schema: z.object({ items: z.array(backupGenerationSchema), nextCursor: z.string().nullable().describe('Pass as `cursor` for the next (older) page; null on the last page') }).meta({ id: 'BackupGenerationList' }) } },
    problems: { 400: ['invalid_cursor'] },
    handler: async (ctx, { query }) => {
      ctx.body = await readBackups(deps, actor(ctx), query);
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/operator/backups/:id/restore-test',
    operationId: 'startRestoreTest',
    summary: 'Restore a verified generation into a scratch database and compare it with its manifest (a workflow)',
    tags: ['operator'],
    security: 'operator',
    operatorRoles: ['platform-admin'],
    params: generationParams,
    responses: { 202: { description: 'Started', schema: z.object({ restoreTestId: z.string().uuid(), workflowId: z.string() }).meta({ id: 'RestoreTestStarted' }) } },
    problems: { 404: [], 409: ['generation_not_verified', 'restore_test_running'] },
    handler: async (ctx, { params }) => {
      ctx.status = 202;
      ctx.body = await startRestoreTest(deps, actor(ctx), params.id);
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/operator/backups/:id/restore-tests',
    operationId: 'listRestoreTests',
    summary: 'Restore tests of a generation, newest first',
    tags: ['operator'],
    security: 'operator',
    operatorRoles: ['platform-admin'],
    params: generationParams,
    responses: { 200: { description: 'Restore tests', schema: z.object({ items: z.array(restoreTestSchema) }).meta({ id: 'RestoreTestList' }) } },
    problems: { 404: [] },
    handler: async (ctx, { params }) => {
      ctx.body = await readRestoreTests(deps, actor(ctx), params.id);
    },
  }),
];
