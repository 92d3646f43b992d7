/**
 * Pre-bundles the workflow code (`npm run build`): production workers load this file instead of
 * running webpack at every start, and every worker of a release runs byte-identical workflow code.
 * Usage: node dist/scripts/bundle-workflows.js [output file] (default dist/workflow-bundle.js).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

async function main() {
  // Beside the compiled workers/ (dist/), where workers/main.ts looks for it.
  const out = path.resolve(process.argv[2] ?? path.join(__dirname, '..', 'workflow-bundle.js'));
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: (m) => console.warn(m), error: (m) => console.error(m) } });
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, code);
  console.log(`[build] workflow bundle: ${out} (${Math.round(code.length / 1024)} KiB)`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`[build] bundling the workflows failed: ${(err as Error).message}`);
    process.exit(1);
  });
}
