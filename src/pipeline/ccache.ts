// --ccache: compile through ccache's masquerade directory (so CC stays "cc" and nothing about
// the compiler command leaks into the binaries), pass CCACHE_* through (CCACHE_DIR,
// CCACHE_REMOTE_STORAGE, ... so many runners can share one cache), and measure the hit rate
// of this build as the difference of `ccache --print-stats` before and after.
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { ExitCode, ForgeError } from '../errors.ts';

const MASQUERADE_DIRS = ['/usr/lib/ccache', '/usr/lib/ccache/bin', '/usr/local/libexec/ccache'];

export interface CcacheStats {
  hits: number;
  misses: number;
  /** hits / (hits + misses), 0 when nothing was compiled */
  hitRate: number;
}

export function masqueradeDir(): string | undefined {
  return MASQUERADE_DIRS.find((d) => existsSync(`${d}/cc`));
}

/** Parse `ccache --print-stats` (tab-separated key value lines). */
export function parseStats(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+)\t(\d+)$/.exec(line.trim());
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

export function statsDelta(before: Record<string, number>, after: Record<string, number>): CcacheStats {
  const d = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
  const hits = d('direct_cache_hit') + d('preprocessed_cache_hit');
  const misses = d('cache_miss');
  return { hits, misses, hitRate: hits + misses ? hits / (hits + misses) : 0 };
}

export async function readStats(env: Record<string, string> = {}): Promise<Record<string, number>> {
  const r = await execa('ccache', ['--print-stats'], { reject: false, env });
  return r.exitCode === 0 ? parseStats(String(r.stdout)) : {};
}

/** Environment additions for compiling through ccache inside workspace `ws`. */
export function ccacheEnv(ws: string): Record<string, string> {
  const dir = masqueradeDir();
  if (!dir) {
    throw new ForgeError('--ccache: ccache is not installed (no masquerade directory such as /usr/lib/ccache/cc)', {
      exitCode: ExitCode.missingTool,
      hint: 'apt-get install ccache (apk add ccache, pkg install ccache), or drop --ccache',
    });
  }
  return {
    PATH: `${dir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    CCACHE_BASEDIR: ws,
    CCACHE_NOHASHDIR: '1',
  };
}
