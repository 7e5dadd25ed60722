// The VM's kernel: the pinned Debian kernel package (recipes/vm/kernel.json), fetched and
// sha256-verified through the distfiles store, unpacked with `dpkg-deb -x` into
// <state>/vm/kernels/<sha256>/ (temp dir, then rename); or the user's --kernel + --modules.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, mkdtempSync } from 'node:fs';
import path from 'node:path';
import { ExitCode, ForgeError, RecipeError, UsageError } from '../../errors.ts';
import { run, type RunContext } from '../../exec.ts';
import { fetchArtifact } from '../../fetch/index.ts';
import { distfilesDir, stateDir } from '../../paths.ts';
import { BUILTIN_RECIPES, displayPath, zodProblems } from '../../recipes/load.ts';
import { FileArtifact } from '../../recipes/schema.ts';
import type { Target } from '../../target.ts';
import { vmKernelRecipe } from '../../recipes/vmkernel.ts';

export interface KernelTree {
  /** bzImage */
  vmlinuz: string;
  /** lib/modules/<release> */
  modulesDir: string;
  release: string;
  /** given by the user (--kernel/--modules) rather than the pinned package */
  custom: boolean;
  /** e.g. the .deb file name */
  source: string;
}

export const KERNEL_RECIPE = path.join(BUILTIN_RECIPES, 'vm', 'kernel.json');
/** The pinned kernel of a target's VM (recipes/vm/kernel.json is the x86-64 one). */
export const kernelRecipeOf = (t: Target): string => path.join(BUILTIN_RECIPES, 'vm', vmKernelRecipe(t));

export function loadKernelArtifact(file = KERNEL_RECIPE): FileArtifact {
  const display = displayPath(file);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new RecipeError([{ file: display, path: '', message: `cannot read: ${(e as Error).message}` }]);
  }
  const r = FileArtifact.safeParse(data);
  if (!r.success) throw new RecipeError(zodProblems(display, r.error));
  return r.data;
}

export const kernelsDir = () => path.join(stateDir(), 'vm', 'kernels');

/** The one lib/modules/<release> and boot/vmlinuz-<release> inside an unpacked kernel package. */
export function findKernelIn(root: string): { vmlinuz: string; modulesDir: string; release: string } {
  const modRoot = [path.join(root, 'lib/modules'), path.join(root, 'usr/lib/modules')].find((d) => existsSync(d));
  const releases = modRoot ? readdirSync(modRoot).filter((d) => statSync(path.join(modRoot, d)).isDirectory()) : [];
  if (!modRoot || releases.length !== 1) {
    throw new ForgeError(`unpacked kernel package ${root} has ${releases.length} module trees (expected exactly one lib/modules/<release>)`, { exitCode: ExitCode.smoke });
  }
  const release = releases[0]!;
  const vmlinuz = [path.join(root, 'boot', `vmlinuz-${release}`), path.join(root, 'usr/lib/modules', release, 'vmlinuz')].find((f) => existsSync(f));
  if (!vmlinuz) throw new ForgeError(`unpacked kernel package ${root} has no boot/vmlinuz-${release}`, { exitCode: ExitCode.smoke });
  return { vmlinuz, modulesDir: path.join(modRoot, release), release };
}

/** Fetch + verify + unpack the pinned kernel (once; later runs reuse the unpacked tree). */
export async function pinnedKernel(opts: { target: Target; distdir?: string; signal?: AbortSignal; onLog?: (l: string) => void; ctx: RunContext }): Promise<KernelTree> {
  const a = loadKernelArtifact(kernelRecipeOf(opts.target));
  const dest = path.join(kernelsDir(), a.sha256);
  const done = path.join(dest, '.nginx-forge-unpacked');
  if (!existsSync(done)) {
    const deb = await fetchArtifact(a, { distdir: distfilesDir(opts.distdir), signal: opts.signal, onLog: opts.onLog });
    opts.onLog?.(`unpacking ${a.file} into ${dest}`);
    mkdirSync(kernelsDir(), { recursive: true });
    const tmp = mkdtempSync(path.join(kernelsDir(), `.unpack-${a.sha256.slice(0, 12)}-`));
    try {
      await run(opts.ctx, 'dpkg-deb', ['-x', deb, tmp]);
      findKernelIn(tmp); // fail before committing a tree that is not a kernel package
      writeFileSync(path.join(tmp, '.nginx-forge-unpacked'), `${a.file}\n${a.sha256}\n`);
      try {
        renameSync(tmp, dest);
      } catch (e) {
        // another run committed it first: use theirs
        if (!existsSync(done)) throw e;
        rmSync(tmp, { recursive: true, force: true });
      }
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  }
  return { ...findKernelIn(dest), custom: false, source: a.file };
}

export function customKernel(kernel: string, modules: string | undefined): KernelTree {
  if (!modules) {
    throw new UsageError('--kernel needs --modules <dir> (the lib/modules/<release> directory of that kernel)', 'the VM loads virtio, 9p, tls and crypto modules from there');
  }
  if (!existsSync(kernel) || !statSync(kernel).isFile()) throw new UsageError(`--kernel ${kernel}: no such file`);
  if (!existsSync(modules) || !statSync(modules).isDirectory()) throw new UsageError(`--modules ${modules}: no such directory`);
  const modulesDir = path.resolve(modules);
  if (!existsSync(path.join(modulesDir, 'kernel'))) {
    throw new UsageError(`--modules ${modules}: not a lib/modules/<release> directory (no kernel/ inside)`);
  }
  return { vmlinuz: path.resolve(kernel), modulesDir, release: path.basename(modulesDir), custom: true, source: path.resolve(kernel) };
}
