// `nginx-forge audit`: newest upstream releases and distro revisions for a profile's pins, and
// security fixes that are available but not applied (exit code 8).
import path from 'node:path';
import { runAudit } from '../audit/index.ts';
import { renderAudit } from '../audit/report.ts';
import { distfilesDir } from '../paths.ts';
import { BUILTIN_RECIPES, loadRecipes } from '../recipes/load.ts';
import { interruptible, printJson } from './common.ts';

export interface AuditFlags {
  profile: string;
  recipes?: string;
  json?: boolean;
  distdir?: string;
  archive?: string[];
  timeout?: string;
}

export async function run(flags: AuditFlags): Promise<number> {
  const recipes = loadRecipes(flags.recipes ? path.resolve(flags.recipes) : BUILTIN_RECIPES);
  const report = await interruptible('audit', (signal) =>
    runAudit(recipes, flags.profile, {
      distdir: distfilesDir(flags.distdir),
      archives: flags.archive,
      timeoutMs: flags.timeout ? Number(flags.timeout) * 1000 : undefined,
      signal,
      onLog: process.env.NGINX_FORGE_DEBUG ? (l) => process.stderr.write(`${l}\n`) : undefined,
    }),
  );
  if (flags.json) printJson(report);
  else process.stdout.write(renderAudit(report));
  return report.exitCode;
}
