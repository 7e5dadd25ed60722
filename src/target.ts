// The target a build compiles for, in ONE place: its GNU triple (`--target`, a profile's
// "target"), and every name the other tools give the same machine (nginx's --crossbuild, the
// CMake processor, the ELF e_machine, Debian's and RPM's architecture, qemu-user's binary, the
// cross sysroot). The host's own triple is the default; a build for another one is a cross
// build. Anything that depends on the architecture (hardening flags, packages, verify) keys on
// a Target from here, never on process.arch alone.
import os from 'node:os';
import { UsageError } from './errors.ts';

export interface Target {
  /** GNU triple, e.g. "aarch64-linux-gnu" (the cross tools' prefix without the dash) */
  triple: string;
  /** the CPU as uname -m, OpenSSL and CMake name it: "x86_64", "aarch64" */
  cpu: string;
  /** node's process.arch for this CPU ("x64", "arm64"): what smoke/elf.ts's machine table is keyed by */
  nodeArch: string;
  /** ELF e_machine (62 x86-64, 183 AArch64) and how readelf -h names it */
  elfMachine: number;
  elfName: string;
  /** Debian's and RPM's architecture names */
  debArch: string;
  rpmArch: string;
  /** qemu-user's emulator for it (qemu-user-static) */
  qemu: string;
  /** where the cross toolchain's libc lives (Debian's cross packages): qemu-user's -L */
  sysroot: string;
  /** the Debian packages a cross build for it needs (doctor, ci/setup.sh) */
  crossPackages: string[];
}

export const TARGETS: Record<string, Target> = {
  'x86_64-linux-gnu': {
    triple: 'x86_64-linux-gnu',
    cpu: 'x86_64',
    nodeArch: 'x64',
    elfMachine: 62,
    elfName: 'Advanced Micro Devices X86-64',
    debArch: 'amd64',
    rpmArch: 'x86_64',
    qemu: 'qemu-x86_64-static',
    sysroot: '/usr/x86_64-linux-gnu',
    crossPackages: ['crossbuild-essential-amd64', 'qemu-user-static'],
  },
  'aarch64-linux-gnu': {
    triple: 'aarch64-linux-gnu',
    cpu: 'aarch64',
    nodeArch: 'arm64',
    elfMachine: 183,
    elfName: 'AArch64',
    debArch: 'arm64',
    rpmArch: 'aarch64',
    qemu: 'qemu-aarch64-static',
    sysroot: '/usr/aarch64-linux-gnu',
    crossPackages: ['crossbuild-essential-arm64', 'qemu-user-static'],
  },
};

/** The triple of the machine this runs on (undefined on a CPU no target is defined for). */
export function hostTriple(arch: string = os.arch()): string | undefined {
  return Object.values(TARGETS).find((t) => t.nodeArch === arch)?.triple;
}

/** The Target of a triple as `--target` or a profile's "target" gives it (default: the host's). */
export function targetOf(triple: string | undefined, where = '--target'): Target {
  const t = triple ?? hostTriple();
  if (t === undefined) throw new UsageError(`this machine's CPU (${os.arch()}) is not one nginx-forge builds for natively`, `give ${where} one of: ${Object.keys(TARGETS).join(', ')}`);
  const target = TARGETS[t];
  if (!target) throw new UsageError(`${where} ${t}: not a target nginx-forge knows (known: ${Object.keys(TARGETS).join(', ')})`, 'give a GNU triple such as --target aarch64-linux-gnu');
  return target;
}

/** Whether building for `t` here is a cross build (its triple is not the host's). */
export const isCross = (t: Target, host: string | undefined = hostTriple()): boolean => t.triple !== host;

/** The cross tools' name prefix ("aarch64-linux-gnu-"), empty for a native build. */
export const toolPrefix = (t: Target, host?: string): string => (isCross(t, host) ? `${t.triple}-` : '');

/** nginx's `--crossbuild` value (auto/configure: NGX_SYSTEM:NGX_RELEASE:NGX_MACHINE). */
export const nginxCrossbuild = (t: Target): string => `Linux::${t.cpu}`;

/** The CMake toolchain file of a cross build (the library builder writes it into the tree). */
export function cmakeToolchain(t: Target): string {
  return [
    `# written by nginx-forge: cross-compile for ${t.triple}`,
    'set(CMAKE_SYSTEM_NAME Linux)',
    `set(CMAKE_SYSTEM_PROCESSOR ${t.cpu})`,
    `set(CMAKE_C_COMPILER ${t.triple}-gcc)`,
    `set(CMAKE_CXX_COMPILER ${t.triple}-g++)`,
    `set(CMAKE_AR ${t.triple}-ar)`,
    `set(CMAKE_RANLIB ${t.triple}-ranlib)`,
    `set(CMAKE_FIND_ROOT_PATH ${t.sysroot})`,
    'set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)',
    'set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)',
    'set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)',
    `set(CMAKE_CROSSCOMPILING_EMULATOR ${t.qemu};-L;${t.sysroot})`,
    '',
  ].join('\n');
}

/** The argv that runs a binary built for `t` on this machine: itself, or under qemu-user. */
export function runnerFor(t: Target, binary: string, host?: string): { cmd: string; args: string[] } {
  return isCross(t, host) ? { cmd: t.qemu, args: ['-L', t.sysroot, binary] } : { cmd: binary, args: [] };
}

const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The compiler nginx's ./configure runs in a cross build (put first in its PATH under the cross
 * compiler's name, so `--with-cc=<triple>-gcc` and `nginx -V` name the real one). It compiles
 * with the real cross compiler (found in `path`, the PATH without this wrapper); when the output
 * is configure's test program (objs/autotest), it moves the program aside and puts a launcher in
 * its place that runs it under qemu-user. nginx's auto/feature (`/bin/sh -c $NGX_AUTOTEST`) and
 * auto/types/sizeof (`` `$NGX_AUTOTEST` ``) then get the answers of the target's own C library
 * and ABI, as on an arm64 machine; configure's `rm -rf $NGX_AUTOTEST*` removes both.
 */
export function autotestCompiler(t: Target, path: string): string {
  const launcher = `#!/bin/sh\\nexec ${t.qemu} -L ${t.sysroot} "$0.target" "$@"\\n`;
  return [
    '#!/bin/sh',
    `# nginx-forge: nginx's configure's compiler in a cross build for ${t.triple}; its test programs run under ${t.qemu}`,
    `PATH=${shQuote(path)}`,
    'export PATH',
    'out=',
    'prev=',
    'for a do',
    '  [ "$prev" = -o ] && out=$a',
    '  prev=$a',
    'done',
    `${t.triple}-gcc "$@" || exit`,
    'case $out in',
    '*/autotest|autotest)',
    `  mv -f "$out" "$out.target" && printf ${shQuote(launcher)} >"$out" && chmod +x "$out" ;;`,
    'esac',
    '',
  ].join('\n');
}
