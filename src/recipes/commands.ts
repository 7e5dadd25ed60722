// The commands that build a library, from its recipe's `build` data alone: one generator per
// build system (configure+make, CMake). Pure (no I/O): the pipeline's library stage runs them
// (stages/library.ts), the FreeBSD port writes them into its Makefile, the naive benchmark
// baseline runs them by hand, so all three build a library the same way.
import { StageError } from '../errors.ts';
import type { PlanComponent } from '../plan.ts';
import type { Bootstrap, BuildSpec } from './schema.ts';
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
  step: 'bootstrap' | 'configure' | 'make' | 'install';
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
  /**
   * The profile's hardening flags (plan.hardening.cflags), added on top of the build system's own
   * optimisation flags as the recipe's `compilerFlags` says: appended to CFLAGS in the environment
   * (`cflags` is the CFLAGS the caller's environment already has), or to the configure script's
   * arguments. Not with `upstreamDefault`
   */
  hardening?: string[];
  cflags?: string;
  /**
   * make prints every compiler command in full (automake's V=1, CMake's --verbose), so the
   * stage log shows the flags each file was compiled with (the pipeline's logs; a test reads them)
   */
  verbose?: boolean;
  /** a cross build's target (src/target.ts): --host / the recipe's `cross` data / a CMake toolchain file */
  target?: Target;
}

/**
 * How one library's build takes the hardening flags: environment changes and extra configure
 * arguments. CFLAGS (autotools, CMake): the caller's CFLAGS (its -O2, debug level, prefix map)
 * with the flags after it; autotools packages add their own warning/optimisation flags, CMake
 * appends CMAKE_C_FLAGS_<build type> (Release: -O3 -DNDEBUG), so neither loses its own. arguments
 * (OpenSSL's Configure): compiler options given as arguments are appended to the target's own
 * flags (-O3, assembly kept); CFLAGS in its environment would replace them. Pure.
 */
export function hardeningOf(spec: Omit<BuildSpec, 'cross'>, t: Pick<CommandTarget, 'hardening' | 'cflags'>): { env: Record<string, string>; args: string[] } {
  const flags = t.hardening ?? [];
  if (!flags.length) return { env: {}, args: [] };
  if (spec.compilerFlags === 'arguments') return { env: {}, args: flags };
  const base = spec.env.CFLAGS ?? t.cflags ?? '';
  return { env: { CFLAGS: [base, ...flags].filter(Boolean).join(' ') }, args: [] };
}

export function buildSpecOf(c: PlanComponent): Omit<BuildSpec, 'cross'> {
  if (!c.build) throw new StageError(c.name, 'library', 'the recipe has no "build" section', { hint: `add one to recipes/components/${c.name}.json` });
  return c.build;
}

/**
 * The switches a library's configure (or cmake) gets after its prefix: the recipe's `args`, its
 * `trim`, then the profile's options (the last of `no-x`/`enable-x` wins). The manifest and the SBOM
 * record exactly this list, and a not_affected claim (src/vex.ts) is checked against it.
 */
export function configureSwitches(c: PlanComponent, t: Pick<CommandTarget, 'upstreamDefault' | 'target'> = {}): string[] {
  const spec = buildSpecOf(c);
  // a cross build: autoconf's --host and the recipe's data for the target, before the profile's options
  const x = crossOf(c, t);
  const cross = x ? [...(spec.system !== 'cmake' && x.host && t.target ? [`--host=${t.target.triple}`] : []), ...x.args] : [];
  return [...spec.args, ...(t.upstreamDefault ? [] : spec.trim), ...cross, ...c.options];
}

/** The recipe's data for a cross build's target (c.cross, from the plan); undefined for a host build. */
const crossOf = (c: PlanComponent, t: Pick<CommandTarget, 'target'>) => (t.target ? (c.cross ?? { args: [], host: true }) : undefined);

/** The commands that compile (and, when the recipe says so, install) one library. Pure. */
export function libraryCommands(c: PlanComponent, t: CommandTarget): Command[] {
  const spec = buildSpecOf(c);
  const b = t.upstreamDefault ? { ...spec, trim: [], before: [], targets: [], install: spec.system === 'configure' ? ['install'] : spec.install } : spec;
  const h = t.upstreamDefault ? { env: {}, args: [] } : hardeningOf(spec, t);
  const env: Record<string, string | null> = { ...b.env, ...h.env };
  const loud = t.verbose ? { make: ['V=1'], cmake: ['--verbose'] } : { make: [], cmake: [] };
  const make = t.make ?? 'make';
  const prefix = t.prefix ?? b.prefix;
  const destdir = t.destdir ? [`DESTDIR=${t.destdir}`] : [];
  // a cross build: the recipe's data for the target (c.cross, from the plan) and the generic part
  // every component of a build system shares (autoconf's --host, a CMake toolchain file)
  const x = crossOf(c, t);
  if (b.system === 'cmake') {
    const cmake = t.cmake ?? 'cmake';
    const dir = b.buildDir ?? t.cmakeDir ?? 'build-forge';
    const tc = t.target ? `forge-toolchain-${t.target.triple}.cmake` : undefined;
    return [
      {
        step: 'configure',
        cmd: cmake,
        args: ['-S', '.', '-B', dir, `-DCMAKE_INSTALL_PREFIX=${prefix}`, ...(tc ? [`-DCMAKE_TOOLCHAIN_FILE=${tc}`] : []), ...configureSwitches(c, t), ...h.args],
        env,
        ...(tc && t.target ? { files: { [tc]: cmakeToolchain(t.target) } } : {}),
      },
      ...b.before.map((x) => ({ step: 'make' as const, cmd: cmake, args: ['--build', dir, ...loud.cmake, '--', ...t.jobs, ...x.makeArgs, ...x.targets], env, expect: x.expect })),
      { step: 'make', cmd: cmake, args: ['--build', dir, ...loud.cmake, '--', ...t.jobs, ...b.targets], env },
      { step: 'install', cmd: cmake, args: ['--install', dir], env: { ...env, ...(t.destdir ? { DESTDIR: t.destdir } : {}) } },
    ];
  }
  // a version's archive without a generated configure (a git-tag archive): its files, then its
  // tool, then configure, which must write what the recipe expects (recipe versions.<v>.bootstrap)
  const boot = b.bootstrap;
  return [
    ...(boot ? [bootstrapCommand(boot, env)] : []),
    { step: 'configure', cmd: x?.script ?? b.script, args: [`--prefix=${prefix}`, ...configureSwitches(c, t), ...h.args], env, ...(boot?.expect ? { expect: boot.expect } : {}) },
    ...b.before.map((x) => ({ step: 'make' as const, cmd: make, args: [...t.jobs, ...loud.make, ...x.makeArgs, ...x.targets], env, expect: x.expect })),
    { step: 'make', cmd: make, args: [...t.jobs, ...loud.make, ...b.targets], env },
    ...(b.install.length ? [{ step: 'install' as const, cmd: make, args: [...b.install, ...destdir], env }] : []),
  ];
}

/** The command of a version's bootstrap: its tool, run with the recipe's one-line files written first (each with a newline). */
function bootstrapCommand(boot: Bootstrap, env: Record<string, string | null>): Command {
  const files = Object.fromEntries(Object.entries(boot.files).map(([f, line]) => [f, `${line}\n`]));
  return { step: 'bootstrap', cmd: boot.run, args: [], env, ...(Object.keys(files).length ? { files } : {}) };
}

/** Files and folders of the build tree that make up the output (recipe `copy`), relative to both. Pure. */
export function copiedOutputs(c: PlanComponent): string[] {
  return buildSpecOf(c).copy;
}
