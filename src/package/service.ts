// Files every Linux package (.deb, .rpm) ships beside the binary: the systemd unit, the logrotate
// rule, and the staging tree (install output + production configuration + documentation).
// Paths and names come from plan.install only.
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { MissingToolError, StageError } from '../errors.ts';
import { run, type RunContext } from '../exec.ts';
import { server, type BuildPlan, type PlanVariant } from '../plan.ts';
import { confInput, shippedConf } from '../conf/nginx.ts';
import { licenseFilesOf, sha256File, walk } from './common.ts';
import { assertSafePlan } from '../recipes/safe.ts';
import { dynamicModuleFiles, stripModuleObject } from './modules.ts';
import { splitDebug, type DebugFile } from './debug.ts';
import { targetTool } from './targettools.ts';

/** Relative (no leading slash) form of an absolute install path, for joining onto a package root. */
export const rel = (p: string) => p.replace(/^\/+/, '');

/** Which distribution family a unit is for: Debian's (start-stop-daemon) or RPM's (no start-stop-daemon). */
export type UnitFamily = 'deb' | 'rpm';

/**
 * The systemd unit. Hardening that nginx tolerates (its master runs as root, binds ports below
 * 1024, chowns its temp directories and setuid()s its workers):
 *   NoNewPrivileges  fine: workers drop privileges with setuid(), nothing execs a setuid binary
 *                    (the binary upgrade, USR2, re-execs nginx as the root master it already is)
 *   CapabilityBoundingSet  bind, setuid/setgid for workers, chown of temp dirs, kill workers of
 *                    another uid, raise RLIMIT_NOFILE (worker_rlimit_nofile), and DAC_OVERRIDE:
 *                    logrotate creates the logs 0640 <user>:adm and the root master reopens them
 *   ProtectSystem=full  /usr, /boot, /etc read-only; /var (logs, temp) and /run (pid) stay writable
 * Left out on purpose: MemoryDenyWriteExecute (breaks PCRE2's JIT), ProtectKernelModules for
 * the main process is fine but would also stop `modprobe tls`, so that one line runs with "+"
 * (full privileges), PrivateUsers (workers need real uids), SystemCallFilter (not tested under
 * systemd here: io_setup, sendfile and setsockopt(TCP_ULP) must all stay allowed).
 */
export function systemdUnit(plan: BuildPlan, variant?: PlanVariant, family: UnitFamily = 'deb'): string {
  assertSafePlan(plan, `the systemd unit ${variant?.name ?? plan.install.service}.service`);
  const i = variant ? { ...plan.install, sbin: variant.sbin } : plan.install;
  const lines = [
    '[Unit]',
    variant ? `Description=nginx web server, ${variant.name}: ${variant.flags.join(' ')} (nginx-forge, profile ${plan.profile})` : `Description=nginx web server (nginx-forge, profile ${plan.profile})`,
    'Documentation=man:nginx(8) https://nginx.org/en/docs/',
    'After=network-online.target remote-fs.target nss-lookup.target',
    'Wants=network-online.target',
    // a twin serves the same configuration, pid file and ports: one of them runs at a time
    ...(variant ? [`Conflicts=${plan.install.service}.service`] : []),
    '',
    '[Service]',
    'Type=forking',
    `PIDFile=${i.pid}`,
  ];
  if (plan.ktls) {
    // kTLS needs the kernel's tls module; "-" makes a kernel without it a warning, not a failure;
    // "+" runs it outside the sandbox below (ProtectKernelModules, the capability bounding set)
    lines.push('ExecStartPre=-+/sbin/modprobe -q tls');
  }
  lines.push(
    `ExecStartPre=${i.sbin} -t -q`,
    `ExecStart=${i.sbin}`,
    `ExecReload=${i.sbin} -t -q`,
    'ExecReload=/bin/kill -HUP $MAINPID',
    // graceful stop (QUIT: workers finish their requests); after TimeoutStopSec systemd sends
    // SIGTERM, then SIGKILL to the rest (KillMode=mixed). RPM distributions have no
    // start-stop-daemon: their nginx.service sends QUIT to the main process with kill(1)
    family === 'rpm' ? 'ExecStop=/bin/kill -s QUIT $MAINPID' : `ExecStop=-/sbin/start-stop-daemon --quiet --stop --retry QUIT/5 --pidfile ${i.pid}`,
    'TimeoutStopSec=5',
    'KillMode=mixed',
    '',
    '# sandbox (see `systemd-analyze security nginx.service`)',
    'CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID CAP_CHOWN CAP_DAC_OVERRIDE CAP_KILL CAP_SYS_RESOURCE',
    'NoNewPrivileges=yes',
    'ProtectSystem=full',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'ProtectProc=invisible',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
    'RestrictNamespaces=yes',
    'RestrictRealtime=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    'SystemCallArchitectures=native',
    'UMask=0027',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  );
  return lines.join('\n');
}

