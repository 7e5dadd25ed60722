// CPU time of processes from /proc: utime + stime of /proc/<pid>/stat (fields 14 and 15, in clock
// ticks), for bench serve's server CPU per request (the nginx workers' time around each run).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  ppid: number;
  /** user and system CPU time, in clock ticks */
  utime: number;
  stime: number;
}

/** One /proc/<pid>/stat line. The command name (field 2) may hold spaces and parentheses: fields count from the last ")". */
export function parseProcStat(text: string): ProcStat {
  const close = text.lastIndexOf(')');
  const pid = Number(text.slice(0, text.indexOf(' ')));
  // after ") ": state(3) ppid(4) pgrp(5) session(6) tty_nr(7) tpgid(8) flags(9) minflt(10)
  // cminflt(11) majflt(12) cmajflt(13) utime(14) stime(15)
  const f = text.slice(close + 2).trim().split(/\s+/);
  const n = (i: number) => Number(f[i - 3]);
  if (close < 0 || !Number.isInteger(pid) || f.length < 13 || [n(4), n(14), n(15)].some((x) => !Number.isFinite(x))) {
    throw new Error(`not a /proc/<pid>/stat line: ${text.slice(0, 80)}`);
  }
  return { pid, ppid: n(4), utime: n(14), stime: n(15) };
}

let hz: number | undefined;
/** Clock ticks per second (getconf CLK_TCK; 100 on Linux when getconf cannot say). */
export function clockTicks(): number {
  if (hz === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const v = Number(String(r.stdout ?? '').trim());
    hz = r.status === 0 && v > 0 ? v : 100;
  }
  return hz;
}

function statOf(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** utime + stime of one process, in seconds (undefined: it is gone). */
export function processCpuSeconds(pid: number): number | undefined {
  const s = statOf(pid);
  return s ? (s.utime + s.stime) / clockTicks() : undefined;
}

/** The children of a process (an nginx master's workers), from /proc. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const s = statOf(Number(e));
    if (s?.ppid === pid) out.push(s.pid);
  }
  return out;
}

/** utime + stime of a process's children (the workers of an nginx master), summed, in seconds. */
export function childrenCpuSeconds(pid: number): number {
  return childPids(pid).reduce((sum, c) => sum + (processCpuSeconds(c) ?? 0), 0);
}
