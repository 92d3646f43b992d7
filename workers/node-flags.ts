/**
 * The V8 flags every worker process runs with (docker-compose.yml, `npm start`, `npm run
 * start:worker`, and the export benchmark, which must measure what production runs).
 *
 * `--max-semi-space-size=4` (MiB): under an allocation-heavy activity (a clinic's full data
 * export makes and drops millions of small strings) V8 grows the young generation to its default
 * maximum and keeps it: the export's process measured 403 MiB peak RSS with a V8 heap of 185 MiB
 * of which 50–90 MiB were live. With young-generation halves of 4 MiB the same export peaked at
 * 258 MiB, in the same time (`npm run bench`, part exports; README: Benchmarks). Scavenges get
 * more frequent, but each is cheaper, and the worker's memory no longer follows its busiest moment.
 *
 * `--expose-gc`: lets the data export start full collections while it builds its archive
 * (lib/paced-collections.ts says why); nothing else calls it.
 */
export const WORKER_NODE_FLAGS = ['--max-semi-space-size=4', '--expose-gc'] as const;
