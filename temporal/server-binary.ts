import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { resolveGoTool } from '../lib/go-binary';

/**
 * The Temporal server itself (not the CLI's dev server) and its schema tool, pinned and built
 * with Go like the CLI, for the production-shape test (`npm run test:cluster`): the same server
 * a deployment runs, on PostgreSQL. The schema tool needs the module's schema folder, which a Go
 * build leaves in the module cache; TEMPORAL_SCHEMA_DIR points elsewhere (e.g. an unpacked release).
 */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
const MODULE = 'go.temporal.io/server';

const run = promisify(execFile);

export const resolveTemporalServer = (log: (m: string) => void = console.log) =>
  resolveGoTool(
    { name: 'temporal-server', module: `${MODULE}/cmd/server`, version: TEMPORAL_SERVER_VERSION, envVar: 'TEMPORAL_SERVER', acceptFromPath: false },
    log,
  );

export const resolveTemporalSqlTool = (log: (m: string) => void = console.log) =>
  resolveGoTool(
    { name: 'temporal-sql-tool', module: `${MODULE}/cmd/tools/sql`, version: TEMPORAL_SERVER_VERSION, envVar: 'TEMPORAL_SQL_TOOL', acceptFromPath: false },
    log,
  );

/**
 * The Temporal UI's server (the real server has no UI of its own). v2.42.1 is the UI the pinned
 * CLI (v1.5.1) embeds, so operators see the same screens on the dev server and on the cluster.
 */
export const TEMPORAL_UI_VERSION = 'v2.42.1';
export const resolveTemporalUiServer = (log: (m: string) => void = console.log) =>
  resolveGoTool(
    { name: 'temporal-ui-server', module: 'github.com/temporalio/ui-server/v2/cmd/server', version: TEMPORAL_UI_VERSION, envVar: 'TEMPORAL_UI_SERVER', acceptFromPath: false },
    log,
  );

/** `schema/` of the pinned server module: $TEMPORAL_SCHEMA_DIR, else the Go module cache (fetched if missing). */
export async function resolveTemporalSchemaDir(): Promise<string> {
  const fromEnv = process.env.TEMPORAL_SCHEMA_DIR;
  if (fromEnv) {
    if (!existsSync(path.join(fromEnv, 'postgresql', 'v12'))) throw new Error(`TEMPORAL_SCHEMA_DIR=${fromEnv} has no postgresql/v12 folder`);
    return fromEnv;
  }
  // `go mod download -json` answers the module's folder in the cache, downloading it (checked
  // against the Go checksum database) when it is not there yet.
  const { stdout } = await run('go', ['mod', 'download', '-json', `${MODULE}@${TEMPORAL_SERVER_VERSION}`], {
    env: { ...process.env, GOFLAGS: '-mod=mod' },
    cwd: path.parse(process.cwd()).root, // outside any module: a plain download
    maxBuffer: 4 * 1024 * 1024,
  }).catch((err: Error & { stdout?: string }) => {
    // `go mod download -json` reports a failed download as JSON on stdout and exits 1.
    if (err.stdout) return { stdout: err.stdout };
    throw new Error(`no Temporal schema folder: set TEMPORAL_SCHEMA_DIR (the server release's schema/ folder) or install Go (${err.message.split('\n')[0]})`);
  });
  const dir = (JSON.parse(stdout) as { Dir?: string; Error?: string }).Dir;
  if (!dir) throw new Error(`go mod download ${MODULE}@${TEMPORAL_SERVER_VERSION} gave no folder: ${stdout.slice(0, 300)}`);
  return path.join(dir, 'schema');
}

export interface TemporalServerBinaries {
  server: string;
  sqlTool: string;
  schemaDir: string;
  ui: string;
}

export async function resolveTemporalServerBinaries(log: (m: string) => void = console.log): Promise<TemporalServerBinaries> {
  const server = await resolveTemporalServer(log);
  const sqlTool = await resolveTemporalSqlTool(log);
  const ui = await resolveTemporalUiServer(log);
  return { server, sqlTool, ui, schemaDir: await resolveTemporalSchemaDir() };
}

if (require.main === module) {
  resolveTemporalServerBinaries()
    .then((b) => console.log(`${b.server}\n${b.sqlTool}\n${b.ui}\n${b.schemaDir}`))
    .catch((err) => {
      console.error(err.message);
      process.exit(1);
    });
}
