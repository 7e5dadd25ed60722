// Hardening: the protections a profile asks for ("hardening" in recipes/profiles/*.json), the one
// place they become compiler and linker flags, and the one place the target's architecture decides
// which apply. The plan adds the flags to every library's build (recipes/commands.ts: on top of each
// build system's own optimisation flags) and to nginx's --with-cc-opt/--with-ld-opt (modules are
// compiled by nginx's make with those); verify checks each protection on the binary (smoke/elf.ts).
// Pure: no I/O.

export const PROTECTIONS = ['stack-protector', 'fortify', 'stack-clash', 'cet', 'format', 'pie', 'relro', 'bindnow'] as const;
export type Protection = (typeof PROTECTIONS)[number];

interface ProtectionSpec {
  /** what it protects against, for reports */
  what: string;
  cflags: string[];
  ldflags: string[];
  /** the architectures it exists on (undefined: all) */
  arches?: string[];
}

/**
 * _FORTIFY_SOURCE=2, not 3: Debian 12's gcc 12 and glibc 2.36 support level 3, but level 3 also
 * checks sizes only known at run time (__builtin_dynamic_object_size), which costs on hot paths and
 * which Debian 12's own packages (dpkg-buildflags) do not use; level 2 is what the distro hardens
 * the same libraries with, so these builds are hardened at least as much as the distro's.
 */
export const SPECS: Record<Protection, ProtectionSpec> = {
  'stack-protector': { what: 'stack buffer overflows (canaries)', cflags: ['-fstack-protector-strong'], ldflags: [] },
  fortify: { what: 'overflows in libc calls of known size (__*_chk)', cflags: ['-D_FORTIFY_SOURCE=2'], ldflags: [] },
  'stack-clash': { what: 'stack-clash jumps over the guard page (stack probes)', cflags: ['-fstack-clash-protection'], ldflags: [] },
  cet: { what: 'indirect branches to anything but a function entry (endbr64, Intel CET IBT)', cflags: ['-fcf-protection'], ldflags: [], arches: ['x86_64'] },
  format: { what: 'format strings that are not literals', cflags: ['-Wformat', '-Werror=format-security'], ldflags: [] },
  // PIE is the toolchain's default (Debian's gcc links -pie); verify checks it, no flag is added
  pie: { what: 'a fixed load address (position-independent executable, ASLR)', cflags: [], ldflags: [] },
  relro: { what: 'overwrites of relocated data after start (RELRO)', cflags: [], ldflags: ['-Wl,-z,relro'] },
  bindnow: { what: 'lazy binding: the GOT is read-only from the start (BIND_NOW)', cflags: [], ldflags: ['-Wl,-z,now'] },
};

/** The target architecture in the GNU spelling (x86_64, aarch64) from node's (x64, arm64) or a GNU name. */
export function gnuArch(arch: string): string {
  return ({ x64: 'x86_64', amd64: 'x86_64', arm64: 'aarch64' } as Record<string, string>)[arch] ?? arch;
}

export interface Hardening {
  /** the protections that apply on this architecture, in PROTECTIONS order */
  protections: Protection[];
  /** asked for by the profile but not existing on this architecture (cet off x86_64) */
  notApplicable: Protection[];
  /** compiler flags for every C compile (libraries, nginx, modules) */
  cflags: string[];
  /** linker flags for nginx's link */
  ldflags: string[];
}

/** The flags of the protections asked for, on `arch` (node's or GNU spelling). */
export function hardeningFor(asked: readonly Protection[], arch: string): Hardening {
  const a = gnuArch(arch);
  const on = PROTECTIONS.filter((p) => asked.includes(p));
  const applies = (p: Protection) => !SPECS[p].arches || SPECS[p].arches!.includes(a);
  const protections = on.filter(applies);
  return {
    protections,
    notApplicable: on.filter((p) => !applies(p)),
    cflags: protections.flatMap((p) => SPECS[p].cflags),
    ldflags: protections.flatMap((p) => SPECS[p].ldflags),
  };
}

/**
 * The compiler flags for code built with sanitizers (nginx in a sanitizer profile): without
 * _FORTIFY_SOURCE, whose __*_chk versions of the libc calls would bypass ASan's interceptors, which
 * check the same calls more thoroughly. The libraries are not instrumented and keep every flag.
 */
export function sanitizedCflags(h: Hardening): string[] {
  const drop = new Set(SPECS.fortify.cflags);
  return h.cflags.filter((f) => !drop.has(f));
}
