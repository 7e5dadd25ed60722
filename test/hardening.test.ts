// Hardening: the profile's protections become one set of flags (per target architecture), added
// to each build system's own optimisation flags and to nginx's; verify reads the protections back
// from real binaries compiled here with and without the flags.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { elfHardening, ENDBR_MIN, hardeningChecks } from '../src/elfhardening.ts';
import { hardeningFor, PROTECTIONS } from '../src/hardening.ts';
import { component } from '../src/plan.ts';
import { libraryCommands } from '../src/recipes/commands.ts';
import { loadRecipes } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';

const recipes = loadRecipes();
const x64 = resolvePlan(recipes, 'ktls-brotli', { toolchain: { arch: 'x64' } });
const arm = resolvePlan(recipes, 'ktls-brotli', { toolchain: { arch: 'arm64' } });
const FLAGS = ['-fstack-protector-strong', '-D_FORTIFY_SOURCE=2', '-fstack-clash-protection', '-fcf-protection', '-Wformat', '-Werror=format-security'];
const BASE = '-O2 -g1 -ffile-prefix-map=/ws=/usr/src/nginx-forge';
const cmds = (name: string) => libraryCommands(component(x64, name), { jobs: ['-j2'], hardening: x64.hardening.cflags, cflags: BASE });

describe('hardening flags', () => {
  it('the ktls profile asks for every protection; cet (-fcf-protection) only on x86_64', () => {
    expect(x64.hardening.protections).toEqual([...PROTECTIONS]);
    expect(x64.hardening.cflags).toEqual(FLAGS);
    expect(x64.hardening.ldflags).toEqual(['-Wl,-z,relro', '-Wl,-z,now']);
    expect(arm.hardening.cflags).toEqual(FLAGS.filter((f) => f !== '-fcf-protection'));
    expect(arm.hardening.notApplicable).toEqual(['cet']);
    expect(hardeningFor(['cet', 'fortify'], 'x86_64').cflags).toEqual(['-D_FORTIFY_SOURCE=2', '-fcf-protection']);
  });

  it('OpenSSL (Configure): the flags are arguments after the options, CFLAGS stays unset so its own -O3 and assembly stay', () => {
    const [conf, ...rest] = cmds('openssl');
    expect(conf!.args.slice(-FLAGS.length)).toEqual(FLAGS);
    expect(conf!.args).toContain('enable-ktls');
    for (const c of [conf!, ...rest]) expect(c.env).toEqual({ CFLAGS: null, CPPFLAGS: null });
  });

  it('autotools (PCRE2, jemalloc): CFLAGS is the build\'s own -O2 and debug level with the flags after it, on every step', () => {
    for (const lib of ['pcre2', 'jemalloc']) {
      const all = cmds(lib);
      for (const c of all) expect(c.env.CFLAGS, `${lib} ${c.step}`).toBe(`${BASE} ${FLAGS.join(' ')}`);
      expect(all[0]!.args.some((a) => FLAGS.includes(a))).toBe(false);
    }
    // jemalloc's symbol-name pass keeps its own EXTRA_CFLAGS on top
    expect(cmds('jemalloc').find((c) => c.step === 'make')!.args).toContain('EXTRA_CFLAGS=-O0 -g0 -flto');
  });

  it('CMake (zlib-ng, brotli): CFLAGS with the flags initialises CMAKE_C_FLAGS; the Release build type (its -O3 -DNDEBUG) stays', () => {
    for (const lib of ['zlib-ng', 'brotli']) {
      const [conf, ...rest] = cmds(lib);
      expect(conf!.args).toContain('-DCMAKE_BUILD_TYPE=Release');
      expect(conf!.args.some((a) => a.startsWith('-DCMAKE_C_FLAGS'))).toBe(false);
      for (const c of [conf!, ...rest]) expect(c.env.CFLAGS).toBe(`${BASE} ${FLAGS.join(' ')}`);
    }
  });

  it('nginx (and the modules its make compiles) gets the same flags in --with-cc-opt, the link flags in --with-ld-opt', () => {
    for (const args of [x64.configureArgs, ...x64.variants.map((v) => v.configureArgs)]) {
      const words = (opt: string) => args.find((a) => a.startsWith(`${opt}=`))!.slice(opt.length + 1).split(' ');
      const cc = words('--with-cc-opt');
      const ld = words('--with-ld-opt');
      for (const f of FLAGS) expect(cc).toContain(f);
      expect(cc).toContain('-O2');
      expect(ld).toEqual(expect.arrayContaining(['-Wl,-z,relro', '-Wl,-z,now']));
    }
    // the sanitizer build's nginx has no _FORTIFY_SOURCE (ASan intercepts those calls); its libraries are ktls's
    const asan = resolvePlan(recipes, 'ktls-asan', { toolchain: { arch: 'x64' } });
    const cc = asan.configureArgs.find((a) => a.startsWith('--with-cc-opt='))!;
    expect(cc).not.toContain('_FORTIFY_SOURCE');
    expect(cc).toContain('-fstack-clash-protection');
    const ktls = resolvePlan(recipes, 'ktls', { toolchain: { arch: 'x64' } });
    expect(asan.stages.find((s) => s.id === 'library:openssl')!.key).toBe(ktls.stages.find((s) => s.id === 'library:openssl')!.key);
  });

  it('the flags are in every library stage key: another architecture\'s flags give other keys', () => {
    const same = resolvePlan(recipes, 'ktls-brotli', { toolchain: { arch: 'arm64' } });
    const libs = x64.stages.filter((s) => s.kind === 'library');
    expect(libs.length).toBe(5);
    for (const s of libs) {
      expect((s.keyInputs.inputs as { hardening: string[] }).hardening).toEqual(x64.hardening.cflags);
      expect(arm.stages.find((x) => x.id === s.id)!.key).not.toBe(s.key);
      expect(same.stages.find((x) => x.id === s.id)!.key).toBe(arm.stages.find((x) => x.id === s.id)!.key);
    }
  });

  it('a recipe that unsets CFLAGS but takes the flags through CFLAGS is refused, naming the field', () => {
    const r = loadRecipes();
    const ssl = r.components.get('openssl')!;
    r.components.set('openssl', { ...ssl, recipe: { ...ssl.recipe, build: { ...ssl.recipe.build!, compilerFlags: 'CFLAGS' } } });
    expect(() => resolvePlan(r, 'ktls')).toThrow(/build\.compilerFlags[\s\S]*"arguments"/);
  });
});

