// Every command-line value is checked here, before any work starts: a bad flag is exit 2 with a
// message naming the flag, what was given, what is expected and what to do. Two kinds:
//   - commander argParsers (run while the command line is parsed): --jobs, --mirror, --set, ...
//   - checkPaths(): the paths a command will write to or read from (--out, --distdir, --recipes,
//     --patches), run from a preAction hook in cli.ts, so `build --out <a file>` fails at once
//     instead of after every stage ran.
import { accessSync, constants, existsSync, mkdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError } from 'commander';
import { UsageError } from '../errors.ts';
import { noteWritePlace } from '../ioerror.ts';
import { distfilesDir, stateDir } from '../paths.ts';
import { pathProblem } from '../recipes/safe.ts';
import { suiteOf } from '../smoke/suites.ts';
import { checkInputDir, checkOutputDir, kind } from '../flags/dirs.ts';

/** Upper bound of --jobs for compiles: beyond this it is a typo (1e9 meant unbounded parallelism). */
export const MAX_BUILD_JOBS = Math.max(64, os.availableParallelism() * 8);
export const MAX_FETCH_JOBS = 64;

/** A whole number from 1 to `max` (commander argParser). */
export function positiveInt(max: number): (v: string) => number {
  return (v: string) => {
    const n = /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`expected a whole number from 1 to ${max}.`);
    return n;
  };
}

/** Why a --mirror value cannot be used (undefined when it can). */
export function mirrorProblem(v: string): string | undefined {
  if (!v.trim()) return 'empty';
  if (v.startsWith('/')) return undefined; // a local directory
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return `"${v}" is neither an http(s):// or file:// URL nor a directory (no such directory here)`;
  }
  if (u.protocol === 'http:' || u.protocol === 'https:') return u.hostname ? undefined : `"${v}" has no host name`;
  if (u.protocol === 'file:') return undefined;
  return `"${v}": the ${u.protocol.replace(/:$/, '')}:// scheme is not supported (use http://, https://, file:// or an absolute path)`;
}

/** --mirror (repeatable, variadic): every value checked. */
export function parseMirror(v: string, prev?: string[]): string[] {
  // a relative path that names an existing directory means that directory
  if (!v.startsWith('/') && !/^[a-z][a-z0-9+.-]*:/i.test(v) && existsSync(v) && statSync(v).isDirectory()) return [...(prev ?? []), path.resolve(v)];
  const p = mirrorProblem(v);
  if (p) throw new InvalidArgumentError(p);
  return [...(prev ?? []), v];
}

/** A number of seconds above 0 and at most `max`, fractions allowed (commander argParser). */
export function positiveSeconds(max: number): (v: string) => number {
  return (v: string) => {
    const n = /^\s*\d+(?:\.\d+)?\s*$/.test(v) ? Number(v) : NaN;
    if (!(n > 0 && n <= max)) throw new InvalidArgumentError(`expected a number of seconds above 0 and at most ${max}, e.g. 20 or 2.5.`);
    return n;
  };
}

