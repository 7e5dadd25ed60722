// Helpers shared by the package formats (.deb, FreeBSD port): timestamps, maintainer identity,
// license texts, file walking and SHA256SUMS upkeep. No format-specific knowledge here.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, lutimesSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { UsageError } from '../errors.ts';
import { run, type RunContext } from '../exec.ts';
import { tempFor } from '../outdir.ts';
import path from 'node:path';
import { loadRecipes } from '../recipes/load.ts';
import type { BuildPlan, ComponentName } from '../plan.ts';

/** Used when nothing else names a timestamp: 2026-01-01T00:00:00Z. Fixed, so output stays reproducible. */
export const DEFAULT_EPOCH = 1767225600;

/**
 * The timestamp packaged files and dates carry, in this order: an explicit value, the
 * SOURCE_DATE_EPOCH environment variable (reproducible-builds convention), the build's own
 * epoch recorded in manifest.json, then DEFAULT_EPOCH.
 */
export function sourceDateEpoch(explicit?: number, manifestFile?: string): number {
  if (explicit !== undefined && Number.isInteger(explicit) && explicit >= 0) return explicit;
  const env = process.env.SOURCE_DATE_EPOCH;
  if (env && /^\d+$/.test(env)) return Number(env);
  if (manifestFile && existsSync(manifestFile)) {
    try {
      const m = JSON.parse(readFileSync(manifestFile, 'utf8')) as { sourceDateEpoch?: unknown };
      if (typeof m.sourceDateEpoch === 'number' && Number.isInteger(m.sourceDateEpoch)) return m.sourceDateEpoch;
    } catch {
      // not JSON: ignore, fall through
    }
  }
  return DEFAULT_EPOCH;
}

export interface Maintainer {
  name: string;
  email: string;
}

/**
 * Who the package names as maintainer: NGINX_FORGE_MAINTAINER ("Name <email>"), else Debian's
 * DEBFULLNAME/DEBEMAIL, else a neutral placeholder the user is expected to replace. The value
 * reaches the .deb's control file and changelog and the RPM spec (where `%(…)` runs a command and
 * `%{…}` expands), so a set value must be a plain name and address: anything else is a usage
 * error naming the variable, never ignored in silence nor written.
 */
export function maintainer(explicit?: string): Maintainer {
  const checked = (what: string, s: string): Maintainer => {
    const m = /^\s*(.+?)\s*<([^<>\s]+@[^<>\s]+)>\s*$/.exec(s);
    const problem = !m ? 'is not "Name <email>"' : (nameProblemOf(m[1]!) ?? emailProblemOf(m[2]!));
    if (problem) throw new UsageError(`${what} ${JSON.stringify(s)}: ${problem}`, MAINTAINER_HINT);
    return { name: m![1]!, email: m![2]! };
  };
  if (explicit) return checked('the maintainer', explicit);
  if (process.env.NGINX_FORGE_MAINTAINER) return checked('NGINX_FORGE_MAINTAINER', process.env.NGINX_FORGE_MAINTAINER);
  const email = process.env.DEBEMAIL;
  if (email) {
    const problem = /^[^<>\s]+@[^<>\s]+$/.test(email) ? emailProblemOf(email) : 'is not an e-mail address';
    if (problem) throw new UsageError(`DEBEMAIL ${JSON.stringify(email)}: ${problem}`, MAINTAINER_HINT);
    const name = process.env.DEBFULLNAME || 'nginx-forge';
    const np = nameProblemOf(name);
    if (np) throw new UsageError(`DEBFULLNAME ${JSON.stringify(name)}: ${np}`, MAINTAINER_HINT);
    return { name, email };
  }
  // .invalid (RFC 2606) says plainly that nobody set one; lintian accepts it
  return { name: 'nginx-forge packager', email: 'packager@nginx-forge.invalid' };
}

const MAINTAINER_HINT = 'set NGINX_FORGE_MAINTAINER="Your Name <you@example.org>" (a name of letters, digits, spaces and . , \' ( ) - _; a plain address), or unset it';

