// A throwaway Debian root that really runs dpkg: used to prove a .deb installs (maintainer
// scripts included) and that the installed nginx works.
//
// The base is `debootstrap --variant=minbase <host suite>` from the host's own apt mirror (read
// from its apt sources at run time, never hard-coded). It is made once and kept in the stage
// cache (<state>/stages/chroot_<distro>-<suite>-<arch>-minbase/<key>/root), keyed by suite,
// mirror and architecture; every use works on a copy (cp -a, well under a second).
// Needs root (debootstrap, chroot).
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

/** The cached minbase root of the host's suite; made by debootstrap on first use. */
export async function minbaseRoot(log: string, signal?: AbortSignal): Promise<MinbaseRoot> {
  if (process.getuid?.() !== 0) throw new ForgeError('a throwaway Debian root needs root (debootstrap, chroot)', { exitCode: ExitCode.missingTool });
  const suite = hostSuite();
  const arch = (await run({ component: 'chroot', stage: 'debootstrap', log }, 'dpkg', ['--print-architecture'])).trim();
  const cache = new StageCache(stagesDir());
  cache.onDamaged = (line) => process.stderr.write(`${line}\n`);
  const id = `chroot:${suite.distro}-${suite.suite}-${arch}-minbase`;
  const key = hashOf({ suite, arch, variant: 'minbase', v: 1 });
  const hit = cache.lookup(id, key);
  if (hit) {
    const meta = cache.meta(id, key)!;
    return { dir: path.join(hit, 'root'), suite, seconds: Number(meta.seconds), cached: true };
  }
  const ctx: RunContext = { component: 'chroot', stage: 'debootstrap', log, signal, timeoutMs: 30 * 60_000 };
  const { dir } = await cache.produce(id, key, async (tmp) => {
    await run(ctx, 'debootstrap', ['--variant=minbase', `--arch=${arch}`, suite.suite, path.join(tmp, 'root'), suite.mirror]);
    // debootstrap unmounts proc and sys when it ends well; an entry must never record a mount
    unmountUnder(tmp);
    return { suite: suite.suite, distro: suite.distro, arch };
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