export function logrotate(plan: BuildPlan, logOwner = 'adm'): string {
  assertSafePlan(plan, 'the logrotate rule');
  const i = plan.install;
  return `${i.logDirs.map((d) => `${d}/*.log`).join(' ')} {
\tdaily
\tmissingok
\trotate 14
\tcompress
\tdelaycompress
\tnotifempty
\tcreate 0640 ${i.user} ${logOwner}
\tsharedscripts
\tpostrotate
\t\t# ask the master process to reopen its log files
\t\tif [ -s ${i.pid} ]; then kill -USR1 "$(cat ${i.pid})" 2>/dev/null || true; fi
\tendscript
}
`;
}

/**
 * Directories the package owns and removes on purge: logs and temp files (state). Each is nginx's
 * own, never a system directory (checked here once more: the maintainer scripts `rm -rf` them).
 */
export function ownedDirs(plan: BuildPlan): { state: string[]; logs: string[] } {
  assertSafePlan(plan, 'the maintainer scripts');
  return { state: plan.install.tempDirs, logs: plan.install.logDirs };
}

export interface TreeInput {
  plan: BuildPlan;
  /** DESTDIR staging tree of the install stage */
  root: string;
  licensesDir: string;
  sbom?: string;
  manifest?: string;
  /** where the staged package tree goes (created) */
  dest: string;
  /** documentation directory, absolute (/usr/share/doc/<pkg>) */
  docDir: string;
  /** where the components' license files go (default <docDir>/licenses) */
  licenseDir?: string;
  /** systemd unit directory, absolute */
  unitDir: string;
  /** logrotate's "create" group */
  logGroup: string;
  strip: 'debug' | 'none';
  ctx: RunContext;
  stage: string;
  /** the twin binaries (plan.variants) as installed: name → binary; each goes beside nginx with its unit */
  variants?: Record<string, string>;
  /** with strip 'debug': the binaries' debug files are written here first (debug.ts, build-id layout) */
  debugDir?: string;
  /** whose systemd unit: Debian's (default) or an RPM distribution's (systemdUnit) */
  family?: UnitFamily;
}

/** A symbolic link the maintainer scripts create on a first install (never a file of the package). */
export interface EnableLink {
  /** absolute install path of the link */
  link: string;
  /** what it points to (as written) */
  target: string;
}

export interface Tree {
  dest: string;
  binary: string;
  builtSha: string;
  stripped: boolean;
  /** configuration files (absolute install paths), for conffiles / %config(noreplace) */
  configs: string[];
  /** per twin (plan.variants): its files in the tree (absolute install paths), for its own sub-package */
  variantFiles: Record<string, string[]>;
  /** the separate debug files of nginx and its twins (when TreeInput.debugDir was given and they were stripped) */
  debug: DebugFile[];
  /**
   * sites-enabled/default and the like: not in the tree. A package file would come back on every
   * upgrade after the admin removed it; the maintainer scripts create it on a first install only
   * (enableOnFirstInstall), as Debian's nginx does.
   */
  links: EnableLink[];
}

/** One more level of the indentation given: tabs (.deb scripts) or four spaces (the spec). */
const inner = (indent: string) => (indent.includes('\t') ? '\t' : '    ');

/**
 * Shell lines (for a maintainer script's first-install branch) that create each link unless
 * something is already there. rootVar: a prefix for every path (the .deb's "${DPKG_ROOT:-}").
 */
export function enableOnFirstInstall(links: EnableLink[], indent = '\t', rootVar = ''): string[] {
  return links.flatMap((l) => [
    `${indent}if [ ! -e "${rootVar}${l.link}" ] && [ ! -L "${rootVar}${l.link}" ]; then`,
    `${indent}${inner(indent)}ln -s ${l.target} "${rootVar}${l.link}"`,
    `${indent}fi`,
  ]);
}

/** Shell lines that remove each link if it still points where the package made it point (purge, erase). */
export function removeEnableLinks(links: EnableLink[], indent = '\t', rootVar = ''): string[] {
  return links.flatMap((l) => [
    `${indent}if [ -L "${rootVar}${l.link}" ] && [ "$(readlink "${rootVar}${l.link}")" = "${l.target}" ]; then`,
    `${indent}${inner(indent)}rm -f "${rootVar}${l.link}"`,
    `${indent}fi`,
  ]);
}


/**
 * The package's file tree: nginx's install output without what a package must not carry (/run,
 * *.default copies), the shipped production configuration, unit, logrotate rule, the owned
 * directories, manual pages compressed, SBOM, manifest and license files in the doc directory.
 */
export async function stageTree(t: TreeInput): Promise<Tree> {
  const i = t.plan.install;
  const binRel = rel(i.sbin);
  if (!existsSync(path.join(t.root, binRel))) {
    throw new StageError(server(t.plan).name, t.stage, `the staging tree has no ${binRel}: ${t.root}`, {
      hint: 'package the output of the install stage (nginx-forge package runs the build first)',
    });
  }
  for (const f of [t.sbom, t.manifest]) if (f && !existsSync(f)) throw new StageError(server(t.plan).name, t.stage, `missing file ${f}`);
  const d = t.dest;
  mkdirSync(d, { recursive: true });
  cpSync(t.root, d, { recursive: true, verbatimSymlinks: true });
  // /run and /var/run are tmpfs at boot (nginx's make install creates the pid directory)
  for (const r of ['run', 'var/run', 'var/lock']) rmSync(path.join(d, r), { recursive: true, force: true });
  const confDir = path.join(d, rel(i.confDir));
  if (existsSync(confDir)) {
    for (const e of walk(confDir)) if (e.kind === 'file' && e.rel.endsWith('.default')) rmSync(path.join(confDir, e.rel));
  }
  // the production configuration replaces nginx's sample nginx.conf
  const shipped = shippedConf(confInput(t.plan));
  for (const dir of shipped.dirs) mkdirSync(path.join(confDir, dir), { recursive: true });
  for (const [f, text] of Object.entries(shipped.files)) {
    mkdirSync(path.dirname(path.join(confDir, f)), { recursive: true });
    writeFileSync(path.join(confDir, f), text);
  }
  // sites-enabled/default: made by the maintainer scripts on a first install (Tree.links)
  const links: EnableLink[] = Object.entries(shipped.symlinks).map(([f, target]) => {
    rmSync(path.join(confDir, f), { force: true });
    return { link: path.posix.join(i.confDir, f), target };
  });
  // manual pages go compressed
  const man = path.join(d, 'usr/share/man');
  if (existsSync(man)) {
    for (const e of walk(man)) {
      if (e.kind !== 'file' || e.rel.endsWith('.gz')) continue;
      const f = path.join(man, e.rel);
      writeFileSync(`${f}.gz`, gzipSync(readFileSync(f), { level: 9 }));
      rmSync(f);
    }
  }
  const put = (p: string, text: string | Buffer, mode = 0o644) => {
    const f = path.join(d, rel(p));
    mkdirSync(path.dirname(f), { recursive: true });
    writeFileSync(f, text);
    chmodSync(f, mode);
  };
  // the twins (nginx-debug) beside the production binary, each with a unit of its own
  const variantFiles: Record<string, string[]> = {};
  for (const v of t.plan.variants) {
    const from = t.variants?.[v.name];
    if (!from || !existsSync(from)) {
      throw new StageError(server(t.plan).name, t.stage, `the plan has the twin ${v.name} but its binary was not given${from ? ` (no ${from})` : ''}`, { hint: `package a build that ran install:${v.name}` });
    }
    put(v.sbin, readFileSync(from), 0o755);
    put(`${t.unitDir}/${v.name}.service`, systemdUnit(t.plan, v, t.family));
    variantFiles[v.name] = [v.sbin, `${t.unitDir}/${v.name}.service`];
  }
  // strip debug info; keep the symbol table for `nm | grep ktls_` (nginx-forge verify)
  const binary = path.join(d, binRel);
  const builtSha = sha256File(binary);
  let stripped = false;
  let debug: DebugFile[] = [];
  if (t.strip === 'debug') {
    try {
      const bins = [binary, ...t.plan.variants.map((v) => path.join(d, rel(v.sbin)))];
      // with the target's binutils (aarch64-linux-gnu-strip for a cross build's binaries)
      if (t.debugDir) debug = await splitDebug(t.ctx, bins, t.debugDir, t.plan.target);
      for (const b of bins) await run(t.ctx, targetTool(t.plan.target, 'strip'), ['--strip-debug', '--remove-section=.comment', b]);
      // the dynamic modules as the module .deb strips them (a package that ships them: the .rpm)
      for (const so of dynamicModuleFiles(t.plan)) if (existsSync(path.join(d, rel(so)))) await stripModuleObject(t.ctx, path.join(d, rel(so)), t.plan.target);
      stripped = true;
    } catch (e) {
      if (!(e instanceof MissingToolError)) throw e;
    }
  }
  put(`${t.unitDir}/${i.service}.service`, systemdUnit(t.plan, undefined, t.family));
  put(`/etc/logrotate.d/${i.service}`, logrotate(t.plan, t.logGroup));
  for (const dir of [...i.tempDirs, ...i.logDirs]) mkdirSync(path.join(d, rel(dir)), { recursive: true });
  if (t.sbom) put(`${t.docDir}/sbom.cdx.json`, readFileSync(t.sbom));
  if (t.manifest) put(`${t.docDir}/manifest.json`, readFileSync(t.manifest));
  for (const c of t.plan.components) {
    for (const f of licenseFilesOf(t.licensesDir, c.name)) put(`${t.licenseDir ?? `${t.docDir}/licenses`}/${c.name}/${path.basename(f)}`, readFileSync(f));
  }
  const configs = walk(d)
    .filter((e) => e.kind === 'file' && e.rel.startsWith('etc/'))
    .map((e) => `/${e.rel}`);
  return { dest: d, binary, builtSha, stripped, configs, variantFiles, links, debug };
}
