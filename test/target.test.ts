// Targets (src/target.ts): the plan's target and its keys, the builders' flags per target, the
// compiler wrapper nginx's configure runs in a cross build, verify's architecture check.
import { createHash } from 'node:crypto';
import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.ts';
import { component, type BuildPlan } from '../src/plan.ts';
import { libraryCommands } from '../src/recipes/commands.ts';
import { loadRecipes } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';
import { artifactBase } from '../src/stages/artifacts.ts';
import { verifyBinary } from '../src/stages/verify.ts';
import { autotestCompiler, hostTriple, targetOf, TARGETS } from '../src/target.ts';
import { kernelRecipeOf, loadKernelArtifact } from '../src/smoke/vm/kernel.ts';
import { qemuArgs } from '../src/smoke/vm/index.ts';
import { vmOf } from '../src/smoke/vm/machines.ts';
import { findStaticBusybox } from '../src/smoke/vm/initramfs.ts';

const recipes = loadRecipes();
const tc = { cc: 'gcc 12', arch: 'x64' };
const host = resolvePlan(recipes, 'ktls', { toolchain: tc });
const arm = resolvePlan(recipes, 'ktls', { toolchain: tc, target: 'aarch64-linux-gnu' });
const key = (p: BuildPlan, id: string) => p.stages.find((s) => s.id === id)!.key;

describe('the target of a plan', () => {
  it('is the host\'s own triple by default, and another one is a cross build', () => {
    expect(hostTriple('x64')).toBe('x86_64-linux-gnu');
    expect(hostTriple('arm64')).toBe('aarch64-linux-gnu');
    expect(host.target.triple).toBe(hostTriple());
    expect(host.cross).toBe(false);
    expect(arm.target.triple).toBe('aarch64-linux-gnu');
    expect(arm.cross).toBe(hostTriple() !== 'aarch64-linux-gnu');
  });

  it('an unknown --target is a usage error naming the known ones', () => {
    expect(() => targetOf('riscv64-linux-gnu')).toThrow(UsageError);
    expect(() => targetOf('riscv64-linux-gnu')).toThrow(/--target riscv64-linux-gnu: not a target nginx-forge knows \(known: x86_64-linux-gnu, aarch64-linux-gnu\)/);
    expect(() => resolvePlan(recipes, 'ktls', { target: 'mips-linux-gnu' })).toThrow(/known: x86_64-linux-gnu, aarch64-linux-gnu/);
  });

  it('a host build\'s key inputs carry no target and no per-target recipe data (its keys stay what they were)', () => {
    const explicit = resolvePlan(recipes, 'ktls', { toolchain: tc, target: hostTriple() });
    expect(explicit.stages.map((s) => s.key)).toEqual(host.stages.map((s) => s.key));
    expect(explicit.planHash).toBe(host.planHash);
    for (const s of host.stages.filter((x) => x.kind === 'library')) {
      const inputs = s.keyInputs.inputs as Record<string, unknown>;
      // jemalloc 5.3.1 bootstraps (recipe versions.5.3.1.bootstrap): its key alone also names autoconf's version
      expect(Object.keys(inputs).sort(), s.id).toEqual(['build', 'hardening', 'licenseFiles', 'options', 'toolchain', ...(s.id === 'library:jemalloc' ? ['bootstrapTool'] : [])].sort());
      expect(inputs.build as object, s.id).not.toHaveProperty('cross');
    }
    expect(host.stages.find((s) => s.id === 'configure:nginx')!.keyInputs.inputs).not.toHaveProperty('target');
    expect(host.configureArgs.some((a) => a.startsWith('--crossbuild') || a.startsWith('--with-cc='))).toBe(false);
  });

  it('an arm64 build: every compiling stage (and what follows) has another key; the sources\' stages keep theirs', () => {
    for (const s of host.stages) {
      const same = ['fetch', 'extract', 'patch'].includes(s.kind);
      expect(key(arm, s.id) === s.key, `${s.id}: ${same ? 'same' : 'another'} key`).toBe(same);
    }
    expect(arm.stages.find((s) => s.id === 'library:openssl')!.keyInputs.inputs).toMatchObject({ target: 'aarch64-linux-gnu', cross: { script: './Configure' } });
    expect(arm.stages.find((s) => s.id === 'configure:nginx')!.keyInputs.inputs).toMatchObject({ target: 'aarch64-linux-gnu' });
    expect(arm.planHash).not.toBe(host.planHash);
  });

  it('nginx\'s configure is told the platform and the cross compiler (production and nginx-debug)', () => {
    for (const args of [arm.configureArgs, ...arm.variants.map((v) => v.configureArgs)]) {
      expect(args).toContain('--crossbuild=Linux::aarch64');
      expect(args).toContain('--with-cc=aarch64-linux-gnu-gcc');
    }
  });

  it('the tarball is named by the target\'s CPU, not the build host\'s', () => {
    expect(artifactBase(arm)).toBe('nginx-1.26.3-ktls-linux-aarch64');
    expect(artifactBase(host)).toBe(`nginx-1.26.3-ktls-linux-${host.target.cpu}`);
  });

  it('a profile\'s "target" field is the default, --target overrides it', () => {
    const set = { ...recipes, profiles: new Map(recipes.profiles) };
    const e = recipes.profiles.get('ktls')!;
    set.profiles.set('ktls', { ...e, recipe: { ...e.recipe, target: 'aarch64-linux-gnu' } });
    expect(resolvePlan(set, 'ktls', { toolchain: tc }).target.triple).toBe('aarch64-linux-gnu');
    expect(resolvePlan(set, 'ktls', { toolchain: tc, target: 'x86_64-linux-gnu' }).target.triple).toBe('x86_64-linux-gnu');
  });
});

