// The plan flags (--profile, --set, --recipes, --patches, --prefix, --test, --test-files) as the
// commands receive them (declared in commands/options.ts), and the plan they make. Below the
// commands and bench: both resolve a plan from flags here.
import path from 'node:path';
import type { BuildPlan } from '../plan.ts';
import { BUILTIN_RECIPES, loadRecipes } from '../recipes/load.ts';
import { resolvePlan } from '../recipes/resolve.ts';
import { targetOf } from '../target.ts';
import { bootstrapToolFacts, toolchainFacts } from '../toolchain.ts';
import { checkInputDir } from './dirs.ts';

export interface PlanFlags {
  profile: string;
  set?: string[];
  recipes?: string;
  patches?: string;
  prefix?: string;
  /** --target: the GNU triple to build for (default: the profile's "target", else the host's) */
  target?: string;
  /** build/plan --test: add the stage `test`; --test-files implies it */
  test?: boolean;
  testFiles?: string[];
}

/** `--test [--test-files GLOB...]` of build and plan. */
export function planFromFlags(flags: PlanFlags, withToolchain = true): BuildPlan {
  const dir = flags.recipes ? path.resolve(flags.recipes) : BUILTIN_RECIPES;
  if (flags.recipes) checkInputDir('--recipes', dir);
  if (flags.patches) checkInputDir('--patches', path.resolve(flags.patches));
  const recipes = loadRecipes(dir);
  // the target decides which compiler's identity feeds the keys: the cross one's for a cross build
  const target = targetOf(flags.target ?? recipes.profiles.get(flags.profile)?.recipe.target, flags.target ? '--target' : `profile ${flags.profile}: "target"`);
  const patchesDir = flags.patches ? path.resolve(flags.patches) : flags.recipes ? path.join(path.dirname(dir), 'patches') : undefined;
  // the bootstrap tools any version of the profile's components runs (a --set may pick one): asked only when some does
  const pins = Object.keys(recipes.profiles.get(flags.profile)?.recipe.components ?? {});
  const tools = pins.flatMap((n) => Object.values(recipes.components.get(n)?.recipe.versions ?? {}).flatMap((v) => (v.bootstrap ? [v.bootstrap.run] : [])));
  return resolvePlan(recipes, flags.profile, {
    set: flags.set,
    prefix: flags.prefix,
    patchesDir,
    tests: flags.test || flags.testFiles?.length ? { files: flags.testFiles } : undefined,
    target: target.triple,
    toolchain: withToolchain ? toolchainFacts(target) : undefined,
    bootstrapTools: withToolchain && tools.length ? bootstrapToolFacts(tools) : undefined,
  });
}
