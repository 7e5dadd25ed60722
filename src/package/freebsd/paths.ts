// Where the port installs: the plan's Linux (Debian) install paths moved to FreeBSD's hier(7), and
// the directories the Makefile and pkg-plist derive from them.
import path from 'node:path';
import { UsageError } from '../../errors.ts';
import { TEMP_PATHS } from '../../nginxconf.ts';
import type { BuildPlan } from '../../plan.ts';
import { ownableDirProblem } from '../../recipes/safe.ts';

/** Linux (Debian) path of the plan → FreeBSD hier(7) path, with ${PREFIX} for what the package owns. */
export function freebsdPath(key: string, p: string): string {
  if (/-temp-path$/.test(key)) return `/var/tmp/nginx/${path.posix.basename(p)}`;
  if (p.startsWith('/usr/local/')) return `\${PREFIX}/${p.slice('/usr/local/'.length)}`;
  if (p.startsWith('/usr/lib/')) return `\${PREFIX}/libexec/${p.slice('/usr/lib/'.length)}`;
  if (p.startsWith('/usr/')) return `\${PREFIX}/${p.slice('/usr/'.length)}`;
  if (p.startsWith('/etc/')) return `\${PREFIX}/etc/${p.slice('/etc/'.length)}`;
  if (p.startsWith('/run/lock/')) return `/var/run/${p.slice('/run/lock/'.length)}`;
  if (p.startsWith('/run/')) return `/var/run/${p.slice('/run/'.length)}`;
  if (p.startsWith('/var/lib/')) return `/var/db/${p.slice('/var/lib/'.length)}`;
  return p;
}

/** nginx's path options (configure option name without "--" → FreeBSD path), in CONFIGURE_ARGS order: plan.install moved to hier(7). */
export function portPaths(plan: BuildPlan): Record<string, string> {
  const i = plan.install;
  const paths: Record<string, string> = {
    prefix: freebsdPath('prefix', i.prefix),
    'sbin-path': freebsdPath('sbin-path', i.sbin),
    'modules-path': freebsdPath('modules-path', i.modules),
    'conf-path': freebsdPath('conf-path', i.conf),
    'error-log-path': freebsdPath('error-log-path', i.errorLog),
    'http-log-path': freebsdPath('http-log-path', i.accessLog),
    'pid-path': freebsdPath('pid-path', i.pid),
    'lock-path': freebsdPath('lock-path', i.lock),
  };
  for (const [opt, directive] of Object.entries(TEMP_PATHS)) paths[opt] = freebsdPath(opt, i.temp[directive]!);
  return paths;
}

/** The files and directories of the port's paths that the Makefile's targets and pkg-plist name. */
export interface PortLayout {
  confPath: string;
  confDir: string;
  sbinPath: string;
  prefix: string;
  pidPath: string;
  /** the log files' directories (pkg-plist @dir) */
  logDirs: string[];
  /** the temp paths' parent directories (created in post-install, pkg-plist @dir) */
  tempDirs: string[];
  /** the pid and lock files' directories outside ${PREFIX} (removed from the stage: the system's) */
  runDirs: string[];
}

/**
 * The layout of portPaths(); refuses (UsageError) a log or temp directory that is not nginx's own
 * after the move to hier(7), since the plist would own it.
 */
export function portLayout(paths: Record<string, string>): PortLayout {
  const confPath = paths['conf-path']!;
  const confDir = path.posix.dirname(confPath);
  const sbinPath = paths['sbin-path']!;
  const prefix = paths.prefix!;
  const pidPath = paths['pid-path']!;
  const logDirs = [...new Set([paths['error-log-path']!, paths['http-log-path']!].map((p) => path.posix.dirname(p)))].sort();
  const tempDirs = [...new Set(Object.keys(TEMP_PATHS).map((k) => path.posix.dirname(paths[k]!)))].sort();
  const runDirs = [...new Set([pidPath, paths['lock-path']!].map((p) => path.posix.dirname(p)))].filter((d) => !d.startsWith('${PREFIX}'));
  // the plist's @dir entries: after the move to hier(7) still directories of nginx's own
  for (const d of [...logDirs, ...tempDirs]) {
    const why = ownableDirProblem(d.replace(/^\$\{PREFIX\}/, '/usr/local'));
    if (why) throw new UsageError(`refusing to write the FreeBSD port: it would own ${d}: ${why}`, 'put log and temp files into a directory of nginx\'s own in the profile, e.g. /var/log/nginx/error.log');
  }
  return { confPath, confDir, sbinPath, prefix, pidPath, logDirs, tempDirs, runDirs };
}
