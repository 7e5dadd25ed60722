// A throwaway Debian root that really runs dpkg: used to prove a .deb installs (maintainer
// scripts included) and that the installed nginx works.
//
// The base is `debootstrap --variant=minbase <host suite>` from the host's own apt mirror (read
// from its apt sources at run time, never hard-coded). It is made once and kept in the stage
// cache (<state>/stages/chroot_<distro>-<suite>-<arch>-minbase/<key>/root), keyed by suite,
// mirror, architecture and extra packages; every use works on a copy (cp -a, well under a second).
// A root of another architecture (arm64 on an amd64 host) is made by `debootstrap --foreign`,
// its second stage run in the chroot under qemu-user: the kernel's binfmt_misc must hand that
// architecture's ELF files to qemu-user-static with the F flag (the emulator opened when it is
// registered, so it need not be inside the root). Needs root (debootstrap, chroot).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../tmpdirs.ts';
import { StageCache } from '../cache/index.ts';
import { removeTree, unmountUnder } from '../mounts.ts';
import { ForgeError, ExitCode } from '../errors.ts';
import { run, type RunContext } from '../exec.ts';
import { aptSources } from '../fetch/apt.ts';
import { stagesDir } from '../paths.ts';
import { hashOf } from '../hash.ts';
import { TARGETS, type Target } from '../target.ts';

export interface HostSuite {
  distro: string;
  suite: string;
  mirror: string;
}

export function osRelease(root = '/'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of ['etc/os-release', 'usr/lib/os-release']) {
    const file = path.join(root, f);
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line);
      if (m) out[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
    }
    break;
  }
  return out;
}

