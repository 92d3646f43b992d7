import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../harness/stack';

/**
 * Determinism guard: histories recorded from real executions (test/histories/) must replay on the
 * current workflow code. A change that would break executions still running in production fails
 * here. Record a new history with `temporal workflow show -w <id> -o json > test/histories/<name>.json`.
 */
const dir = path.join(__dirname, '..', 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('saved workflow histories replay on the current code', () => {
  it('has at least one history per workflow type', () => {
    const types = new Set(
      files.map((f) => {
        const events = JSON.parse(readFileSync(path.join(dir, f), 'utf8')).events;
        return events[0].workflowExecutionStartedEventAttributes.workflowType.name;
      }),
    );
    const exported = Object.keys(require('../../workflows'));
    expect([...types].sort()).toEqual(expect.arrayContaining(exported.sort()));
  });

  it.each(files)('%s', async (file) => {
    const history = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file);
  });

  // Turning tracing on (OTEL_EXPORTER_OTLP_ENDPOINT, lib/tracing.ts) must not break running
  // executions: the workflow-side interceptors only add headers and export through a sink, no commands.
  it.each(files)('%s, with the tracing interceptors', async (file) => {
    const history = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle(true), sinks: { exporter: { export: { fn: () => undefined } } } }, history, file);
  });
});
