// The one rule for every path and name that reaches a shell, nginx's configure, a systemd unit, a
// maintainer script, an RPM spec or a FreeBSD port Makefile. Profile fields, recipe fields and
// command-line flags are checked with it (the zod schema, the cross-field checks in resolve.ts, the
// flag validators), and the package generators check the plan with it once more before they write
// anything (assertSafePlan), so a value that slipped past is refused, never pasted.
//
//   path  absolute, normalised (no "", "." or ".." component, no trailing "/"), no control
//         character, only SAFE_CHARS in a component: nothing a shell, make, systemd, rpm's macro
//         expansion (%) or logrotate would read as syntax (a newline in pid-path added an
//         ExecStartPre= line to nginx.service; "'" or "$(" in --prefix reached nginx's Makefile)
//   name  component, profile, variant and patch-set names: lowercase letters, digits and "-",
//         starting with a letter or digit (they become file, unit and package names)
//   env   a shell identifier (build.env keys are written as KEY="value" into shell lines)
//   option  one configure or compiler word of a profile (components.*.options, nginx.ccOpt/ldOpt)
//   arg   recipe arguments (build.args, targets, nginx.configureArgs, ...): no control character
//   owned directory  a directory a package creates, owns, rotates or removes on purge (log and temp
//         directories, the configuration directory, the modules path) is the product's own, never
//         a system directory: "error-log-path": "/var/log/nginx-error.log" made the .deb's
//         postrm `rm -rf /var/log` and logrotate take over every /var/log/*.log
// Pure: no I/O, no zod (the CLI loads it at start).
import path from 'node:path';
import { UsageError } from '../errors.ts';
import type { BuildPlan, PlanInstall } from '../plan.ts';

/** Characters of a path component: letters, digits, ".", "_", "+", "~" and "-". */
export const SAFE_CHARS = '-A-Za-z0-9._+~';
const COMPONENT = `(?!\\.{1,2}(?:/|$))[${SAFE_CHARS}]+`;

/** An absolute, normalised path of safe components ("/" itself included), for the JSON Schema too. */
export const SAFE_ABS_PATH = new RegExp(`^/(?:${COMPONENT}(?:/${COMPONENT})*)?$`);
/** A relative, normalised path of safe components (inside a tree nginx-forge owns). */
export const SAFE_REL_PATH = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
/** A single directory or file name of safe characters, never "." or "..". */
export const SAFE_FILE_NAME = new RegExp(`^${COMPONENT}$`);

/** Component, profile, variant and patch-set names. */
export const SAFE_NAME = /^[a-z0-9][a-z0-9-]*$/;
export const SAFE_NAME_MESSAGE = 'must be lowercase letters, digits and "-", starting with a letter or digit';

