// Shared option handling for commands that work on a plan.
import { Command, Option } from 'commander';
import { loadRecipes, BUILTIN_RECIPES } from '../recipes/load.ts';
import { resolvePlan } from '../recipes/resolve.ts';
import { toolchainFacts } from '../toolchain.ts';
import type { BuildPlan } from '../plan.ts';
import path from 'node:path';
import { ExitCode, ForgeError } from '../errors.ts';

export interface PlanFlags {
  profile: string;
  set?: string[];
  recipes?: string;
  patches?: string;
  prefix?: string;
  /** build/plan --test: add the stage `test`; --test-files implies it */
  test?: boolean;
  testFiles?: string[];
}

/** `--test [--test-files GLOB...]` of build and plan. */
export function addTestOptions(cmd: Command): Command {
  return cmd
    .option('--test', "add the stage test: nginx's own test suite (nginx-tests, pinned) against the built binary")
    .option('--test-files <glob...>', "with --test (implies it): only these test files, shell-style globs on file names, e.g. 'ssl*.t' 'h2*.t'");
}

export function addPlanOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('-p, --profile <name>', 'build profile (recipes/profiles/<name>.json)').default('ktls'))
    .option('--set <component=version...>', 'use another catalog version of a component (repeatable)')
    .option('--recipes <dir>', 'use this recipe directory instead of the built-in one')
    .option('--patches <dir>', 'use this patches directory (default: patches/ next to the recipes)')
    .option('--prefix <path>', "nginx install prefix (overrides the profile's)");
}

export function planFromFlags(flags: PlanFlags, withToolchain = true): BuildPlan {
  const dir = flags.recipes ? path.resolve(flags.recipes) : BUILTIN_RECIPES;
  const recipes = loadRecipes(dir);
  const patchesDir = flags.patches ? path.resolve(flags.patches) : flags.recipes ? path.join(path.dirname(dir), 'patches') : undefined;
  return resolvePlan(recipes, flags.profile, {
    set: flags.set,
    prefix: flags.prefix,
    patchesDir,
    tests: flags.test || flags.testFiles?.length ? { files: flags.testFiles } : undefined,
    toolchain: withToolchain ? toolchainFacts() : undefined,
  });
}

export function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

/**
 * Run a long command with an AbortSignal that Ctrl-C / SIGTERM trigger. An interrupted run ends
 * in one clear error saying that finished stages are cached and the command can be run again.
 */
export async function interruptible<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    controller.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await fn(controller.signal);
  } catch (e) {
    if (interrupted) {
      throw new ForgeError(`${what} interrupted`, {
        exitCode: ExitCode.interrupted,
        hint: 'finished stages are in the cache and unfinished ones left nothing behind: run the same command again to resume',
      });
    }
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
