// Build stage for nginx's dependencies. Each builder compiles one component from its patched
// source tree and leaves in `out` exactly what nginx's build needs (placed by the nginx stage at
// plan.layout[component]):
//   openssl  → .openssl/{include,lib}: what nginx's own `--with-openssl=` rule would produce,
//              built the same way (./config no-shared no-threads <the one --with-openssl-opt string>)
//              but with a fixed prefix, so the result is cacheable and reproducible
//   pcre2    → Makefile, src/pcre2.h(.generic), .libs/libpcre2-8.a: what `--with-pcre=` expects
//   zlib-ng  → include/, lib/libz.a (zlib-compat, static, CMake: nginx's --with-zlib cannot build it)
//   jemalloc → include/jemalloc/, lib/libjemalloc.a (static, linked with -ljemalloc)
// Jobs: every make gets `-j<jobs> -l<jobs>`, so concurrent builds share the CPUs by load.
import { cpSync, mkdirSync, existsSync, renameSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { run, type RunContext } from '../exec.ts';
import { StageError } from '../errors.ts';
import type { PlanComponent } from '../plan.ts';

export interface DepBuildInput {
  component: PlanComponent;
  srcDir: string;
  out: string;
  jobs: number;
  env: Record<string, string>;
  log: string;
  signal?: AbortSignal;
  /** pcre2: build with JIT (nginx --with-pcre-jit) */
  pcreJit?: boolean;
}

/** Fixed install prefixes: part of the OpenSSL binary (ENGINESDIR, MODULESDIR), so never a build path. */
export const OPENSSL_PREFIX = '/usr/lib/nginx-forge/openssl';
export const OPENSSL_DIR = '/etc/ssl';

const makeJobs = (jobs: number) => [`-j${jobs}`, `-l${jobs}`];

function ctxFor(i: DepBuildInput): RunContext {
  return { component: i.component.name, stage: 'build', log: i.log, cwd: i.srcDir, env: i.env, signal: i.signal };
}

/** Move <staging><prefix>/* into dest (DESTDIR installs with a fixed prefix). */
function hoist(staging: string, prefix: string, dest: string): void {
  const from = path.join(staging, prefix);
  mkdirSync(dest, { recursive: true });
  for (const f of readdirSync(from)) renameSync(path.join(from, f), path.join(dest, f));
}

async function openssl(i: DepBuildInput): Promise<void> {
  const ctx = ctxFor(i);
  // CFLAGS stay out of OpenSSL's environment: they are recorded in the library's version
  // string, and the build path must not be.
  const env = { ...i.env, CFLAGS: undefined, CPPFLAGS: undefined } as unknown as Record<string, string>;
  await run({ ...ctx, env }, './config', [
    `--prefix=${OPENSSL_PREFIX}`,
    `--openssldir=${OPENSSL_DIR}`,
    '--libdir=lib',
    'no-shared',
    'no-threads',
    ...i.component.options,
  ]);
  await run({ ...ctx, env }, 'make', [...makeJobs(i.jobs), 'build_libs']);
  const staging = path.join(i.srcDir, '.forge-staging');
  await run({ ...ctx, env }, 'make', ['install_dev', `DESTDIR=${staging}`]);
  hoist(staging, OPENSSL_PREFIX, path.join(i.out, '.openssl'));
}

async function pcre2(i: DepBuildInput): Promise<void> {
  const ctx = ctxFor(i);
  await run(ctx, './configure', ['--disable-shared', ...(i.pcreJit ? ['--enable-jit'] : []), ...i.component.options]);
  await run(ctx, 'make', [...makeJobs(i.jobs), 'libpcre2-8.la']);
  for (const f of ['Makefile', 'src/pcre2.h', 'src/pcre2.h.generic', '.libs/libpcre2-8.a']) {
    const src = path.join(i.srcDir, f);
    if (!existsSync(src)) throw new StageError('pcre2', 'build', `expected ${f} after the build, it is missing`, { log: i.log });
    cpSync(src, path.join(i.out, f), { preserveTimestamps: true });
  }
}

async function zlibNg(i: DepBuildInput): Promise<void> {
  const ctx = ctxFor(i);
  const b = path.join(i.srcDir, 'build-forge');
  await run(ctx, 'cmake', [
    '-S', '.', '-B', b,
    '-DCMAKE_BUILD_TYPE=Release',
    '-DZLIB_COMPAT=ON',
    '-DBUILD_SHARED_LIBS=OFF',
    '-DZLIB_ENABLE_TESTS=OFF',
    '-DZLIBNG_ENABLE_TESTS=OFF',
    '-DWITH_GTEST=OFF',
    '-DCMAKE_POSITION_INDEPENDENT_CODE=ON',
    '-DCMAKE_INSTALL_PREFIX=/usr',
    // GNUInstallDirs would pick lib/x86_64-linux-gnu on Debian; nginx's -L points at lib/
    '-DCMAKE_INSTALL_LIBDIR=lib',
    '-DCMAKE_INSTALL_INCLUDEDIR=include',
    ...i.component.options,
  ]);
  await run(ctx, 'cmake', ['--build', b, '--', ...makeJobs(i.jobs)]);
  const staging = path.join(i.srcDir, '.forge-staging');
  await run({ ...ctx, env: { ...i.env, DESTDIR: staging } }, 'cmake', ['--install', b]);
  hoist(staging, '/usr', i.out);
  if (!existsSync(path.join(i.out, 'lib', 'libz.a'))) {
    throw new StageError('zlib-ng', 'build', 'expected lib/libz.a after the install, it is missing', { log: i.log });
  }
}

async function jemalloc(i: DepBuildInput): Promise<void> {
  const ctx = ctxFor(i);
  await run(ctx, './configure', ['--prefix=/usr', '--disable-shared', '--enable-static', '--disable-cxx', '--disable-doc', ...i.component.options]);
  await run(ctx, 'make', [...makeJobs(i.jobs), 'build_lib_static']);
  const staging = path.join(i.srcDir, '.forge-staging');
  await run(ctx, 'make', ['install_lib_static', 'install_include', `DESTDIR=${staging}`]);
  hoist(staging, '/usr', i.out);
}

const builders: Record<string, (i: DepBuildInput) => Promise<void>> = {
  openssl,
  pcre2,
  'zlib-ng': zlibNg,
  jemalloc,
};

export async function buildDependency(i: DepBuildInput): Promise<void> {
  const b = builders[i.component.name];
  if (!b) throw new Error(`no builder for ${i.component.name}`);
  mkdirSync(i.out, { recursive: true });
  await b(i);
}
