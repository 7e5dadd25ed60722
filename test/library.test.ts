// The generic library builders: recipe data in, commands out (the same for the pipeline, the
// FreeBSD port and the naive benchmark baseline).
import { describe, expect, it } from 'vitest';
import { loadRecipes } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';
import { component } from '../src/plan.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StageError } from '../src/errors.ts';
import { buildLibrary } from '../src/stages/library.ts';
import { copiedOutputs, libraryCommands } from '../src/recipes/commands.ts';

const plan = resolvePlan(loadRecipes(), 'ktls');
const atomic = resolvePlan(loadRecipes(), 'ktls-libatomic');

describe('libraryCommands', () => {
  it('configure system: script with the fixed prefix, recipe args, then the profile options; make targets; DESTDIR install', () => {
    const ssl = component(plan, 'openssl');
    const cmds = libraryCommands(ssl, { destdir: '/stage', jobs: [] });
    expect(cmds.map((c) => c.step)).toEqual(['configure', 'make', 'install']);
    expect(cmds[0]!.cmd).toBe('./config');
    expect(cmds[0]!.args.slice(0, 5)).toEqual(['--prefix=/usr/lib/nginx-forge/openssl', '--openssldir=/etc/ssl', '--libdir=lib', 'no-shared', 'no-threads']);
    // the profile's options come last, so a profile can opt back in (enable-quic after no-quic)
    expect(cmds[0]!.args.slice(-ssl.options.length)).toEqual(ssl.options);
    expect(cmds[0]!.args).toContain('enable-ktls');
    expect(cmds[1]!.args).toEqual(['build_libs']);
    expect(cmds[2]!.args).toEqual(['install_dev', 'DESTDIR=/stage']);
    expect(cmds[0]!.env).toEqual({ CFLAGS: null, CPPFLAGS: null });
  });

  it('leaves out the OpenSSL subsystems nginx never calls, and nothing nginx needs', () => {
    const args = libraryCommands(component(plan, 'openssl'), { jobs: [] })[0]!.args;
    for (const off of ['no-quic', 'no-dtls', 'no-cms', 'no-cmp', 'no-ts', 'no-ct', 'no-srp']) expect(args).toContain(off);
    // OCSP stapling, ssl_engine, session tickets, TLS 1.2/1.3 and kTLS stay
    for (const kept of ['no-ocsp', 'no-engine', 'no-tls1_2', 'no-tls1_3', 'no-ktls', 'no-ec', 'no-dh', 'no-psk']) expect(args).not.toContain(kept);
    // default-provider algorithms that ciphersuites and encrypted keys use stay too
    // no-http would cascade to no-ocsp (OpenSSL 3.5 Configure): stapling and ssl_ocsp need it
    expect(args).not.toContain('no-http');
    for (const kept of ['no-des', 'no-aes', 'no-chacha', 'no-poly1305', 'no-camellia', 'no-aria', 'no-dsa', 'no-rmd160', 'no-scrypt', 'no-ml-kem', 'no-ecx']) expect(args).not.toContain(kept);
  });

  it('a before-run that writes nothing usable fails the stage, naming the file and the recipe field', async () => {
    const src = mkdtempSync(path.join(tmpdir(), 'nf-lib-'));
    writeFileSync(path.join(src, 'configure'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    // the symbol lister "succeeds" but lists nothing: an empty generated header
    writeFileSync(path.join(src, 'Makefile'), 'gen.h:\n\ttouch gen.h\nall:\n\ttrue\n');
    const { bootstrap: _, ...je } = component(plan, 'jemalloc').build!;
    const c = { ...component(plan, 'jemalloc'), options: [], build: { ...je, args: [], trim: [], targets: ['all'], install: [], copy: [], produces: [],
      before: [{ targets: ['gen.h'], makeArgs: [], reason: 'test', expect: { file: 'gen.h', contains: '#define arena_boot' } }] } };
    const err = await buildLibrary({ component: c, srcDir: src, out: path.join(src, 'out'), jobs: [], env: {}, log: path.join(src, 'log') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StageError);
    expect(String((err as Error).message)).toMatch(/did not write "#define arena_boot" into gen\.h/);
    expect(String((err as StageError).hint)).toContain('build.before');
  });

  it('builds only the static library nginx links: jemalloc once (no PIC twin, no install), PCRE2 libpcre2-8 only', () => {
    const je = component(plan, 'jemalloc');
    const cmds = libraryCommands(je, { jobs: ['-j2'] });
    expect(cmds.map((c) => [c.step, c.args.at(-1)])).toEqual([
      ['bootstrap', undefined],
      ['configure', '--disable-doc'],
      ['make', 'include/jemalloc/internal/private_namespace.gen.h'],
      ['make', 'lib/libjemalloc.a'],
    ]);
    // the symbol-name objects first, unoptimised, in their own make run; the library's own flags untouched
    expect(cmds[2]!.args).toEqual(['-j2', 'EXTRA_CFLAGS=-O0 -g0 -flto', 'include/jemalloc/internal/private_namespace.gen.h']);
    expect(cmds[3]!.args).toEqual(['-j2', 'lib/libjemalloc.a']);
    expect(copiedOutputs(je)).toEqual(['lib/libjemalloc.a', 'include/jemalloc/jemalloc.h']);
    expect(libraryCommands(component(plan, 'pcre2'), { jobs: [] })[1]!.args).toEqual(['libpcre2-8.la']);
  });

  it('trim switches come after the args and before the profile\'s options; the upstream default build (naive baseline) has none of the trimming', () => {
    const ossl = component(plan, 'openssl');
    const args = libraryCommands(ossl, { jobs: [] })[0]!.args;
    expect(args.indexOf('no-threads')).toBeLessThan(args.indexOf('no-quic'));
    expect(args.indexOf('no-apps')).toBeLessThan(args.indexOf('enable-ktls'));
    const je = libraryCommands(component(plan, 'jemalloc'), { jobs: ['-j2'], prefix: '/x', upstreamDefault: true });
    expect(je.map((c) => [c.step, c.args])).toEqual([
      ['bootstrap', []],
      ['configure', ['--prefix=/x', '--disable-shared', '--enable-static']],
      ['make', ['-j2']],
      ['install', ['install']],
    ]);
  });

  it('cmake system: the build directory from the target unless the recipe names one; the install takes DESTDIR from the environment', () => {
    const z = libraryCommands(component(plan, 'zlib-ng'), { destdir: '/stage', jobs: ['-j2'], cmakeDir: 'build-port' });
    expect(z[0]!.args.slice(0, 5)).toEqual(['-S', '.', '-B', 'build-port', '-DCMAKE_INSTALL_PREFIX=/usr']);
    expect(z[1]!.args).toEqual(['--build', 'build-port', '--', '-j2']);
    expect(z[2]!.env.DESTDIR).toBe('/stage');
    const a = libraryCommands(component(atomic, 'libatomic-ops'), { jobs: [], cmakeDir: 'build-port' });
    expect(a[0]!.args.slice(0, 4)).toEqual(['-S', '.', '-B', '.']);
  });

  it('a component added by recipe files alone reaches nginx\'s configure', () => {
    expect(atomic.configureArgs).toContain('--with-libatomic=../libatomic_ops-7.8.2');
    expect(atomic.stages.map((s) => s.id)).toContain('library:libatomic-ops');
    expect(atomic.stages.find((s) => s.id === 'configure:nginx')!.deps).toContain('library:libatomic-ops');
    // and the ktls profile, which does not list it, does not build it
    expect(plan.stages.some((s) => s.component === 'libatomic-ops')).toBe(false);
  });
});