/** A maintainer name: letters (any script), digits, spaces and . , ' ( ) - _ only. */
function nameProblemOf(name: string): string | undefined {
  const bad = /[^\p{L}\p{M}\p{N} .,'()_-]/u.exec(name);
  if (!bad) return undefined;
  const c = bad[0];
  const shown = /[\x00-\x1f\x7f]/.test(c) ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}` : c;
  return `the name contains "${shown}"${c === '%' ? ' (the RPM spec would expand it: %(…) runs a command)' : c === '$' || c === '`' ? ' (a shell would expand it)' : ''}; a name has letters, digits, spaces and . , \' ( ) - _`;
}

/** An e-mail address: letters, digits and . _ + - before and after the @. */
function emailProblemOf(email: string): string | undefined {
  return /^[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+$/.test(email) ? undefined : 'the address has characters other than letters, digits and . _ + - (and one @)';
}

export const formatMaintainer = (m: Maintainer) => `${m.name} <${m.email}>`;

/** RFC 2822 date in UTC, as Debian changelogs want: "Thu, 01 Jan 2026 00:00:00 +0000". */
export function rfc2822(epoch: number): string {
  const d = new Date(epoch * 1000);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${p2(d.getUTCDate())} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} +0000`;
}

export const sha256File = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
export const md5File = (f: string) => createHash('md5').update(readFileSync(f)).digest('hex');

/** Every entry below dir (relative paths, '/'-separated, sorted, directories before their contents). */
export function walk(dir: string, rel = ''): { rel: string; kind: 'dir' | 'file' | 'symlink'; size: number; mode: number }[] {
  const out: { rel: string; kind: 'dir' | 'file' | 'symlink'; size: number; mode: number }[] = [];
  for (const name of readdirSync(path.join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const st = lstatSync(path.join(dir, r));
    if (st.isSymbolicLink()) out.push({ rel: r, kind: 'symlink', size: st.size, mode: st.mode & 0o7777 });
    else if (st.isDirectory()) out.push({ rel: r, kind: 'dir', size: 0, mode: st.mode & 0o7777 }, ...walk(dir, r));
    else out.push({ rel: r, kind: 'file', size: st.size, mode: st.mode & 0o7777 });
  }
  return out;
}

/** The license files of one component inside a licenses directory (<dir>/<component>/<file>). */
export function licenseFilesOf(licensesDir: string, name: string): string[] {
  const candidates = [path.join(licensesDir, name), path.join(licensesDir, 'licenses', name)];
  const dir = candidates.find((d) => existsSync(d));
  if (!dir) return [];
  return readdirSync(dir)
    .sort()
    .map((f) => path.join(dir, f))
    .filter((f) => lstatSync(f).isFile());
}

/** "Copyright ..." lines of a license text (those with a year), without comment decoration. */
export function copyrightLines(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^[\s/*#>-]+/, '').replace(/\s+$/, '');
    if (/^(copyright\s*)?(\(c\)|©)?\s*\d{4}/i.test(line) && /^(copyright|\(c\)|©)/i.test(line)) {
      out.push(line.replace(/^copyright\s*/i, '').replace(/\s*all rights reserved\.?$/i, '').trim());
    }
  }
  return [...new Set(out)];
}

/** SPDX expression → Debian copyright-format short name ("BSD-3-Clause WITH PCRE2-exception" → "BSD-3-clause with PCRE2 exception"). */
export function dep5License(spdx: string): string {
  const m = /^(.+?)\s+WITH\s+(.+?)(?:-exception)?$/.exec(spdx.trim());
  const base = (s: string) => s.replace(/^(BSD-[234])-Clause$/, '$1-clause');
  if (m) return `${base(m[1]!)} with ${m[2]!} exception`;
  return spdx
    .split(/\s+(AND|OR)\s+/)
    .map((p) => (p === 'AND' ? 'and' : p === 'OR' ? 'or' : base(p)))
    .join(' ');
}

/** A text as a Debian control-file continuation: one leading space, blank lines as " .". */
export function controlText(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(/\t/g, '    ')
    .replace(/\s+$/, '')
    .split('\n')
    .map((l) => (l.trim() === '' ? ' .' : ` ${l.trimEnd()}`))
    .join('\n');
}

/** Word-wrap for description lines. */
export function wrap(text: string, width = 78): string[] {
  const out: string[] = [];
  let line = '';
  for (const w of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + w.length > width) {
      out.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) out.push(line);
  return out;
}

/** SHA256SUMS in the output directory: one writer for every command (src/outdir.ts). */
export { updateSha256Sums } from '../outdir.ts';

/**
 * DEBIAN/ of a package tree: the control files, data files 0644, maintainer scripts 0755.
 * One writer for the main package (deb.ts) and the module packages (modules.ts).
 */
export function writeDebianDir(pkgRoot: string, files: { data: Record<string, string>; scripts: Record<string, string> }): void {
  const debian = path.join(pkgRoot, 'DEBIAN');
  mkdirSync(debian);
  for (const [kind, mode] of [['data', 0o644], ['scripts', 0o755]] as const) {
    for (const [name, text] of Object.entries(files[kind])) {
      writeFileSync(path.join(debian, name), text);
      chmodSync(path.join(debian, name), mode);
    }
  }
  chmodSync(debian, 0o755);
}

/** A twin's (plan.variants) package name, the same in every format: <main package>-debug for nginx-debug. */
export const twinPackageName = (mainPackage: string, v: { name: string }) => `${mainPackage}-${v.name.replace(/^nginx-/, '')}`;

export interface PackDeb {
  pkgRoot: string;
  pkg: string;
  version: string;
  arch: string;
  /** control fields in order; `Installed-Size` is inserted after `Maintainer` */
  fields: [string, string][];
  /** the Description: synopsis, then the extended lines (unindented) */
  description: string[];
  conffiles?: string[];
  scripts?: Record<string, string>;
  epoch: number;
  outDir: string;
  ctx: RunContext;
}

/**
 * The last steps every .deb of the project shares (the main package, its twins, the modules):
 * modes normalised (0755 for directories and executables, 0644 for the rest), md5sums (conffiles
 * excluded), Installed-Size in KiB as dpkg-gencontrol counts it, DEBIAN/, one timestamp for every
 * file (SOURCE_DATE_EPOCH), dpkg-deb with root owners. Same tree → byte-identical .deb.
 */
export async function packDeb(o: PackDeb): Promise<string> {
  const entries = walk(o.pkgRoot);
  for (const e of entries) {
    if (e.kind === 'symlink') continue;
    chmodSync(path.join(o.pkgRoot, e.rel), e.kind === 'dir' || e.mode & 0o111 ? 0o755 : 0o644);
  }
  const installedSize = entries.reduce((n, e) => n + (e.kind === 'file' ? Math.ceil(e.size / 1024) : 1), 0);
  const conf = new Set((o.conffiles ?? []).map((f) => f.replace(/^\/+/, '')));
  const md5sums = entries.filter((e) => e.kind === 'file' && !conf.has(e.rel)).map((e) => `${md5File(path.join(o.pkgRoot, e.rel))}  ${e.rel}`);
  const fields = o.fields.flatMap(([k, v]): [string, string][] => (k === 'Maintainer' ? [[k, v], ['Installed-Size', String(installedSize)]] : [[k, v]]));
  const control = [...fields.map(([k, v]) => `${k}: ${v}`), `Description: ${o.description[0]}`, ...o.description.slice(1).map((l) => ` ${l}`), ''].join('\n');
  writeDebianDir(o.pkgRoot, {
    data: { control, ...(o.conffiles ? { conffiles: `${o.conffiles.join('\n')}\n` } : {}), md5sums: `${md5sums.join('\n')}\n` },
    scripts: o.scripts ?? {},
  });
  // deepest first so a directory's mtime is not touched afterwards
  const t = new Date(o.epoch * 1000);
  for (const e of [...walk(o.pkgRoot)].reverse()) lutimesSync(path.join(o.pkgRoot, e.rel), t, t);
  lutimesSync(o.pkgRoot, t, t);
  mkdirSync(o.outDir, { recursive: true });
  const deb = path.join(path.resolve(o.outDir), `${o.pkg}_${o.version}_${o.arch}.deb`);
  // a temp name of this process's own: two runs into one --out do not write one file
  const tmp = tempFor(deb);
  try {
    await run({ ...o.ctx, env: { ...process.env, SOURCE_DATE_EPOCH: String(o.epoch) } }, 'dpkg-deb', ['--root-owner-group', '-Zxz', '--build', o.pkgRoot, tmp]);
    renameSync(tmp, deb);
  } finally {
    rmSync(tmp, { force: true });
  }
  return deb;
}
