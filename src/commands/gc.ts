// `nginx-forge gc [--max-age 30d] [--max-size SIZE] [--dry-run] [--json]`: free space in the state
// directory (src/gc.ts says what is removed and what never is).
import path from 'node:path';
import { displayPath } from '../recipes/load.ts';
import { DEFAULT_MAX_AGE_MS, gc } from '../gc.ts';
import { fmtBytes } from '../fetch/download.ts';
import { printJson } from './common.ts';

export interface GcFlags {
  maxAge?: number;
  maxSize?: number;
  dryRun?: boolean;
  json?: boolean;
  recipes?: string[];
  distdir?: string;
}

export async function run(flags: GcFlags): Promise<number> {
  const report = gc({
    maxAgeMs: flags.maxAge ?? DEFAULT_MAX_AGE_MS,
    maxBytes: flags.maxSize,
    dryRun: flags.dryRun,
    recipes: flags.recipes?.map((r) => path.resolve(r)),
    distdir: flags.distdir,
  });
  if (flags.json) {
    printJson(report);
    return 0;
  }
  const verb = report.dryRun ? 'would remove' : 'removed';
  const lines = report.removed.map((r) => `${verb}  ${displayPath(r.path).padEnd(60)} ${fmtBytes(r.bytes).padStart(10)}  ${r.reason}`);
  const recent = report.skipped.filter((s) => /grace period/.test(s.reason));
  for (const s of report.skipped.filter((x) => !recent.includes(x))) lines.push(`kept     ${displayPath(s.path).padEnd(60)} ${''.padStart(10)}  ${s.reason}`);
  if (recent.length) lines.push(`kept ${recent.length} stage entr${recent.length === 1 ? 'y' : 'ies'} used in the last hour (a running build may be reading them)`);
  lines.push(
    `${report.dryRun ? 'would free' : 'freed'} ${fmtBytes(report.freed)} (${report.removed.length} item${report.removed.length === 1 ? '' : 's'}); ` +
      `state ${displayPath(report.before.dir)}: ${fmtBytes(report.before.total)} -> ${fmtBytes(report.after.total)}`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
