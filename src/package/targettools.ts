// The tools a packaging step runs on a build's own binaries, for the plan's target: the target's
// binutils (aarch64-linux-gnu-strip and -objcopy in a cross build: the host's do not recognise an
// AArch64 file) and dpkg-shlibdeps told the host architecture of the package (DEB_HOST_ARCH), so
// it reads the target's libc (the arm64 one) and the target's objdump. One place for the .deb, its
// modules and dbgsym, the .rpm and the artifacts stage's debug split.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run, type RunContext } from '../exec.ts';
import { isCross, toolPrefix, type Target } from '../target.ts';

/** The target as the manifest, the SBOM and the provenance name it: GNU triple and each tool's architecture name. */
export const targetFacts = (t: Target) => ({ triple: t.triple, cpu: t.cpu, debArch: t.debArch, rpmArch: t.rpmArch });

/** A binutils program of the target: "strip" natively, "aarch64-linux-gnu-strip" in a cross build. */
export const targetTool = (t: Target, tool: 'strip' | 'objcopy' | 'objdump' | 'readelf' | 'nm'): string => `${toolPrefix(t)}${tool}`;

/**
 * The Depends dpkg-shlibdeps computes for ELF files built for `target` (it needs a debian/control
 * beside it: a minimal one in scratch); in a cross build with DEB_HOST_ARCH set, so the target's
 * libraries (Debian's multiarch or cross packages) and its objdump are used. Falls back to "libc6"
 * when dpkg-shlibdeps is not installed or finds no package of a library.
 */
export async function shlibDepends(ctx: RunContext, files: string[], scratch: string, target: Target): Promise<{ depends: string; how: string }> {
  const dir = path.join(scratch, 'shlibdeps');
  mkdirSync(path.join(dir, 'debian'), { recursive: true });
  writeFileSync(path.join(dir, 'debian', 'control'), 'Source: nginx-forge\n\nPackage: nginx-forge\nArchitecture: any\n');
  try {
    const env = isCross(target) ? { env: { ...ctx.env, DEB_HOST_ARCH: target.debArch } } : {};
    const out = await run({ ...ctx, cwd: dir, ...env }, 'dpkg-shlibdeps', ['-O', '-e', ...files]);
    const m = /^shlibs:Depends=(.*)$/m.exec(out);
    if (m && m[1]!.trim()) return { depends: m[1]!.trim(), how: 'dpkg-shlibdeps' };
  } catch {
    // not installed, or no dpkg database for the libraries: fall back
  }
  return { depends: 'libc6', how: 'static list (dpkg-shlibdeps unavailable)' };
}
