/**
 * Pre-bundles the workflow code (`npm run build`): production workers load this file instead of
 * running webpack at every start, and every worker of a release runs byte-identical workflow code.
 * Usage: node dist/scripts/bundle-workflows.js [output file] (default dist/workflow-bundle.js).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { TRACING_WORKFLOW_MODULES } from '../lib/tracing';

async function main() {
  // Beside the compiled workers/ (dist/), where workers/main.ts looks for it.
  const out = path.resolve(process.argv[2] ?? path.join(__dirname, '..', 'workflow-bundle.js'));
  const logger = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: (m: string) => console.warn(m), error: (m: string) => console.error(m) };
  mkdirSync(path.dirname(out), { recursive: true });
  // Two bundles: the plain one, and one with the workflow-side tracing interceptors, which a worker
  // loads only when OTEL_EXPORTER_OTLP_ENDPOINT is set (tracing off costs nothing in workflows).
  for (const [file, workflowInterceptorModules] of [[out, []], [out.replace(/\.js$/, '-traced.js'), TRACING_WORKFLOW_MODULES]] as const) {
    const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), workflowInterceptorModules: [...workflowInterceptorModules], logger });
    writeFileSync(file, code);
    console.log(`[build] workflow bundle: ${file} (${Math.round(code.length / 1024)} KiB)`);
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`[build] bundling the workflows failed: ${(err as Error).message}`);
    process.exit(1);
  });
}
