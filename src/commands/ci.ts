// `nginx-forge ci matrix`: the CI build matrix, profiles x distros, as JSON for GitHub Actions'
// `strategy.matrix` (`fromJSON`) or any other CI. Profiles come from the recipe directory, so a
// new profile file joins CI without touching the workflow.
import path from 'node:path';
import { loadRecipes, BUILTIN_RECIPES } from '../recipes/load.ts';
import { printJson } from './common.ts';

/**
 * The distros CI builds on. Debian only: the smoke test's VM boots the pinned Debian kernel,
 * which comes from Debian's archive through the build host's apt sources. Images ship Node 20.
 */
export const CI_DISTROS = [
  { distro: 'debian-12', image: 'node:20-bookworm', runsOn: 'ubuntu-24.04' },
  { distro: 'debian-13', image: 'node:20-trixie', runsOn: 'ubuntu-24.04' },
] as const;

export interface MatrixEntry {
  profile: string;
  ktls: boolean;
  distro: string;
  /** container image the job runs in */
  image: string;
  /** GitHub Actions runner label */
  runsOn: string;
  /** name for the uploaded artifact */
  artifact: string;
}

export function ciMatrix(recipesDir: string = BUILTIN_RECIPES): { include: MatrixEntry[] } {
  const recipes = loadRecipes(recipesDir);
  const include: MatrixEntry[] = [];
  for (const name of [...recipes.profiles.keys()].sort()) {
    const p = recipes.profiles.get(name)!.recipe;
    if (p.sanitizers) continue; // not shipped: the sanitizer job builds it (sanitizerProfiles)
    for (const d of CI_DISTROS) {
      include.push({ profile: name, ktls: p.ktls, distro: d.distro, image: d.image, runsOn: d.runsOn, artifact: `nginx-forge-${name}-${d.distro}` });
    }
  }
  return { include };
}

/** Profiles marked `"sanitizers": true`: CI's sanitizer job builds each and runs the suite under it. */
export function sanitizerProfiles(recipesDir: string = BUILTIN_RECIPES): string[] {
  const recipes = loadRecipes(recipesDir);
  return [...recipes.profiles.keys()].sort().filter((n) => recipes.profiles.get(n)!.recipe.sanitizers);
}

export async function matrix(flags: { recipes?: string }): Promise<number> {
  printJson(ciMatrix(flags.recipes ? path.resolve(flags.recipes) : BUILTIN_RECIPES));
  return 0;
}
