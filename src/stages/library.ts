// The generic library builders: one per build system (configure+make, CMake), driven only by the
// component recipe's `build` data. `libraryCommands()` is pure: it turns a recipe into the
// commands that compile it, so the pipeline, the FreeBSD port and the naive benchmark baseline
// all build a library the same way. `buildLibrary()` runs them for the pipeline: a DESTDIR
// install with the recipe's fixed prefix (never a build path), then the prefix becomes the
// stage's output below `outputDir`, or, with `copy`, the listed files of the build tree do
// (the tree nginx's own --with-*= rule expects). `produces` is checked last.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { run, type RunContext } from '../exec.ts';
import { StageError } from '../errors.ts';
import type { PlanComponent } from '../plan.ts';
import type { BuildSpec } from '../recipes/schema.ts';

export interface Command {
  /** the command to run ("make", "cmake", or the configure script) */
  cmd: string;
  args: string[];
  /** environment changes: a value sets, null unsets */
  env: Record<string, string | null>;
  /** what this command does, for progress and logs */
  step: 'configure' | 'make' | 'install';
  /** a file (relative to the source tree) the command must have written, with a text in it */
  expect?: { file: string; contains: string };
}

export interface CommandTarget {
  /** install prefix (default: the recipe's); the naive baseline and the port install in place */
  prefix?: string;
  /** DESTDIR for the install step (the pipeline's staging directory) */
  destdir?: string;
  /** make's parallelism arguments, e.g. ["-j2"] */
  jobs: string[];
  /** how to call make and cmake (the FreeBSD port: ${GMAKE}, ${CMAKE_BIN}) */
  make?: string;
  cmake?: string;
  /** CMake's build directory, relative to the source tree, when the recipe names none */
  cmakeDir?: string;
  /**
   * The library's own default build, as its install notes say (the naive benchmark baseline):
   * no `trim` switches, no `before` runs, the default make target, then its install target
   */
  upstreamDefault?: boolean;
}

export function buildSpecOf(c: PlanComponent): BuildSpec {
  if (!c.build) throw new StageError(c.name, 'library', 'the recipe has no "build" section', { hint: `add one to recipes/components/${c.name}.json` });
  return c.build;
}

/** The commands that compile (and, when the recipe says so, install) one library. Pure. */
export function libraryCommands(c: PlanComponent, t: CommandTarget): Command[] {
  const spec = buildSpecOf(c);
  const b = t.upstreamDefault ? { ...spec, trim: [], before: [], targets: [], install: spec.system === 'configure' ? ['install'] : spec.install } : spec;
  const make = t.make ?? 'make';
  const prefix = t.prefix ?? b.prefix;
  const destdir = t.destdir ? [`DESTDIR=${t.destdir}`] : [];
  if (b.system === 'cmake') {
    const cmake = t.cmake ?? 'cmake';
    const dir = b.buildDir ?? t.cmakeDir ?? 'build-forge';
    return [
      { step: 'configure', cmd: cmake, args: ['-S', '.', '-B', dir, `-DCMAKE_INSTALL_PREFIX=${prefix}`, ...b.args, ...b.trim, ...c.options], env: b.env },
      ...b.before.map((x) => ({ step: 'make' as const, cmd: cmake, args: ['--build', dir, '--', ...t.jobs, ...x.makeArgs, ...x.targets], env: b.env, expect: x.expect })),
      { step: 'make', cmd: cmake, args: ['--build', dir, '--', ...t.jobs, ...b.targets], env: b.env },
      { step: 'install', cmd: cmake, args: ['--install', dir], env: { ...b.env, ...(t.destdir ? { DESTDIR: t.destdir } : {}) } },
    ];
  }
  return [
    { step: 'configure', cmd: b.script, args: [`--prefix=${prefix}`, ...b.args, ...b.trim, ...c.options], env: b.env },
    ...b.before.map((x) => ({ step: 'make' as const, cmd: make, args: [...t.jobs, ...x.makeArgs, ...x.targets], env: b.env, expect: x.expect })),
    { step: 'make', cmd: make, args: [...t.jobs, ...b.targets], env: b.env },
    ...(b.install.length ? [{ step: 'install' as const, cmd: make, args: [...b.install, ...destdir], env: b.env }] : []),
  ];
}

/** Files and folders of the build tree that make up the output (recipe `copy`), relative to both. Pure. */
export function copiedOutputs(c: PlanComponent): string[] {
  return buildSpecOf(c).copy;
}

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
  for (const cmd of libraryCommands(c, { destdir: staging, jobs: i.jobs })) {
    i.onStep?.(`${cmd.step}: ${cmd.cmd} ${cmd.args.slice(0, 3).join(' ')}${cmd.args.length > 3 ? ' …' : ''}`);
    const env: Record<string, string | undefined> = { ...i.env };
    for (const [k, v] of Object.entries(cmd.env)) env[k] = v ?? undefined;
    await run({ ...ctx, env }, cmd.cmd, cmd.args);
    if (cmd.expect) {
      const f = path.join(i.srcDir, cmd.expect.file);
      if (!existsSync(f) || !readFileSync(f, 'utf8').includes(cmd.expect.contains)) {
        throw new StageError(c.name, 'library', `${cmd.cmd} ${cmd.args.join(' ')} did not write "${cmd.expect.contains}" into ${cmd.expect.file}`, {
          log: i.log,
          hint: `the tools it runs produced nothing usable (see the log); check "build.before" in recipes/components/${c.name}.json`,
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