describe('the generic builders, per target', () => {
  const cmds = (plan: BuildPlan, name: string) => libraryCommands(component(plan, name), { jobs: [], target: plan.cross ? plan.target : undefined });
  const configureOf = (plan: BuildPlan, name: string) => cmds(plan, name).find((c) => c.step === 'configure')!;

  it('OpenSSL: ./Configure linux-aarch64 with the cross prefix (its recipe\'s data), no --host', () => {
    const c = configureOf(arm, 'openssl');
    expect(c.cmd).toBe('./Configure');
    expect(c.args).toEqual(expect.arrayContaining(['linux-aarch64', '--cross-compile-prefix=aarch64-linux-gnu-', 'enable-ktls']));
    expect(c.args.some((a) => a.startsWith('--host'))).toBe(false);
    expect(configureOf(host, 'openssl').cmd).toBe('./config');
    expect(configureOf(host, 'openssl').args).not.toContain('linux-aarch64');
  });

  it('PCRE2 and jemalloc: autoconf --host; jemalloc also --with-lg-page=16 (64 KiB-page kernels)', () => {
    expect(configureOf(arm, 'pcre2').args).toContain('--host=aarch64-linux-gnu');
    expect(configureOf(arm, 'jemalloc').args).toEqual(expect.arrayContaining(['--host=aarch64-linux-gnu', '--with-lg-page=16']));
    for (const n of ['pcre2', 'jemalloc']) expect(configureOf(host, n).args.filter((a) => a.startsWith('--host') || a.startsWith('--with-lg-page'))).toEqual([]);
  });

  it('zlib-ng (CMake): a toolchain file the builder writes, naming the cross compiler and processor', () => {
    const c = configureOf(arm, 'zlib-ng');
    expect(c.args).toContain('-DCMAKE_TOOLCHAIN_FILE=forge-toolchain-aarch64-linux-gnu.cmake');
    const file = c.files!['forge-toolchain-aarch64-linux-gnu.cmake']!;
    expect(file).toMatch(/set\(CMAKE_SYSTEM_PROCESSOR aarch64\)/);
    expect(file).toMatch(/set\(CMAKE_C_COMPILER aarch64-linux-gnu-gcc\)/);
    expect(configureOf(host, 'zlib-ng').files).toBeUndefined();
    expect(configureOf(host, 'zlib-ng').args.some((a) => a.startsWith('-DCMAKE_TOOLCHAIN_FILE'))).toBe(false);
  });
});

describe('nginx\'s configure in a cross build: its test programs run under qemu-user', () => {
  it('the compiler wrapper leaves a launcher that runs the aarch64 test program and prints the target\'s answer', async () => {
    const t = TARGETS['aarch64-linux-gnu']!;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'forge-autotest-'));
    mkdirSync(path.join(dir, 'bin'));
    mkdirSync(path.join(dir, 'objs'));
    writeFileSync(path.join(dir, 'bin', `${t.triple}-gcc`), autotestCompiler(t, process.env.PATH!), { mode: 0o755 });
    // what auto/types/sizeof compiles: it prints the size, configure reads it from the program's output
    writeFileSync(path.join(dir, 'objs', 'autotest.c'), '#include <stdio.h>\nint main(void) { printf("%d %d", (char) -1 < 0, (int) sizeof(void *)); return 0; }\n');
    const env = { ...process.env, PATH: `${path.join(dir, 'bin')}:${process.env.PATH}` };
    await execa(`${t.triple}-gcc`, ['-o', 'objs/autotest', 'objs/autotest.c'], { cwd: dir, env });
    // the compiled program is the target's, beside a launcher (a script) under the name configure runs
    expect(readFileSync(path.join(dir, 'objs', 'autotest.target')).readUInt16LE(18)).toBe(t.elfMachine);
    expect(readFileSync(path.join(dir, 'objs', 'autotest'), 'utf8')).toMatch(/^#!\/bin\/sh\nexec qemu-aarch64-static -L \/usr\/aarch64-linux-gnu "\$0.target"/);
    // the way auto/feature runs it; plain char is unsigned on AArch64, signed on x86-64: the target speaks
    const r = await execa('/bin/sh', ['-c', 'objs/autotest'], { cwd: dir });
    expect(r.stdout).toBe('0 8');
    // other outputs (the objects of a feature test without -o autotest) are left alone
    await execa(`${t.triple}-gcc`, ['-c', '-o', 'objs/x.o', 'objs/autotest.c'], { cwd: dir, env });
    expect(existsSync(path.join(dir, 'objs', 'x.o.target'))).toBe(false);
  });
});