/** The host's distribution, release codename, and the mirror its apt sources use for that release. */
export function hostSuite(root = '/'): HostSuite {
  const rel = osRelease(root);
  const suite = rel.VERSION_CODENAME;
  if (!suite) throw new ForgeError('cannot tell the host\'s release codename (no VERSION_CODENAME in /etc/os-release)');
  for (const s of aptSources(root)) {
    if (!s.types.includes('deb') || !s.suites.includes(suite)) continue;
    const uri = s.uris.find((u) => /^https?:\/\//.test(u));
    if (uri) return { distro: rel.ID ?? 'debian', suite, mirror: uri.replace(/\/+$/, '') };
  }
  throw new ForgeError(`no apt source of this host serves "${suite}"`, {
    hint: 'debootstrap needs the host release\'s mirror; check /etc/apt/sources.list(.d)',
  });
}

export interface MinbaseRoot {
  /** the cached root (do not modify it: work on copyRoot()) */
  dir: string;
  suite: HostSuite;
  /** how long debootstrap took when the root was made */
  seconds: number;
  /** true when this call found it in the cache */
  cached: boolean;
}

export interface RootOptions {
  /** Debian architecture of the root (default: the host's, dpkg --print-architecture) */
  arch?: string;
  /** packages added to minbase (debootstrap --include), e.g. ["curl", "ca-certificates"] */
  include?: string[];
}

const BINFMT = '/proc/sys/fs/binfmt_misc';

/**
 * What running `arch`'s binaries in a chroot on this host needs, or undefined when it is ready:
 * qemu-user-static for it, registered with binfmt_misc with the F (fix binary) flag.
 */
export function foreignArchProblem(arch: string, binfmt = BINFMT): { message: string; hint: string } | undefined {
  const t = Object.values(TARGETS).find((x) => x.debArch === arch);
  if (!t) return { message: `no target of nginx-forge has the Debian architecture ${arch}`, hint: `known: ${Object.values(TARGETS).map((x) => x.debArch).join(', ')}` };
  const name = t.qemu.replace(/-static$/, '');
  const entry = path.join(binfmt, name);
  const setup = `apt-get install qemu-user-static binfmt-support; mount -t binfmt_misc binfmt_misc ${binfmt} (when it is not mounted); update-binfmts --enable ${name}`;
  if (!existsSync(path.join(binfmt, 'status'))) return { message: `binfmt_misc is not mounted on ${binfmt}: ${arch} binaries cannot run in a chroot on this host`, hint: setup };
  if (!existsSync(entry)) return { message: `binfmt_misc has no ${name} entry: ${arch} binaries cannot run in a chroot on this host`, hint: setup };
  const reg = readFileSync(entry, 'utf8');
  if (!/^enabled$/m.test(reg)) return { message: `binfmt_misc's ${name} entry (${entry}) is disabled`, hint: `update-binfmts --enable ${name}` };
  const flags = /^flags:\s*(\S*)/m.exec(reg)?.[1] ?? '';
  if (!flags.includes('F')) {
    return { message: `binfmt_misc's ${name} entry has flags "${flags}", without F: the emulator would have to be inside the chroot`, hint: `register it with the F flag (Debian's qemu-user-static does: update-binfmts --enable ${name})` };
  }
  return undefined;
}

/** What the smoke test's VM of another machine needs in its guest root: the probe's client and a static busybox for the initramfs. */
export const GUEST_ROOT_PACKAGES = ['busybox-static', 'ca-certificates', 'curl'];

/** The smoke test's guest root for a VM of `target`'s machine: a cached minbase root of its architecture. */
export async function smokeGuestRoot(target: Target, log: string, signal?: AbortSignal): Promise<string> {
  return (await minbaseRoot(log, signal, { arch: target.debArch, include: GUEST_ROOT_PACKAGES })).dir;
}

/**
 * The cached minbase root of the host's suite (of the host's architecture, or `opts.arch`, with
 * `opts.include` added); made by debootstrap on first use.
 */
export async function minbaseRoot(log: string, signal?: AbortSignal, opts: RootOptions = {}): Promise<MinbaseRoot> {
  if (process.getuid?.() !== 0) throw new ForgeError('a throwaway Debian root needs root (debootstrap, chroot)', { exitCode: ExitCode.missingTool });
  const suite = hostSuite();
  const hostArch = (await run({ component: 'chroot', stage: 'debootstrap', log }, 'dpkg', ['--print-architecture'])).trim();
  const arch = opts.arch ?? hostArch;
  const include = [...new Set(opts.include ?? [])].sort();
  const foreign = arch !== hostArch;
  if (foreign) {
    const p = foreignArchProblem(arch);
    if (p) throw new ForgeError(`chroot: a ${arch} root on this ${hostArch} host: ${p.message}`, { exitCode: ExitCode.missingTool, hint: p.hint });
  }
  const cache = new StageCache(stagesDir());
  cache.onDamaged = (line) => process.stderr.write(`${line}\n`);
  const id = `chroot:${suite.distro}-${suite.suite}-${arch}-minbase`;
  // the key of a plain host-architecture root is what it always was (cached roots stay valid)
  const key = hashOf({ suite, arch, variant: 'minbase', v: 1, ...(include.length ? { include } : {}) });
  const hit = cache.lookup(id, key);
  if (hit) {
    const meta = cache.meta(id, key)!;
    return { dir: path.join(hit, 'root'), suite, seconds: Number(meta.seconds), cached: true };
  }
  const ctx: RunContext = { component: 'chroot', stage: 'debootstrap', log, signal, timeoutMs: 30 * 60_000 };
  const { dir } = await cache.produce(id, key, async (tmp) => {
    const root = path.join(tmp, 'root');
    const args = ['--variant=minbase', `--arch=${arch}`, ...(include.length ? [`--include=${include.join(',')}`] : [])];
    try {
      if (foreign) {
        await run(ctx, 'debootstrap', ['--foreign', ...args, suite.suite, root, suite.mirror]);
        await run({ ...ctx, stage: 'debootstrap --second-stage' }, 'chroot', [root, '/debootstrap/debootstrap', '--second-stage']);
      } else {
        await run(ctx, 'debootstrap', [...args, suite.suite, root, suite.mirror]);
      }
    } finally {
      // debootstrap unmounts proc and sys when it ends well; an entry must never record a mount
      unmountUnder(tmp);
    }
    return { suite: suite.suite, distro: suite.distro, arch, ...(include.length ? { include: include.join(',') } : {}) };
  }, { signal });
  const meta = cache.meta(id, key)!;
  return { dir: path.join(dir, 'root'), suite, seconds: Number(meta.seconds), cached: false };
}

/** A private copy of a root; remove it with removeRoot(). */
export async function copyRoot(base: string, log: string): Promise<string> {
  const dir = tempDir('chroot');
  await run({ component: 'chroot', stage: 'copy', log }, 'cp', ['-a', `${base}/.`, dir]);
  return dir;
}

export function removeRoot(dir: string): void {
  removeTree(dir);
}

/** Run a command inside the root (chroot), with a clean, predictable environment. */
export async function inChroot(root: string, log: string, cmd: string, args: string[] = []): Promise<string> {
  return run(
    {
      component: 'chroot',
      stage: cmd,
      log,
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive', HOME: '/root' },
    },
    'chroot',
    [root, cmd, ...args],
    { extendEnv: false },
  );
}

/** A shell command inside the root; stdout and stderr together (nginx -V writes to stderr). */
export async function shInChroot(root: string, log: string, script: string): Promise<string> {
  return inChroot(root, log, '/bin/sh', ['-c', `exec 2>&1; ${script}`]);
}