describe('elfHardening reads the protections from a real binary', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'forge-hardening-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // a large frame (stack probes), a buffer copy of known size (fortify), a char array (canary),
  // functions called through a pointer (endbr64)
  const src = path.join(dir, 'prog.c');
  writeFileSync(
    src,
    `#include <stdio.h>
#include <string.h>
__attribute__((noinline)) void use(char *b) { __asm__ volatile("" :: "r"(b) : "memory"); }
int big(const char *s) { char buf[20000]; strcpy(buf, s); use(buf); return buf[7]; }
int small(const char *s) { char b[16]; strcpy(b, s); use(b); return b[1]; }
int (*table[])(const char *) = { big, small };
int main(int argc, char **argv) { printf("%d\\n", table[argc & 1](argv[0])); return 0; }
`,
  );
  const cc = (out: string, flags: string[]) => {
    execFileSync('gcc', ['-O2', ...flags, src, '-o', path.join(dir, out)]);
    return path.join(dir, out);
  };

  it('without the flags: no canary, no checked calls, no probes, no endbr64, lazy binding', async () => {
    const h = await elfHardening(cc('plain', ['-fno-stack-protector', '-U_FORTIFY_SOURCE', '-fno-stack-clash-protection', '-fcf-protection=none', '-Wl,-z,lazy', '-Wl,-z,norelro']));
    expect(h.findings['stack-protector'].found).toBe(false);
    expect(h.findings.fortify.found).toBe(false);
    expect(h.findings['stack-clash'].found).toBe(false);
    expect(h.findings.cet.found).toBe(false);
    expect(h.findings.relro.found).toBe(false);
    expect(h.findings.bindnow.found).toBe(false);
    expect(h.findings.format.found).toBeUndefined();
  });

  it('an AArch64 binary (a cross build): the x86-64 probe and endbr64 are not looked for, so verify does not fail on them; the rest is checked', async () => {
    const arm = hardeningFor(['stack-protector', 'fortify', 'stack-clash', 'cet', 'pie', 'relro', 'bindnow'], 'arm64');
    const out = path.join(dir, 'arm64');
    execFileSync('aarch64-linux-gnu-gcc', ['-O2', ...arm.cflags, ...arm.ldflags, src, '-o', out]);
    const h = await elfHardening(out);
    // it failed the arm64 build's verify: "stack-clash … got absent: no stack probe (orq $0x0,(%rsp))"
    expect(h.findings['stack-clash'].found).toBeUndefined();
    expect(h.findings.cet.found).toBeUndefined();
    for (const p of ['stack-protector', 'fortify', 'pie', 'relro', 'bindnow'] as const) expect(h.findings[p].found, `${p}: ${h.findings[p].evidence}`).toBe(true);
    expect(hardeningChecks(h.findings, arm.protections).filter((c) => !c.ok)).toEqual([]);
  });

  it('with the profile\'s flags: every protection is found, with its evidence', async () => {
    const h = await elfHardening(cc('hardened', [...x64.hardening.cflags, ...x64.hardening.ldflags]));
    for (const p of ['stack-protector', 'fortify', 'stack-clash', 'cet', 'pie', 'relro', 'bindnow'] as const) expect(h.findings[p].found, `${p}: ${h.findings[p].evidence}`).toBe(true);
    expect(h.chkImports).toContain('__strcpy_chk');
    expect(h.stackProbes).toBeGreaterThan(0);
    expect(h.functions!.endbr64 / h.functions!.total).toBeGreaterThanOrEqual(ENDBR_MIN);
    expect(h.findings.cet.evidence).toMatch(/of \d+ functions .* start with endbr64/);
  });

  it('verify\'s checks: a protection the profile asks for and the binary lacks fails, naming it and the evidence', async () => {
    const plain = await elfHardening(path.join(dir, 'plain'));
    const checks = hardeningChecks(plain.findings, x64.hardening.protections);
    const failed = checks.filter((c) => !c.ok).map((c) => c.check.split(' ')[1]);
    expect(failed).toEqual(['stack-protector', 'fortify', 'stack-clash', 'cet', 'relro', 'bindnow']);
    expect(checks.find((c) => c.check.startsWith('hardening: cet'))!.actual).toMatch(/^absent: \d+ of \d+ functions/);
    // not asked for: reported, never a failure
    expect(hardeningChecks(plain.findings, []).every((c) => c.ok && c.expected === 'not asked for by the profile')).toBe(true);
    const hardened = await elfHardening(path.join(dir, 'hardened'));
    expect(hardeningChecks(hardened.findings, x64.hardening.protections).filter((c) => !c.ok)).toEqual([]);
  });

  it('stripped: cet cannot be told (no function table), the imports still tell', async () => {
    const f = cc('stripped', [...x64.hardening.cflags, '-s']);
    const h = await elfHardening(f);
    expect(h.findings.cet.found).toBeUndefined();
    expect(h.findings.cet.evidence).toMatch(/stripped/);
    expect(h.findings['stack-protector'].found).toBe(true);
  });
});
