// The generic library builder of the pipeline, driven only by the component recipe's `build`
// data. The commands come from ../recipes/commands.ts (pure: the FreeBSD port and the naive
// benchmark baseline take them from there too); `buildLibrary()` runs them: a DESTDIR
// install with the recipe's fixed prefix (never a build path), then the prefix becomes the
// stage's output below `outputDir`, or, with `copy`, the listed files of the build tree do
// (the tree nginx's own --with-*= rule expects). `produces` is checked last.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run, type RunContext } from '../exec.ts';
import { StageError } from '../errors.ts';
import type { PlanComponent } from '../plan.ts';
import { buildSpecOf, copiedOutputs, libraryCommands } from '../recipes/commands.ts';
import type { Target } from '../target.ts';

export interface LibraryBuildInput {
  component: PlanComponent;
  srcDir: string;
  out: string;
  jobs: string[];
  env: Record<string, string>;
  log: string;
  signal?: AbortSignal;
  /** the build's make jobserver (then `jobs` is empty: MAKEFLAGS carries the parallelism) */
  jobserver?: RunContext['jobserver'];
  onStep?: (step: string) => void;
  /** the profile's hardening flags (plan.hardening.cflags), on top of the build's own flags */
  hardening?: string[];
  /** a cross build's target (undefined: the host's own) */
  target?: Target;
}

/** Move <staging><prefix>/* into dest (DESTDIR installs with a fixed prefix). */
function hoist(staging: string, prefix: string, dest: string): void {
  const from = path.join(staging, prefix);
  mkdirSync(dest, { recursive: true });
  for (const f of readdirSync(from)) renameSync(path.join(from, f), path.join(dest, f));
}

export async function buildLibrary(i: LibraryBuildInput): Promise<void> {
  const c = i.component;
  const b = buildSpecOf(c);
  const staging = path.join(i.srcDir, '.forge-staging');
  const ctx: RunContext = { component: c.name, stage: 'library', log: i.log, cwd: i.srcDir, signal: i.signal, jobserver: i.jobserver };
  mkdirSync(i.out, { recursive: true });
  for (const cmd of libraryCommands(c, { destdir: staging, jobs: i.jobs, hardening: i.hardening, cflags: i.env.CFLAGS, verbose: true, target: i.target })) {
    for (const [f, text] of Object.entries(cmd.files ?? {})) writeFileSync(path.join(i.srcDir, f), text);
    i.onStep?.(`${cmd.step}: ${cmd.cmd} ${cmd.args.slice(0, 3).join(' ')}${cmd.args.length > 3 ? ' …' : ''}`);
    const env: Record<string, string | undefined> = { ...i.env };
    for (const [k, v] of Object.entries(cmd.env)) env[k] = v ?? undefined;
    await run({ ...ctx, env }, cmd.cmd, cmd.args);
    if (cmd.expect) {
      const f = path.join(i.srcDir, cmd.expect.file);
      if (!existsSync(f) || !readFileSync(f, 'utf8').includes(cmd.expect.contains)) {
        throw new StageError(c.name, 'library', `${cmd.cmd} ${cmd.args.join(' ')} did not write "${cmd.expect.contains}" into ${cmd.expect.file}`, {
          log: i.log,
          hint: cmd.step === 'configure'
            ? `configure did not produce what "versions.${c.version}.bootstrap.expect" in recipes/components/${c.name}.json says (see the log: a bogus version means the bootstrap files were not read)`
            : `the tools it runs produced nothing usable (see the log); check "build.before" in recipes/components/${c.name}.json`,
        });
      }
    }
  }
  if (existsSync(path.join(staging, b.prefix))) hoist(staging, b.prefix, path.join(i.out, b.outputDir));
  for (const f of copiedOutputs(c)) {
    const from = path.join(i.srcDir, f);
    if (!existsSync(from)) throw new StageError(c.name, 'library', `expected ${f} in the build tree after the build, it is missing`, { log: i.log, hint: `check "build.copy" in recipes/components/${c.name}.json` });
    cpSync(from, path.join(i.out, f), { preserveTimestamps: true, recursive: true });
  }
  for (const f of b.produces) {
    if (!existsSync(path.join(i.out, f))) {
      throw new StageError(c.name, 'library', `expected ${f} in the output after the build, it is missing`, { log: i.log, hint: `check "build" in recipes/components/${c.name}.json (targets, install, outputDir, produces)` });
    }
  }
}
