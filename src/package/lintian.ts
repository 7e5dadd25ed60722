// Run lintian on a .deb and parse its tags. Overrides shipped in the package are honoured
// (and listed as "O:" with --show-overrides).
import { run } from '../exec.ts';

export interface LintianTag {
  /** E error, W warning, I info, P pedantic, X experimental, O overridden, N/C other */
  level: string;
  tag: string;
  detail: string;
  line: string;
}

export interface LintianReport {
  tags: LintianTag[];
  errors: LintianTag[];
  warnings: LintianTag[];
  overridden: LintianTag[];
  version: string;
}

export function parseLintian(out: string): LintianTag[] {
  const tags: LintianTag[] = [];
  for (const line of out.split('\n')) {
    const m = /^([EWIPXOC]): [^:\s]+(?: [a-z]+)?: (\S+)\s*(.*)$/.exec(line);
    if (m) tags.push({ level: m[1]!, tag: m[2]!, detail: m[3]!, line });
  }
  return tags;
}

export async function lintian(deb: string, log: string): Promise<LintianReport> {
  const ctx = { component: 'nginx', stage: 'package:lintian', log };
  const version = (await run(ctx, 'lintian', ['--version'])).trim();
  // --fail-on none: report, never fail; the caller decides what an error means
  const out = await run(ctx, 'lintian', ['--fail-on', 'none', '--show-overrides', '--display-info', '--pedantic', deb]);
  const tags = parseLintian(out);
  return {
    tags,
    errors: tags.filter((t) => t.level === 'E'),
    warnings: tags.filter((t) => t.level === 'W'),
    overridden: tags.filter((t) => t.level === 'O'),
    version,
  };
}