describe('verify: a binary for another machine than the plan\'s target', () => {
  it('is named as such (readelf -h), before anything tries to run it', async () => {
    // node itself: an x86-64 (or the host's) ELF, checked against the other target's plan
    const other = Object.values(TARGETS).find((t) => t.triple !== hostTriple())!;
    const plan = resolvePlan(recipes, 'ktls', { toolchain: tc, target: other.triple });
    const checks = await verifyBinary(process.execPath, plan);
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ check: 'ELF machine (readelf -h)', ok: false, expected: `${other.elfName} (the plan's target, ${other.triple})` });
    expect(checks[0]!.actual).toMatch(/the binary is for another machine than the plan's target/);
  });
});

describe('a cross build\'s smoke test: a VM of the target\'s machine', () => {
  it('every target has a VM: QEMU for its machine, a console, a pinned kernel recipe that parses, its CPU\'s crypto module dir', () => {
    for (const t of Object.values(TARGETS)) {
      const a = loadKernelArtifact(kernelRecipeOf(t));
      expect(a.file).toMatch(new RegExp(`_${t.debArch}\\.deb$`));
      expect(vmOf(t).cryptoModuleDirs).toContain(`kernel/arch/${t.cpu === 'x86_64' ? 'x86' : 'arm64'}/crypto`);
    }
    // the x86-64 VM boots exactly as before; the arm64 one the virt machine with a CPU that has AES/PMULL, on ttyAMA0
    expect(qemuArgs({ vmlinuz: '/k', initrd: '/i', io: '/io' }).slice(0, 2)).toEqual(['-cpu', 'max']);
    const a = qemuArgs({ vmlinuz: '/k', initrd: '/i', io: '/io', target: TARGETS['aarch64-linux-gnu'], root: '/roots/arm64,x' }).join(' ');
    expect(a).toMatch(/^-machine virt -cpu max /);
    expect(a).toContain('console=ttyAMA0 ');
    expect(a).toContain('path=/roots/arm64,,x,security_model=none,readonly=on');
  });

  it('the smoke stage key names the target\'s kernel recipe (an arm64 plan\'s smoke key differs from the amd64 one beyond the target)', () => {
    const smokeKernel = (p: BuildPlan) => (p.stages.find((s) => s.id === 'smoke')!.keyInputs.inputs as { vmKernel: string }).vmKernel;
    const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
    expect(smokeKernel(arm).startsWith(sha(kernelRecipeOf(TARGETS['aarch64-linux-gnu']!)))).toBe(true);
    expect(smokeKernel(host).startsWith(sha(kernelRecipeOf(TARGETS['x86_64-linux-gnu']!)))).toBe(true);
  });

  it('a VM of another machine refuses the host root, and --vm never / --kernel for a foreign binary are usage errors', async () => {
    const other = Object.values(TARGETS).find((t) => t.triple !== hostTriple())!;
    const { runInVm } = await import('../src/smoke/vm/index.ts');
    await expect(runInVm({ share: os.tmpdir(), runs: [], scratch: '/run', target: other, ctx: { component: 'smoke', stage: 'vm', log: '/dev/null' } })).rejects.toThrow(new RegExp(`a ${other.cpu} VM cannot chroot into this .* host's root`));
    const { runSmoke } = await import('../src/smoke/index.ts');
    await expect(runSmoke('/bin/true', { target: other, vm: 'never' })).rejects.toThrow(new RegExp(`--vm never: a binary for ${other.triple} cannot be tested`));
    await expect(runSmoke('/bin/true', { target: other, kernel: '/k', modules: '/m' })).rejects.toThrow(/--kernel: the smoke test of a .* binary boots the pinned/);
  });

  it('the initramfs takes a guest root\'s busybox only when it is for the VM\'s machine', () => {
    const other = Object.values(TARGETS).find((t) => t.triple !== hostTriple())!;
    const root = mkdtempSync(path.join(os.tmpdir(), 'guest-root-'));
    mkdirSync(path.join(root, 'bin'));
    // the host's own static busybox in a root for another machine: refused, naming both machines
    writeFileSync(path.join(root, 'bin', 'busybox'), readFileSync(findStaticBusybox().path));
    expect(() => findStaticBusybox(root, other)).toThrow(new RegExp(`a busybox for e_machine \\d+, not for the VM's ${other.elfName} \\(${other.elfMachine}\\)`));
    expect(findStaticBusybox(root, targetOf(undefined)).path).toBe(path.join(root, 'bin', 'busybox'));
    expect(() => findStaticBusybox(path.join(root, 'none'), other)).toThrow(/busybox \(statically linked\) in the guest root/);
  });
});