/** audit --archive (repeatable, variadic): an http(s):// URL with a host, as the audit reads it over HTTP. */
export function parseArchive(v: string, prev?: string[]): string[] {
  let u: URL | undefined;
  try {
    u = new URL(v);
  } catch {
    throw new InvalidArgumentError(`"${v}" is not an http(s):// URL (the base of a Debian-style archive, with dists/ and pool/ below it)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidArgumentError(`the ${u.protocol.replace(/:$/, '')}:// scheme is not supported (use http:// or https://)`);
  if (!u.hostname) throw new InvalidArgumentError(`"${v}" has no host name`);
  return [...(prev ?? []), v];
}

/** smoke --ciphers: comma-separated suite names, none empty, each one the smoke test can negotiate. */
export function parseCiphers(v: string): string {
  const names = v.split(',').map((n) => n.trim());
  if (names.some((n) => !n)) {
    throw new InvalidArgumentError('expected comma-separated cipher suite names with none empty, e.g. TLS_AES_128_GCM_SHA256,ECDHE-ECDSA-AES128-GCM-SHA256 (leave --ciphers out for the full matrix).');
  }
  for (const n of names) {
    try {
      suiteOf(n);
    } catch (e) {
      throw new InvalidArgumentError(`${(e as Error).message.replace(/^--ciphers: /, '')} (${(e as UsageError).hint ?? ''})`);
    }
  }
  return v;
}

/** test --files (variadic): globs on the suite's file names; a directory part would match nothing (or reach outside the suite). */
export function parseTestGlob(v: string, prev?: string[]): string[] {
  const g = v.replace(/^\.\//, '');
  if (!g.trim() || g.includes('/')) throw new InvalidArgumentError("each is a glob on a test file name, e.g. 'ssl*.t' (no directories).");
  return [...(prev ?? []), v];
}

/** --prefix: the install-path rule (src/recipes/safe.ts) the profile's nginx.prefix follows. */
export function parsePrefix(v: string): string {
  const p = pathProblem(v, '/usr/share/nginx');
  if (p) throw new InvalidArgumentError(`${p}.`);
  return v;
}

/** --set name=version (repeatable): well-formed, and one component at most once. */
export function parseSet(v: string, prev?: string[]): string[] {
  const m = /^([A-Za-z0-9-]+)=(\S+)$/.exec(v);
  if (!m) throw new InvalidArgumentError(`"${v}": expected <component>=<version>, e.g. --set openssl=3.5.9`);
  const earlier = (prev ?? []).find((p) => p.split('=')[0] === m[1]);
  if (earlier) throw new InvalidArgumentError(`"${v}": ${m[1]} is already set ("${earlier}"); give one version per component`);
  return [...(prev ?? []), v];
}

/** The path checks of one command, from its parsed options (cli.ts calls this before the action). */
export function checkPaths(command: string, o: Record<string, unknown>): void {
  // an empty path would silently mean the current directory (--out) or the default (--distdir)
  for (const flag of ['out', 'distdir', 'recipes', 'patches', 'results', 'readPatches'] as const) {
    if (o[flag] === '') throw new UsageError(`--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} "": an empty path`, 'give a directory (or file) path, or leave the option out for its default');
  }
  if (typeof o.readPatches === 'string') {
    const f = path.resolve(o.readPatches);
    if (!existsSync(f) || !statSync(f).isFile()) throw new UsageError(`--read-patches ${o.readPatches}: no such file`, 'give a Debian source tarball (<package>_<version>.debian.tar.xz) from the distfiles store or the archive');
  }
  if (typeof o.recipes === 'string') checkInputDir('--recipes', path.resolve(o.recipes));
  if (typeof o.patches === 'string') checkInputDir('--patches', path.resolve(o.patches));
  if (['build', 'package', 'schema'].includes(command) && typeof o.out === 'string') {
    const out = path.resolve(o.out);
    if (command !== 'schema') checkOutsideState('--out', out);
    checkOutputDir('--out', out, { create: false });
    noteWritePlace('--out', out);
  }
  if (command === 'bench' && typeof o.results === 'string') checkOutputDir('--results', path.resolve(o.results), { create: false });
  if (command === 'gc') {
    // gc only reads and removes: a store it is told about must exist, and is never created
    if (typeof o.distdir === 'string') checkInputDir('--distdir', path.resolve(o.distdir));
  } else if (['build', 'fetch', 'package'].includes(command) || typeof o.distdir === 'string') {
    const given = typeof o.distdir === 'string';
    const dir = distfilesDir(given ? (o.distdir as string) : undefined);
    const flag = given ? '--distdir' : process.env.NGINX_FORGE_DISTDIR ? 'NGINX_FORGE_DISTDIR' : 'the distfiles store';
    if (given) noteWritePlace('--distdir', dir);
    // offline, a read-only store is fine (nothing is written when every file is there)
    if (o.offline) {
      if (existsSync(dir)) checkOutputDir(flag, dir, { writable: false });
    } else checkOutputDir(flag, dir);
  }
  // build, package, smoke and bench write stages/, work/, logs/ and vm/ there
  if (['build', 'package', 'smoke', 'bench'].includes(command)) checkOutputDir(stateLabel(), stateDir());
  // gc reads (and removes in) it: absent is fine (nothing to do), a file is not
  if (command === 'gc') {
    const problem = stateDirProblem();
    if (problem) throw new UsageError(problem, `set NGINX_FORGE_HOME to a directory (or unset it for ${path.join('$XDG_CACHE_HOME', 'nginx-forge')})`);
  }
}

const stateLabel = () => (process.env.NGINX_FORGE_HOME ? 'NGINX_FORGE_HOME' : 'the state directory');

/** Why the state directory cannot be one (it is a file, or below one); undefined when it can (absent is fine). */
export function stateDirProblem(): string | undefined {
  const dir = stateDir();
  const k = kind(dir);
  if (k === 'file' || k === 'other') return `${stateLabel()} ${dir}: is a ${k === 'file' ? 'file' : 'special file'}, not a directory`;
  if (k === 'absent') {
    let up = path.dirname(dir);
    while (kind(up) === 'absent' && path.dirname(up) !== up) up = path.dirname(up);
    if (kind(up) !== 'dir') return `${stateLabel()} ${dir}: cannot be a directory: ${up} is a file`;
  }
  return undefined;
}

/** The real path of a path that may not exist yet (its nearest existing parent resolved). */
function realish(p: string): string {
  let up = path.resolve(p);
  const rest: string[] = [];
  while (!existsSync(up) && path.dirname(up) !== up) {
    rest.unshift(path.basename(up));
    up = path.dirname(up);
  }
  try {
    return path.join(realpathSync(up), ...rest);
  } catch {
    return path.resolve(p);
  }
}

/**
 * An output directory inside the state directory would land in the stage cache (and be recorded
 * into an entry) or in work/ (deleted as scratch), or be removed by gc: refuse it.
 */
function checkOutsideState(flag: string, dir: string): void {
  const state = realish(stateDir());
  const d = realish(dir);
  if (d === state || d.startsWith(`${state}${path.sep}`)) {
    throw new UsageError(
      `${flag} ${dir}: is inside ${stateLabel()} ${stateDir()}`,
      `the state directory holds the stage cache and scratch trees, which builds and \`nginx-forge gc\` replace and delete: give ${flag} a directory outside it (the default is ./dist)`,
    );
  }
}

/** "30d", "12h", "90m", "45s", "0" → milliseconds (commander argParser). */
export function parseDuration(v: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(d|h|m|s)?\s*$/i.exec(v);
  if (!m || (m[2] === undefined && Number(m[1]) !== 0)) throw new InvalidArgumentError('expected a duration like 30d, 12h, 90m or 0.');
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 }[(m[2] ?? 's').toLowerCase() as 'd' | 'h' | 'm' | 's'];
  return Math.round(Number(m[1]) * unit);
}

/** "2G", "500M", "1.5GiB", "0" → bytes (commander argParser). */
export function parseByteSize(v: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(v);
  if (!m) throw new InvalidArgumentError('expected a size like 2G, 500M or 0.');
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.round(Number(m[1]) * mult);
}
