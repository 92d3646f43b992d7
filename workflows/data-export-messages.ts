import { defineQuery } from '@temporalio/workflow';
import type { ExportProgress } from '../domain/data-export';

/** The export workflow's progress query, shared by the API (GET /v1/exports/:id) and the workflow. */
export const exportProgressQuery = defineQuery<ExportProgress>('progress');
