import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time by process, read from /proc around a phase of the bench: what one operation cost the
 * machine (API, worker, Temporal server, PostgreSQL, the load generator). On the shared 2-core
 * machine a throughput ratio moves with everything else running; CPU milliseconds per operation
 * say where a figure goes, and move far less. Linux only; elsewhere the figures are empty.
 */
export type CpuGroups = Record<string, number>;

const TICK_MS = 10; // USER_HZ is 100 on every Linux this runs on (x86_64 and arm64)

/**
 * What to count. Other processes of the same kinds may run on the machine (a test suite's own
 * Temporal server, workers and databases), so each is named exactly: our processes by pid, the
 * Temporal server by its port, PostgreSQL backends by the bench database.
 */
export interface CpuScope {
  pids: Record<string, number | undefined>;
  temporalPort: number;
  database: string;
}

function groupOf(pid: number, scope: CpuScope): string | undefined {
  if (pid === process.pid) return 'bench';
  for (const [group, p] of Object.entries(scope.pids)) if (p === pid) return group;
  let cmd: string;
  try {
    cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
  if (/temporal server start-dev /.test(cmd) && cmd.includes(` --port ${scope.temporalPort} `)) return 'temporal';
  if (cmd.startsWith('postgres:') && cmd.includes(` ${scope.database} `)) return 'postgres';
  return undefined;
}

/** user + system CPU milliseconds of every counted process (all its threads), summed per group. */
export function cpuSnapshot(scope: CpuScope): CpuGroups {
  const out: CpuGroups = {};
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const d of pids) {
    const pid = Number(d);
    const group = groupOf(pid, scope);
    if (!group) continue;
    try {
      // Fields after the command (which may hold spaces) start after its closing parenthesis.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
      out[group] = (out[group] ?? 0) + ticks * TICK_MS;
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return out;
}

/** CPU milliseconds per operation between two snapshots, per group and in all. */
export function cpuPerOperation(before: CpuGroups, after: CpuGroups, operations: number): CpuGroups {
  const out: CpuGroups = {};
  let total = 0;
  for (const group of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const ms = Math.max(0, (after[group] ?? 0) - (before[group] ?? 0));
    out[group] = Math.round((ms / operations) * 100) / 100;
    total += ms;
  }
  out.total = Math.round((total / operations) * 100) / 100;
  return out;
}
