// `nginx-forge audit`: newest upstream releases and distro revisions for a profile's pins, and
// security fixes that are available but not applied (exit code 8).
import path from 'node:path';
import { runAudit } from '../audit/index.ts';
import { renderAudit } from '../audit/report.ts';
import { compareWithPin, draftJson, readSeries } from '../audit/patches.ts';
import { resolvePlan } from '../recipes/resolve.ts';
import type { RecipeSet } from '../recipes/load.ts';
import { distfilesDir } from '../paths.ts';
import { BUILTIN_RECIPES, loadRecipes } from '../recipes/load.ts';
import { interruptible, printJson } from './common.ts';
import { terminalSafe, terminalSafeJson } from '../terminal.ts';

export interface AuditFlags {
  profile: string;
  recipes?: string;
  json?: boolean;
  distdir?: string;
  archive?: string[];
  /** seconds (validated by the CLI's argParser) */
  timeout?: number;
  readPatches?: string;
}

export async function run(flags: AuditFlags): Promise<number> {
  const recipes = loadRecipes(flags.recipes ? path.resolve(flags.recipes) : BUILTIN_RECIPES);
  if (flags.readPatches) return readPatches(flags, recipes);
  const report = await interruptible('audit', (signal) =>
    runAudit(recipes, flags.profile, {
      distdir: distfilesDir(flags.distdir),
      archives: flags.archive,
      timeoutMs: flags.timeout !== undefined ? flags.timeout * 1000 : undefined,
      signal,
      onLog: process.env.NGINX_FORGE_DEBUG ? (l) => process.stderr.write(`${l}\n`) : undefined,
    }),
  );
  if (flags.json) printJson(report);
  // versions, suites and reasons come from remote indexes and servers
  else process.stdout.write(terminalSafe(renderAudit(report), { lines: true }));
  return report.exitCode;
}

/**
 * `audit --read-patches <debian.tar.*>`: the archive's patch series with sha256 and the CVE ids found
 * for each patch, compared with the profile's pinned patch set of the same source package, and a
 * draft of the recipe's `patches` list (packaging patches left out). Reads a local file only.
 */
async function readPatches(flags: AuditFlags, recipes: RecipeSet): Promise<number> {
  const file = path.resolve(flags.readPatches!);
  const { patches } = await readSeries(file);
  const plan = resolvePlan(recipes, flags.profile);
  const source = /^([a-z0-9][a-z0-9.+-]+)_/.exec(path.basename(file))?.[1];
  const set = source === undefined ? undefined : plan.patchSets.find((s) => s.artifact.distro?.file.startsWith(`${source}_`) || s.artifact.file.startsWith(`${source}_`));
  const pinned = set ? recipes.components.get(set.component)!.recipe.versions[plan.components.find((c) => c.name === set.component)!.version]!.patchSets.find((x) => x.name === set.name) : undefined;
  const differences = pinned ? compareWithPin(patches, pinned) : [];
  if (flags.json) {
    printJson({ archive: file, comparedWith: set ? `${set.component} ${set.name} (${set.artifact.file})` : null, patches, differences });
    return 0;
  }
  const out: string[] = [`${path.basename(file)}: ${patches.length} patches in series order`];
  for (const p of patches) {
    // file names and subjects come from the archive
    out.push(`  ${p.packaging ? 'pkg ' : '    '}${terminalSafe(p.file)}  ${p.sha256.slice(0, 16)}…  ${p.cves.length ? `${p.cves.join(', ')} (${p.cveSources.join(', ')})` : 'no CVE id found'}${p.subject ? `\n        ${terminalSafe(p.subject)}` : ''}`);
  }
  out.push(
    '',
    set
      ? `compared with ${set.component}'s pinned patch set ${set.name} (${set.artifact.file}):`
      : source
        ? `no patch set of profile ${flags.profile} comes from source package ${source}`
        : `not compared with a pinned patch set: the file name ${path.basename(file)} names no source package (a Debian file is named <source>_<version>.debian.tar.*)`,
  );
  if (set) out.push(...(differences.length ? differences.map((d) => `  ${d}`) : ['  no differences']));
  out.push('', 'draft "patches" (without the patches marked pkg, which look like packaging changes; check every header):', terminalSafeJson(draftJson(patches)));
  process.stdout.write(`${terminalSafe(out.join('\n'), { lines: true })}\n`);
  return 0;
}
