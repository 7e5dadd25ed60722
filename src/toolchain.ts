// Facts about the build host that change what a compiler produces; they feed the stage keys.
// A cross build adds its target and the cross compiler's identity (its `gcc -v` version line);
// a native build's facts are the same as before targets existed, so its keys are too.
import { execaSync } from 'execa';
import os from 'node:os';
import { isCross, type Target } from './target.ts';

function firstLine(cmd: string, args: string[]): string {
  try {
    const r = execaSync(cmd, args, { reject: false, timeout: 10_000 });
    return r.exitCode === 0 ? String(r.stdout).split('\n')[0]!.trim() : 'missing';
  } catch {
    return 'missing';
  }
}

/** The cross compiler's identity: the version line of `<triple>-gcc -v` ("missing" when it is not installed). */
export function crossCompiler(t: Target): string {
  try {
    // gcc -v prints to stderr: "gcc version 12.2.0 (Debian 12.2.0-14+deb12u1)"
    const r = execaSync(`${t.triple}-gcc`, ['-v'], { reject: false, timeout: 10_000 });
    return r.exitCode === 0 ? (String(r.stderr).split('\n').find((l) => l.startsWith('gcc version ')) ?? 'missing').trim() : 'missing';
  } catch {
    return 'missing';
  }
}

export function toolchainFacts(target?: Target): Record<string, string> {
  const cross: Record<string, string> = target && isCross(target) ? { target: target.triple, crossCc: crossCompiler(target) } : {};
  return {
    cc: firstLine(process.env.CC ?? 'cc', ['--version']),
    make: firstLine('make', ['--version']),
    cmake: firstLine('cmake', ['--version']),
    arch: os.arch(),
    platform: os.platform(),
    ...cross,
  };
}

/**
 * The version lines of the bootstrap tools named (recipe `versions.<v>.bootstrap.run`, e.g.
 * autoconf's "autoconf (GNU Autoconf) 2.71"; "missing" when it is not installed). They feed only
 * the key of a library that bootstraps (resolve.ts), so a host without the tool keeps every other key.
 */
export function bootstrapToolFacts(tools: Iterable<string>): Record<string, string> {
  return Object.fromEntries([...new Set(tools)].sort().map((t) => [t, firstLine(t, ['--version'])]));
}
