// The commands that build a library, from its recipe's `build` data alone: one generator per
// build system (configure+make, CMake). Pure (no I/O): the pipeline's library stage runs them
// (stages/library.ts), the FreeBSD port writes them into its Makefile, the naive benchmark
// baseline runs them by hand, so all three build a library the same way.
import { StageError } from '../errors.ts';
import type { PlanComponent } from '../plan.ts';
import type { BuildSpec } from './schema.ts';
import { cmakeToolchain, type Target } from '../target.ts';

export interface Command {
  /** the command to run ("make", "cmake", or the configure script) */
  cmd: string;
  args: string[];
  /** environment changes: a value sets, null unsets */
  env: Record<string, string | null>;
  /** files (relative to the source tree) written before the command runs, e.g. a cross build's CMake toolchain file */
  files?: Record<string, string>;
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
  /** a cross build's target (src/target.ts): --host / the recipe's `cross` data / a CMake toolchain file */
  target?: Target;
}

export function buildSpecOf(c: PlanComponent): Omit<BuildSpec, 'cross'> {
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
  // a cross build: the recipe's data for the target (c.cross, from the plan) and the generic part
  // every component of a build system shares (autoconf's --host, a CMake toolchain file)
  const x = t.target ? (c.cross ?? { args: [], host: true }) : undefined;
  if (b.system === 'cmake') {
    const cmake = t.cmake ?? 'cmake';
    const dir = b.buildDir ?? t.cmakeDir ?? 'build-forge';
    const tc = t.target ? `forge-toolchain-${t.target.triple}.cmake` : undefined;
    return [
      {
        step: 'configure',
        cmd: cmake,
        args: ['-S', '.', '-B', dir, `-DCMAKE_INSTALL_PREFIX=${prefix}`, ...(tc ? [`-DCMAKE_TOOLCHAIN_FILE=${tc}`] : []), ...b.args, ...b.trim, ...(x?.args ?? []), ...c.options],
        env: b.env,
        ...(tc && t.target ? { files: { [tc]: cmakeToolchain(t.target) } } : {}),
      },
      ...b.before.map((x) => ({ step: 'make' as const, cmd: cmake, args: ['--build', dir, '--', ...t.jobs, ...x.makeArgs, ...x.targets], env: b.env, expect: x.expect })),
      { step: 'make', cmd: cmake, args: ['--build', dir, '--', ...t.jobs, ...b.targets], env: b.env },
      { step: 'install', cmd: cmake, args: ['--install', dir], env: { ...b.env, ...(t.destdir ? { DESTDIR: t.destdir } : {}) } },
    ];
  }
  return [
    {
      step: 'configure',
      cmd: x?.script ?? b.script,
      args: [`--prefix=${prefix}`, ...b.args, ...b.trim, ...(x && t.target && x.host ? [`--host=${t.target.triple}`] : []), ...(x?.args ?? []), ...c.options],
      env: b.env,
    },
    ...b.before.map((x) => ({ step: 'make' as const, cmd: make, args: [...t.jobs, ...x.makeArgs, ...x.targets], env: b.env, expect: x.expect })),
    { step: 'make', cmd: make, args: [...t.jobs, ...b.targets], env: b.env },
    ...(b.install.length ? [{ step: 'install' as const, cmd: make, args: [...b.install, ...destdir], env: b.env }] : []),
  ];
}

/** Files and folders of the build tree that make up the output (recipe `copy`), relative to both. Pure. */
export function copiedOutputs(c: PlanComponent): string[] {
  return buildSpecOf(c).copy;
}
