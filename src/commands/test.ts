// nginx-forge test <nginx>: run nginx's own test suite (nginx-tests, pinned by tree hash) against
// a binary. The table goes to stderr, --json prints the report on stdout. Exit 0 only when no
// file failed; ExitCode.test (9) otherwise.
import path from 'node:path';
import { ExitCode, UsageError } from '../errors.ts';
import { plainOutput } from '../paths.ts';
import { fetchOptionsOf, type FetchFlags } from '../flags/fetch.ts';
import { BUILTIN_RECIPES, loadRecipes } from '../recipes/load.ts';
import { modulesOfFlags, runNginxTests } from '../nginxtests/run.ts';
import { renderReport } from '../nginxtests/report.ts';
import { interruptible, printJson } from './common.ts';

export interface TestFlags extends FetchFlags {
  profile?: string;
  files?: string[];
  jobs?: string;
  json?: boolean;
  unsafe?: boolean;
  logs?: string;
  recipes?: string;
}

export async function run(nginx: string, flags: TestFlags): Promise<number> {
  const jobs = flags.jobs === undefined ? 2 : Number(flags.jobs);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) throw new UsageError(`--jobs ${flags.jobs}: must be a whole number from 1 to 64`);
  const recipesDir = flags.recipes ? path.resolve(flags.recipes) : BUILTIN_RECIPES;
  let profileModules: string[] | undefined;
  if (flags.profile) {
    const set = loadRecipes(recipesDir);
    const p = set.profiles.get(flags.profile);
    if (!p) throw new UsageError(`--profile ${flags.profile}: no such profile`, `known profiles: ${[...set.profiles.keys()].join(', ')}`);
    profileModules = modulesOfFlags(p.recipe.nginx.modules);
  }
  const plain = plainOutput();
  const onLog = (l: string) => process.stderr.write(`${plain ? `[${new Date().toISOString().slice(11, 19)}] ` : ''}test: ${l}\n`);
  const report = await interruptible('nginx-forge test', (signal) =>
    runNginxTests(nginx, {
      files: flags.files,
      jobs,
      unsafe: flags.unsafe,
      profile: flags.profile,
      profileModules,
      logsDir: flags.logs,
      recipesDir,
      signal,
      onLog,
      fetch: fetchOptionsOf(flags),
    }),
  );
  process.stderr.write(renderReport(report));
  if (flags.json) printJson(report);
  return report.ok ? ExitCode.ok : ExitCode.test;
}