/** An environment variable name that a shell takes as one (KEY="value", -u KEY). */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One configure or compiler option (a component's options, nginx.ccOpt/ldOpt): no spaces, no shell syntax. */
export const OPTION_WORD = /^[A-Za-z0-9_.,:=+/@-]+$/;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

const show = (v: string) => JSON.stringify(v);
const firstBad = (v: string, ok: RegExp) => [...v].find((c) => !ok.test(c));

/** Why `v` holds a control character (newline, tab, NUL, ...), or undefined. */
export function controlProblem(v: string): string | undefined {
  const m = CONTROL.exec(v);
  if (!m) return undefined;
  const name = m[0] === '\n' ? 'a newline' : m[0] === '\t' ? 'a tab' : m[0] === '\0' ? 'a NUL byte' : `the control character U+${m[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}`;
  return `${show(v)} contains ${name} (position ${m.index + 1}): it would end the line it is written into (a unit, a script, a Makefile)`;
}

function componentsProblem(v: string, parts: string[], normalised: string): string | undefined {
  if (parts.includes('..')) return `${show(v)} contains "..": a path must not climb out of where it is installed; write it without "." or ".." components`;
  if (v !== normalised) return `${show(v)} is not normalised: write ${show(normalised)}`;
  const bad = firstBad(v, new RegExp(`[${SAFE_CHARS}/]`));
  if (bad !== undefined) return `${show(v)} contains ${show(bad)}: only letters, digits, "/", ".", "_", "+", "~" and "-" are allowed (the path is written into shell scripts, units and Makefiles unquoted)`;
  return undefined;
}

/**
 * The path rule: why `v` is not an absolute, normalised, safe path (undefined when it is).
 * `example` completes the message for a relative path.
 */
export function pathProblem(v: unknown, example = '/etc/nginx/nginx.conf'): string | undefined {
  if (typeof v !== 'string') return 'must be a string: an absolute path';
  if (v === '') return `must not be empty: an absolute path, e.g. ${show(example)}`;
  const c = controlProblem(v);
  if (c) return c;
  const parts = v.split('/');
  if (!v.startsWith('/')) {
    if (parts.includes('..')) return componentsProblem(v, parts, v);
    return `${show(v)} is relative: it must be an absolute path, e.g. ${show(example)}`;
  }
  const normalised = v === '/' ? '/' : path.posix.normalize(v).replace(/\/+$/, '') || '/';
  return componentsProblem(v, parts, normalised);
}

/** Why `v` is not a normalised, safe relative path inside `where` (undefined when it is). */
export function relPathProblem(v: unknown, where: string): string | undefined {
  if (typeof v !== 'string') return undefined;
  if (v === '') return `must not be empty (a path inside ${where})`;
  const c = controlProblem(v);
  if (c) return c;
  if (v.startsWith('/')) return `${show(v)} is an absolute path; it must be relative to ${where}`;
  if (v.includes('\\')) return `${show(v)} contains "\\"; use "/" between directories`;
  const parts = v.split('/');
  if (parts.includes('..')) return `${show(v)} contains "..": it must stay inside ${where}`;
  const norm = parts.filter((p) => p !== '' && p !== '.').join('/');
  if (!norm) return `${show(v)} names ${where} itself, not a path inside it`;
  if (norm !== v) return `${show(v)} is not normalized: write ${show(norm)}`;
  const bad = firstBad(v, new RegExp(`[${SAFE_CHARS}/]`));
  if (bad !== undefined) return `${show(v)} contains ${show(bad)}: only letters, digits, "/", ".", "_", "+", "~" and "-" are allowed (it reaches shell lines of the FreeBSD port)`;
  return undefined;
}

/** Why `v` is not a safe single file or directory name (undefined when it is). */
export function fileNameProblem(v: unknown, what = 'a plain directory name'): string | undefined {
  if (typeof v !== 'string') return undefined;
  const c = controlProblem(v);
  if (c) return c;
  if (v.includes('/')) return `${show(v)} must be a single directory name (no "/")`;
  if (v === '' || v === '.' || v === '..') return `${show(v)} must be ${what}`;
  const bad = firstBad(v, new RegExp(`[${SAFE_CHARS}]`));
  if (bad !== undefined) return `${show(v)} contains ${show(bad)}: ${what} has only letters, digits, ".", "_", "+", "~" and "-" (it reaches shell lines of the FreeBSD port)`;
  return undefined;
}

/** Why `v` is not a safe name (component, profile, variant, patch set). */
export function nameProblem(v: unknown): string | undefined {
  if (typeof v !== 'string' || SAFE_NAME.test(v)) return undefined;
  const c = controlProblem(v);
  return c ?? `${show(v)} ${SAFE_NAME_MESSAGE}`;
}

/** Why `v` is not an environment variable name (build.env, verify.nginxT.env keys). */
export function envNameProblem(v: unknown): string | undefined {
  if (typeof v !== 'string' || ENV_NAME.test(v)) return undefined;
  return `${show(v)} is not an environment variable name: letters, digits and "_", not starting with a digit (it is written as ${v.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=\d)/, '_') || 'NAME'}="value" into shell lines)`;
}

/** Why `v` is not one configure or compiler option (no spaces, no shell syntax). */
export function optionProblem(v: unknown): string | undefined {
  if (typeof v !== 'string' || OPTION_WORD.test(v)) return undefined;
  if (v === '') return 'must not be empty';
  const c = controlProblem(v);
  if (c) return c;
  if (/\s/.test(v)) return 'one option per entry, without spaces';
  const bad = firstBad(v, /[A-Za-z0-9_.,:=+/@-]/);
  return `${show(v)} contains ${show(bad!)}: an option has only letters, digits and . , : = + / @ _ - (it reaches nginx's configure and Makefile)`;
}

/** Why `v` cannot be written into a port Makefile shell line, even quoted (undefined when it can). */
export function makefileWordProblem(v: string): string | undefined {
  const c = controlProblem(v);
  if (c) return c;
  const bad = /[$"`\\#]/.exec(v);
  return bad ? `${show(v)} contains ${show(bad[0])}, which a Makefile or a shell would expand even inside quotes` : undefined;
}

/**
 * Directories of the base system (FHS, Debian, Fedora, FreeBSD hier(7)): a package may put files
 * into them but never owns, rotates or removes one of them, nor one of their parents.
 */
export const SYSTEM_DIRS: ReadonlySet<string> = new Set([
  '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib32', '/lib64', '/libx32', '/media', '/mnt', '/opt', '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/tmp', '/usr', '/var',
  '/etc/default', '/etc/init.d', '/etc/logrotate.d', '/etc/rc.d', '/etc/ssl', '/etc/systemd', '/etc/systemd/system',
  '/lib/systemd', '/lib/systemd/system',
  '/run/lock', '/run/user', '/run/systemd',
  '/usr/bin', '/usr/games', '/usr/include', '/usr/lib', '/usr/lib32', '/usr/lib64', '/usr/libexec', '/usr/sbin', '/usr/src', '/usr/tmp',
  '/usr/lib/systemd', '/usr/lib/systemd/system',
  '/usr/share', '/usr/share/doc', '/usr/share/licenses', '/usr/share/man', '/usr/share/man/man8',
  '/usr/local', '/usr/local/bin', '/usr/local/etc', '/usr/local/include', '/usr/local/lib', '/usr/local/libexec', '/usr/local/sbin', '/usr/local/share', '/usr/local/www',
  '/var/backups', '/var/cache', '/var/db', '/var/empty', '/var/lib', '/var/local', '/var/lock', '/var/log', '/var/mail', '/var/opt', '/var/run', '/var/spool', '/var/tmp', '/var/www',
]);

/**
 * Trees no package keeps files of its own in, at any depth: shared scratch space (cleaned by the
 * system, writable by everyone: a directory there can be raced), users' homes, kernel and device
 * file systems, mount points. (/var/tmp is kept across reboots: the FreeBSD port's temp files go
 * to /var/tmp/nginx as the ports tree's nginx does; /var/tmp itself is a system directory.)
 */
const SHARED_TREE_WHY: Record<string, string> = {
  '/tmp': 'scratch space the system cleans and every user can write',
  '/dev': 'a device file system',
  '/proc': 'a kernel file system',
  '/sys': 'a kernel file system',
  '/run/user': "users' runtime directories",
  '/home': "users' home directories",
  '/root': "root's home directory",
  '/mnt': 'a mount point',
  '/media': 'a mount point',
};
const SHARED_TREES = Object.keys(SHARED_TREE_WHY);

/**
 * Why a package must not own `dir` (create it as its own, rotate files in it, remove it on purge),
 * or undefined when it may: not "/", not top-level, not a system directory nor a parent of one, not
 * below /tmp, /home and the other shared trees (SHARED_TREE_WHY).
 */
export function ownableDirProblem(dir: string): string | undefined {
  if (dir === '/') return 'that is the root directory';
  if (SYSTEM_DIRS.has(dir)) return `${dir} is a system directory`;
  const scratch = SHARED_TREES.find((t) => dir.startsWith(`${t}/`));
  if (scratch) return `${dir} is below ${scratch}, ${SHARED_TREE_WHY[scratch]}`;
  const child = [...SYSTEM_DIRS].find((s) => s.startsWith(`${dir}/`));
  if (child) return `${dir} holds the system directory ${child}`;
  if (dir.split('/').length < 3) return `${dir} is a top-level directory`;
  // below a directory every package shares, the first level is one package's own: ours only
  // when its name says nginx (/var/lib/nginx, /etc/nginx, /usr/lib/nginx); /var/lib/dpkg or
  // /var/log/apt would be removed on purge and rotated as nginx's
  const hub = SHARED_HUBS.find((h) => dir.startsWith(`${h}/`));
  if (hub) {
    const own = dir.slice(hub.length + 1).split('/')[0]!;
    if (!/nginx/i.test(own)) return `${hub}/${own} is not a directory of nginx's own (its name does not say nginx): in ${hub} each directory belongs to one package`;
  }
  return undefined;
}

/** Directories whose subdirectories belong each to one package (nginx's must say nginx). */
const SHARED_HUBS = [
  '/etc', '/run', '/var/run', '/var/lib', '/var/log', '/var/cache', '/var/spool', '/var/db', '/var/tmp', '/var/www', '/var/backups', '/var/mail', '/var/opt',
  '/usr/lib', '/usr/lib64', '/usr/libexec', '/usr/share', '/usr/include', '/usr/src',
  '/usr/local/etc', '/usr/local/lib', '/usr/local/libexec', '/usr/local/share', '/usr/local/include', '/usr/local/www',
].sort((a, b) => b.length - a.length);

/** The directories of an install that the packages own: [what, directory]. */
export function ownedInstallDirs(i: PlanInstall): [string, string][] {
  return [
    ...i.logDirs.map((d): [string, string] => ['log directory', d]),
    ...i.tempDirs.map((d): [string, string] => ['temp directory', d]),
    ['configuration directory', i.confDir],
    ['modules path', i.modules],
  ];
}

/**
 * Every problem of an install layout (plan.install) under the rule above: each path, each owned
 * directory, the user, group and service names. The package generators refuse a plan with any.
 */
export function installProblems(i: PlanInstall): string[] {
  const out: string[] = [];
  const paths: [string, string][] = [
    ['prefix', i.prefix], ['sbin', i.sbin], ['conf', i.conf], ['confDir', i.confDir], ['modules', i.modules], ['errorLog', i.errorLog], ['accessLog', i.accessLog], ['pid', i.pid], ['lock', i.lock], ['html', i.html],
    ...Object.entries(i.temp).map(([k, v]): [string, string] => [`temp.${k}`, v]),
    ...i.logDirs.map((d, n): [string, string] => [`logDirs[${n}]`, d]),
    ...i.tempDirs.map((d, n): [string, string] => [`tempDirs[${n}]`, d]),
    ...i.runDirs.map((d, n): [string, string] => [`runDirs[${n}]`, d]),
  ];
  for (const [k, v] of paths) {
    const p = pathProblem(v);
    if (p) out.push(`install.${k}: ${p}`);
  }
  for (const [what, d] of ownedInstallDirs(i)) {
    const p = pathProblem(d) ? undefined : ownableDirProblem(d);
    if (p) out.push(`${what} ${d}: ${p}; a package must not own it`);
  }
  for (const [k, v] of [['user', i.user], ['group', i.group], ['service', i.service]] as const) {
    const p = nameProblem(v);
    if (p) out.push(`install.${k}: ${p}`);
  }
  return out;
}

/** Every problem of a plan's names and install layout: installProblems, the profile, variant and component names. */
export function planProblems(plan: Pick<BuildPlan, 'profile' | 'install' | 'variants' | 'components'>): string[] {
  const out = installProblems(plan.install);
  const n = nameProblem(plan.profile);
  if (n) out.push(`profile: ${n}`);
  for (const v of plan.variants) {
    const vn = nameProblem(v.name);
    if (vn) out.push(`variant ${show(v.name)}: ${vn}`);
    const vp = pathProblem(v.sbin);
    if (vp) out.push(`variant ${show(v.name)}: sbin: ${vp}`);
  }
  for (const c of plan.components) {
    const cn = nameProblem(c.name);
    if (cn) out.push(`component ${show(c.name)}: ${cn}`);
    const t = fileNameProblem(c.topdir);
    if (t) out.push(`component ${c.name}: topdir: ${t}`);
    for (const [k, v] of Object.entries(c.build?.env ?? {})) {
      const e = envNameProblem(k) ?? (v === null ? undefined : makefileWordProblem(v));
      if (e) out.push(`component ${c.name}: build.env: ${e}`);
    }
  }
  return out;
}

/**
 * The last line of defence of a package generator: refuse to write `what` (a unit, a maintainer
 * script, a spec, a port) from a plan that breaks the rule. resolvePlan refuses such a profile
 * first; this catches a plan built or changed some other way.
 */
export function assertSafePlan(plan: Pick<BuildPlan, 'profile' | 'install' | 'variants' | 'components'>, what: string): void {
  const problems = planProblems(plan);
  if (problems.length) {
    throw new UsageError(`refusing to write ${what}: the plan has unsafe paths or names:\n  ${problems.join('\n  ')}`, 'paths must be absolute, normalised and of safe characters, and packages own only directories of their own (see README, "Profiles": install paths); fix the field named above (in the profile, or the component recipe) and run again');
  }
}
