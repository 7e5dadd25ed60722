// A Debian binary package (.deb) from a build's DESTDIR staging tree, built with dpkg-deb.
//
//   nginx-forge-<profile>_<nginx version>-<revision>_<arch>.deb
//     /usr/sbin/nginx                       the built binary (debug info stripped, symbols kept)
//     /etc/nginx/*                          all listed in DEBIAN/conffiles
//     /lib/systemd/system/nginx.service     Type=forking, `nginx -t` before start/reload
//                                           (/usr/lib/... where dpkg >= 1.22, i.e. Debian 13)
//     /etc/logrotate.d/nginx
//     /var/lib/nginx, /var/log/nginx
//     /usr/share/nginx/html/*
//     /usr/share/doc/<pkg>/                 copyright (machine-readable, every component),
//                                           changelog.Debian.gz, README.Debian, sbom.cdx.json,
//                                           manifest.json, licenses/<component>/<file>
//     /usr/share/lintian/overrides/<pkg>    each override with its reason
//   DEBIAN/ control, conffiles, md5sums, postinst (creates the system user), prerm, postrm
//
// Deterministic: every mtime is SOURCE_DATE_EPOCH, modes are normalised, owners are root
// (--root-owner-group), dpkg-deb sorts the members. Same inputs → byte-identical .deb.
import { chmodSync, cpSync, existsSync, lutimesSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { MissingToolError, StageError } from '../errors.ts';
import { run, type RunContext } from '../exec.ts';
import { component, server, type BuildPlan } from '../plan.ts';
import {
  controlText,
  copyrightLines,
  dep5License,
  formatMaintainer,
  licenseFilesOf,
  maintainer,
  md5File,
  rfc2822,
  sha256File,
  sourceDateEpoch,
  walk,
  wrap,
} from './common.ts';

export interface DebInput {
  plan: BuildPlan;
  /** DESTDIR staging tree of the install stage (usr/sbin/nginx, etc/nginx/..., usr/share/nginx/html) */
  root: string;
  /** licenses/<component>/<file> of every component */
  licensesDir: string;
  sbom?: string;
  manifest?: string;
  outDir: string;
  /** log file for dpkg-deb, dpkg-shlibdeps, strip */
  log: string;
  /** Debian revision: version is <nginx version>-<revision> (default 1) */
  revision?: number;
  /** "Name <email>" (default: NGINX_FORGE_MAINTAINER, DEBFULLNAME/DEBEMAIL, placeholder) */
  maintainer?: string;
  /** default: SOURCE_DATE_EPOCH, else the manifest's sourceDateEpoch, else a fixed date */
  sourceDateEpoch?: number;
  /** Debian architecture (default: dpkg --print-architecture) */
  arch?: string;
  /** system user the workers run as, created by postinst (default "nginx") */
  user?: string;
  /** 'debug' (default): strip debug info only, keep the symbol table; 'none': ship the binary as built */
  strip?: 'debug' | 'none';
  /** where the systemd unit goes (default: /lib/systemd/system, /usr/lib/systemd/system with dpkg >= 1.22) */
  unitDir?: string;
}

/** Paths the package owns; shared with tests and docs. */
export const DEB_PATHS = {
  binary: 'usr/sbin/nginx',
  confDir: 'etc/nginx',
  logrotate: 'etc/logrotate.d/nginx',
  stateDir: 'var/lib/nginx',
  logDir: 'var/log/nginx',
} as const;

export const debPackageName = (plan: BuildPlan) => `nginx-forge-${plan.profile}`;
export const debVersion = (plan: BuildPlan, revision = 1) => `${component(plan, 'nginx').version}-${revision}`;

/** The paths nginx was configured with (from the plan's configure arguments). */
export function configuredPaths(plan: BuildPlan): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of plan.configureArgs) {
    const m = /^--([a-z-]+(?:-path)|prefix)=(.*)$/.exec(a);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

const DEBIAN_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'armhf', ia32: 'i386', ppc64: 'ppc64el', s390x: 's390x', riscv64: 'riscv64' };

async function debArch(ctx: RunContext): Promise<string> {
  try {
    return (await run(ctx, 'dpkg', ['--print-architecture'])).trim();
  } catch {
    return DEBIAN_ARCH[os.arch()] ?? os.arch();
  }
}

/**
 * Debian 13 (dpkg 1.22) finished the /usr merge: packages ship /usr/lib/systemd/system and lintian
 * rejects the aliased /lib path; Debian 12 and older expect /lib/systemd/system.
 */
async function defaultUnitDir(ctx: RunContext): Promise<string> {
  try {
    const v = (await run(ctx, 'dpkg-query', ['-W', '-f=${Version}', 'dpkg'])).trim();
    const [major, minor] = v.split(/[.~+-]/).map(Number);
    if (major! > 1 || (major === 1 && minor! >= 22)) return 'usr/lib/systemd/system';
  } catch {
    // not a dpkg system: keep the long-standing path
  }
  return 'lib/systemd/system';
}

/** Depends from dpkg-shlibdeps (needs a debian/control next to it), else the static list. */
async function sharedLibDepends(ctx: RunContext, binary: string, scratch: string): Promise<{ depends: string; how: string }> {
  const dir = path.join(scratch, 'shlibdeps');
  mkdirSync(path.join(dir, 'debian'), { recursive: true });
  writeFileSync(path.join(dir, 'debian', 'control'), 'Source: nginx-forge\n\nPackage: nginx-forge\nArchitecture: any\n');
  try {
    const out = await run({ ...ctx, cwd: dir }, 'dpkg-shlibdeps', ['-O', '-e', binary]);
    const m = /^shlibs:Depends=(.*)$/m.exec(out);
    if (m && m[1]!.trim()) return { depends: m[1]!.trim(), how: 'dpkg-shlibdeps' };
  } catch {
    // not installed, or no dpkg database for the libraries: fall back
  }
  return { depends: 'libc6', how: 'static list (dpkg-shlibdeps unavailable)' };
}

function systemdUnit(plan: BuildPlan, paths: Record<string, string>): string {
  const sbin = paths['sbin-path'] ?? '/usr/sbin/nginx';
  const pid = paths['pid-path'] ?? '/run/nginx.pid';
  const lines = [
    '[Unit]',
    `Description=nginx web server (nginx-forge, profile ${plan.profile})`,
    'Documentation=https://nginx.org/en/docs/',
    'After=network-online.target remote-fs.target nss-lookup.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=forking',
    `PIDFile=${pid}`,
  ];
  if (plan.ktls) {
    // kTLS needs the kernel's tls module; "-" makes a kernel without it a warning, not a failure
    lines.push('ExecStartPre=-/sbin/modprobe -q tls');
  }
  lines.push(
    `ExecStartPre=${sbin} -t -q`,
    `ExecStart=${sbin}`,
    `ExecReload=${sbin} -t -q`,
    `ExecReload=/bin/kill -HUP $MAINPID`,
    `ExecStop=-/sbin/start-stop-daemon --quiet --stop --retry QUIT/5 --pidfile ${pid}`,
    'TimeoutStopSec=5',
    'KillMode=mixed',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  );
  return lines.join('\n');
}

function logrotate(paths: Record<string, string>, user: string): string {
  const pid = paths['pid-path'] ?? '/run/nginx.pid';
  const logDirs = [...new Set([paths['error-log-path'], paths['http-log-path']].filter(Boolean).map((p) => path.posix.dirname(p!)))];
  const dirs = logDirs.length ? logDirs : ['/var/log/nginx'];
  return `${dirs.map((d) => `${d}/*.log`).join(' ')} {
\tdaily
\tmissingok
\trotate 14
\tcompress
\tdelaycompress
\tnotifempty
\tcreate 0640 ${user} adm
\tsharedscripts
\tpostrotate
\t\t# ask the master process to reopen its log files
\t\tif [ -s ${pid} ]; then kill -USR1 "$(cat ${pid})" 2>/dev/null || true; fi
\tendscript
}
`;
}

function postinst(pkg: string, user: string, stateDirs: string[]): string {
  return `#!/bin/sh
# postinst of ${pkg} (generated by nginx-forge)
set -e

if [ "$1" = configure ]; then
\t# the unprivileged user nginx's worker processes run as
\tif ! getent passwd ${user} >/dev/null; then
\t\tif command -v adduser >/dev/null 2>&1; then
\t\t\tadduser --system --group --quiet --home /nonexistent --no-create-home ${user}
\t\telse
\t\t\tuseradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin ${user}
\t\tfi
\tfi
${stateDirs.map((d) => `\tinstall -d -m 0755 ${d}`).join('\n')}
fi

if [ "$1" = configure ] || [ "$1" = abort-upgrade ] || [ "$1" = abort-deconfigure ] || [ "$1" = abort-remove ]; then
\t# enable the service the way Debian's own packages do, and start it when systemd runs
\tif command -v deb-systemd-helper >/dev/null 2>&1; then
\t\tif deb-systemd-helper --quiet was-enabled nginx.service; then
\t\t\tdeb-systemd-helper enable nginx.service >/dev/null || true
\t\telse
\t\t\tdeb-systemd-helper update-state nginx.service >/dev/null || true
\t\tfi
\tfi
\tif [ -d /run/systemd/system ]; then
\t\tsystemctl --system daemon-reload >/dev/null || true
\t\tif [ -n "$2" ]; then action=restart; else action=start; fi
\t\tdeb-systemd-invoke "$action" nginx.service >/dev/null || true
\tfi
fi

exit 0
`;
}

function prerm(pkg: string): string {
  return `#!/bin/sh
# prerm of ${pkg} (generated by nginx-forge)
set -e

if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
\tdeb-systemd-invoke stop nginx.service >/dev/null || true
fi

exit 0
`;
}

function postrm(pkg: string, purgeDirs: string[]): string {
  return `#!/bin/sh
# postrm of ${pkg} (generated by nginx-forge)
set -e

if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
\tsystemctl --system daemon-reload >/dev/null || true
fi

if [ "$1" = purge ]; then
\tif command -v deb-systemd-helper >/dev/null 2>&1; then
\t\tdeb-systemd-helper purge nginx.service >/dev/null || true
\tfi
\t# logs and temporary files; the system user is kept (Debian never reuses its ids)
\trm -rf ${purgeDirs.join(' ')}
fi

exit 0
`;
}

/**
 * Licenses Debian ships in /usr/share/common-licenses: the copyright file must point there instead
 * of repeating the text (Debian policy 12.5; lintian reports a copy as an error).
 */
const COMMON_LICENSES: Record<string, { file: string; title: string }> = {
  'Apache-2.0': { file: 'Apache-2.0', title: 'Apache License, Version 2.0' },
  'MPL-2.0': { file: 'MPL-2.0', title: 'Mozilla Public License, Version 2.0' },
  'CC0-1.0': { file: 'CC0-1.0', title: 'Creative Commons CC0 1.0 Universal license' },
};

/** debian/copyright in the machine-readable format: one Files paragraph per component, full license texts. */
export function copyrightFile(plan: BuildPlan, licensesDir: string, pkg: string): string {
  const nginx = component(plan, 'nginx');
  const paras: string[] = [
    [
      'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
      'Upstream-Name: nginx',
      `Source: ${server(plan).homepage || 'https://nginx.org/'}`,
      'Comment:',
      controlText(
        `Binary package ${pkg} built by nginx-forge (profile ${plan.profile}, plan ${plan.planHash}). ` +
          `nginx ${nginx.version} is linked statically with ${plan.components
            .filter((c) => c.role !== 'server')
            .map((c) => `${c.displayName} ${c.version}`)
            .join(', ')}. ` +
          `The license files of every component are also in /usr/share/doc/${pkg}/licenses/.`,
      ),
    ].join('\n'),
  ];
  for (const c of plan.components) {
    const files = licenseFilesOf(licensesDir, c.name);
    const texts = files.map((f) => readFileSync(f, 'utf8'));
    const holders = [...new Set(texts.flatMap(copyrightLines))];
    const copyright = holders.length ? holders : [`the ${c.displayName} authors (${c.homepage})`];
    const common = COMMON_LICENSES[c.license];
    const body = common
      ? `On Debian systems the full text of the ${common.title} is in /usr/share/common-licenses/${common.file}.\n` +
        `The component's own license file is in /usr/share/doc/${pkg}/licenses/${c.name}/.`
      : texts.length
        ? texts.join('\n\n')
        : `See ${c.homepage} (no license file was shipped with the build).`;
    paras.push(
      [
        `Files: ${c.name === 'nginx' ? '*' : `${c.topdir}/*`}`,
        `Copyright: ${copyright[0]}${copyright.slice(1).map((l) => `\n ${l}`).join('')}`,
        `License: ${dep5License(c.license)}`,
        controlText(body),
        `Comment: ${c.displayName} ${c.version} (${c.license}), source ${c.artifacts[0]!.file} sha256 ${c.sha256}`,
      ].join('\n'),
    );
  }
  return `${paras.join('\n\n')}\n`;
}

function changelog(pkg: string, version: string, plan: BuildPlan, who: string, epoch: number): string {
  const items = [
    `Built by nginx-forge from pinned, verified sources: profile ${plan.profile}, plan ${plan.planHash.slice(0, 16)}.`,
    `Components: ${plan.components.map((c) => `${c.displayName} ${c.version}`).join(', ')}.`,
  ];
  if (plan.patches.length) items.push(`Patches applied: ${plan.patches.length} (listed in manifest.json and sbom.cdx.json).`);
  const bullets = items.map((i) => wrap(i, 74).map((l, n) => (n === 0 ? `  * ${l}` : `    ${l}`)).join('\n')).join('\n');
  return `${pkg} (${version}) unstable; urgency=medium\n\n${bullets}\n\n -- ${who}  ${rfc2822(epoch)}\n`;
}

function readme(pkg: string, plan: BuildPlan, stripped: boolean, builtSha: string, user: string): string {
  const lines = [
    `${pkg} for Debian`,
    '',
    `nginx built by nginx-forge, profile "${plan.profile}": ${plan.description}.`,
    '',
    `Build plan: ${plan.planHash}`,
    'manifest.json and sbom.cdx.json (CycloneDX) next to this file list every source',
    'archive, its sha256, every patch and the exact configure arguments.',
    '',
    `Workers run as the system user "${user}", created when the package is configured.`,
    'The service is nginx.service (systemd); `nginx -t` runs before every start and reload.',
  ];
  if (plan.ktls) {
    lines.push(
      '',
      'Kernel TLS: the kernel must offer the "tls" module (modprobe tls; the unit tries it),',
      'and the server needs "ssl_conf_command Options KTLS;" and "sendfile on;".',
    );
  }
  lines.push(
    '',
    stripped
      ? `The binary had its debug information removed (strip --strip-debug; symbols kept).\nThe binary as built has sha256 ${builtSha} (see manifest.json).`
      : `The binary is shipped exactly as built: sha256 ${builtSha}.`,
    '',
  );
  return lines.join('\n');
}

/**
 * Does the binary carry zlib's version banner ("deflate 1.3.1 Copyright ...")? That is what
 * lintian's embedded-library check looks for; zlib-ng builds may or may not keep it, and an
 * override must only be shipped where the tag applies.
 */
export function hasZlibBanner(binary: Buffer): boolean {
  return /(?<!4 )(?:in|de)flate \d[ \w.-]{1,20}[\w.-]/.test(binary.toString('latin1'));
}

function lintianOverrides(pkg: string, stripped: boolean, o2: { zlibBanner: boolean; firstRevision: boolean }): string {
  const o = [
    '# The license files of the statically linked components ship next to the SBOM so an audit',
    '# finds them without unpacking the source; their full texts are also in the copyright file.',
    `${pkg}: extra-license-file [usr/share/doc/${pkg}/licenses/*]`,
  ];
  if (stripped) {
    o.push(
      '# Debug information is removed; the symbol table is kept on purpose so that',
      '# `nm /usr/sbin/nginx | grep ktls_` (nginx-forge verify) can prove OpenSSL was built with kTLS.',
      `${pkg}: unstripped-binary-or-object [usr/sbin/nginx]`,
    );
  } else {
    o.push(
      '# Shipped byte-identical to the verified, smoke-tested binary recorded in manifest.json.',
      `${pkg}: unstripped-binary-or-object [usr/sbin/nginx]`,
    );
  }
  if (o2.zlibBanner) {
    o.push(
      '# Static linking is the point of this package: zlib-ng (zlib-compat), OpenSSL, PCRE2 and',
      '# jemalloc are pinned by sha256 and listed in the SBOM; a security fix is a rebuild with a new pin.',
      `${pkg}: embedded-library zlib [usr/sbin/nginx]`,
    );
  }
  if (o2.firstRevision) {
    o.push(
      '# Built locally by nginx-forge, not uploaded to Debian: there is no ITP bug to close.',
      `${pkg}: initial-upload-closes-no-bugs [usr/share/doc/${pkg}/changelog.Debian.gz:1]`,
    );
  }
  return `${o.join('\n')}\n`;
}

/** Use the configured user for workers: turn nginx's stock "#user  nobody;" into "user <name>;". */
export function setWorkerUser(conf: string, user: string): string {
  if (/^\s*user\s+\S+/m.test(conf)) return conf; // the configuration already picks one
  if (/^#user\s+nobody;\s*$/m.test(conf)) return conf.replace(/^#user\s+nobody;\s*$/m, `user  ${user};`);
  return `user  ${user};\n${conf}`;
}

/** Build the .deb; returns its path in outDir. */
export async function buildDeb(input: DebInput): Promise<string> {
  const { plan } = input;
  const ctx: RunContext = { component: 'nginx', stage: 'package:deb', log: input.log };
  const pkg = debPackageName(plan);
  const version = debVersion(plan, input.revision ?? 1);
  const user = input.user ?? 'nginx';
  const epoch = sourceDateEpoch(input.sourceDateEpoch, input.manifest);
  const who = formatMaintainer(maintainer(input.maintainer));
  const paths = configuredPaths(plan);
  const sbinRel = (paths['sbin-path'] ?? `/${DEB_PATHS.binary}`).replace(/^\//, '');
  if (!existsSync(path.join(input.root, sbinRel))) {
    throw new StageError('nginx', 'package:deb', `the staging tree has no ${sbinRel}: ${input.root}`, {
      hint: 'package the output of the install stage (nginx-forge package runs the build first)',
    });
  }
  for (const f of [input.sbom, input.manifest]) {
    if (f && !existsSync(f)) throw new StageError('nginx', 'package:deb', `missing file ${f}`);
  }

  const scratch = mkdtempSync(path.join(os.tmpdir(), 'nginx-forge-deb-'));
  try {
    const pkgRoot = path.join(scratch, 'pkg');
    mkdirSync(pkgRoot);
    cpSync(input.root, pkgRoot, { recursive: true, verbatimSymlinks: true });

    // Not for a package: /run and /var/run are tmpfs at boot (nginx's make install creates the
    // pid directory), *.default are nginx's pristine copies of the files next to them.
    for (const d of ['run', 'var/run', 'var/lock']) rmSync(path.join(pkgRoot, d), { recursive: true, force: true });
    const confDir = path.join(pkgRoot, DEB_PATHS.confDir);
    if (existsSync(confDir)) {
      for (const e of walk(confDir)) if (e.kind === 'file' && e.rel.endsWith('.default')) rmSync(path.join(confDir, e.rel));
    }
    // manual pages go compressed (Debian policy 12.1)
    const man = path.join(pkgRoot, 'usr/share/man');
    if (existsSync(man)) {
      for (const e of walk(man)) {
        if (e.kind !== 'file' || e.rel.endsWith('.gz')) continue;
        const f = path.join(man, e.rel);
        writeFileSync(`${f}.gz`, gzipSync(readFileSync(f), { level: 9 }));
        rmSync(f);
      }
    }
    const confRel = (paths['conf-path'] ?? '/etc/nginx/nginx.conf').replace(/^\//, '');
    const confFile = path.join(pkgRoot, confRel);
    if (existsSync(confFile)) writeFileSync(confFile, setWorkerUser(readFileSync(confFile, 'utf8'), user));

    // strip debug info (Debian policy 10.1); keep the symbol table for `nm | grep ktls_`
    const binary = path.join(pkgRoot, sbinRel);
    const builtSha = sha256File(binary);
    let stripped = false;
    if ((input.strip ?? 'debug') === 'debug') {
      try {
        await run(ctx, 'strip', ['--strip-debug', '--remove-section=.comment', binary]);
        stripped = true;
      } catch (e) {
        if (!(e instanceof MissingToolError)) throw e;
      }
    }

    // files the package adds
    const doc = path.join(pkgRoot, 'usr/share/doc', pkg);
    const put = (rel: string, text: string | Buffer, mode = 0o644) => {
      const f = path.join(pkgRoot, rel);
      mkdirSync(path.dirname(f), { recursive: true });
      writeFileSync(f, text);
      chmodSync(f, mode);
    };
    const unitDir = (input.unitDir ?? (await defaultUnitDir(ctx))).replace(/^\/+|\/+$/g, '');
    put(`${unitDir}/nginx.service`, systemdUnit(plan, paths));
    put(DEB_PATHS.logrotate, logrotate(paths, user));
    const tempDirs = [...new Set(Object.entries(paths).filter(([k]) => /-temp-path$/.test(k)).map(([, v]) => path.posix.dirname(v)))];
    const logDirs = [...new Set([paths['error-log-path'], paths['http-log-path']].filter(Boolean).map((p) => path.posix.dirname(p!)))];
    const ownedDirs = [...new Set([...tempDirs, ...logDirs, `/${DEB_PATHS.stateDir}`, `/${DEB_PATHS.logDir}`])].sort();
    for (const d of ownedDirs) mkdirSync(path.join(pkgRoot, d), { recursive: true });
    mkdirSync(doc, { recursive: true });
    put(`usr/share/doc/${pkg}/copyright`, copyrightFile(plan, input.licensesDir, pkg));
    put(`usr/share/doc/${pkg}/changelog.Debian.gz`, gzipSync(changelog(pkg, version, plan, who, epoch), { level: 9 }));
    put(`usr/share/doc/${pkg}/README.Debian`, readme(pkg, plan, stripped, builtSha, user));
    if (input.sbom) put(`usr/share/doc/${pkg}/sbom.cdx.json`, readFileSync(input.sbom));
    if (input.manifest) put(`usr/share/doc/${pkg}/manifest.json`, readFileSync(input.manifest));
    for (const c of plan.components) {
      for (const f of licenseFilesOf(input.licensesDir, c.name)) put(`usr/share/doc/${pkg}/licenses/${c.name}/${path.basename(f)}`, readFileSync(f));
    }
    put(
      `usr/share/lintian/overrides/${pkg}`,
      lintianOverrides(pkg, stripped, { zlibBanner: hasZlibBanner(readFileSync(binary)), firstRevision: (input.revision ?? 1) === 1 }),
    );

    // normalise: 0755 for directories and executables, 0644 for the rest
    const entries = walk(pkgRoot);
    for (const e of entries) {
      if (e.kind === 'symlink') continue;
      chmodSync(path.join(pkgRoot, e.rel), e.kind === 'dir' || e.mode & 0o111 ? 0o755 : 0o644);
    }

    const depends = await sharedLibDepends(ctx, binary, scratch);
    const arch = input.arch ?? (await debArch(ctx));
    // Installed-Size: KiB, each file rounded up, each directory/symlink one unit (as dpkg-gencontrol does)
    const installedSize = entries.reduce((n, e) => n + (e.kind === 'file' ? Math.ceil(e.size / 1024) : 1), 0);
    const conffiles = entries.filter((e) => e.kind === 'file' && e.rel.startsWith('etc/')).map((e) => `/${e.rel}`);
    const md5sums = entries
      .filter((e) => e.kind === 'file' && !e.rel.startsWith('etc/'))
      .map((e) => `${md5File(path.join(pkgRoot, e.rel))}  ${e.rel}`);

    const conflicts = 'nginx, nginx-common, nginx-core, nginx-extras, nginx-full, nginx-light';
    const description = [
      `nginx web server built by nginx-forge (${plan.profile})`,
      ...wrap(plan.description.replace(/\s*\.?$/, '.'), 78),
      '.',
      ...wrap(
        `Statically linked: ${plan.components
          .filter((c) => c.role !== 'server')
          .map((c) => `${c.displayName} ${c.version}`)
          .join(', ')}. Build plan ${plan.planHash.slice(0, 16)}; the SBOM and manifest are in /usr/share/doc/${pkg}/.`,
        78,
      ),
    ];
    const control = [
      `Package: ${pkg}`,
      `Version: ${version}`,
      `Architecture: ${arch}`,
      `Maintainer: ${who}`,
      `Installed-Size: ${installedSize}`,
      `Depends: ${depends.depends}, adduser`,
      'Recommends: logrotate',
      `Conflicts: ${conflicts}`,
      `Replaces: ${conflicts}`,
      'Provides: httpd, nginx',
      'Section: httpd',
      'Priority: optional',
      `Homepage: ${server(plan).homepage || 'https://nginx.org/'}`,
      `Description: ${description[0]}`,
      ...description.slice(1).map((l) => ` ${l}`),
      '',
    ].join('\n');

    const debian = path.join(pkgRoot, 'DEBIAN');
    mkdirSync(debian);
    const meta = (name: string, text: string, mode: number) => {
      writeFileSync(path.join(debian, name), text);
      chmodSync(path.join(debian, name), mode);
    };
    meta('control', control, 0o644);
    meta('conffiles', `${conffiles.join('\n')}\n`, 0o644);
    meta('md5sums', `${md5sums.join('\n')}\n`, 0o644);
    const purge = [...new Set([...tempDirs, `/${DEB_PATHS.stateDir}`, ...logDirs, `/${DEB_PATHS.logDir}`])].sort();
    meta('postinst', postinst(pkg, user, [...new Set([...tempDirs, `/${DEB_PATHS.stateDir}`])].sort()), 0o755);
    meta('prerm', prerm(pkg), 0o755);
    meta('postrm', postrm(pkg, purge), 0o755);
    chmodSync(debian, 0o755);

    // one timestamp for everything (deepest first so a directory's mtime is not touched afterwards)
    const t = new Date(epoch * 1000);
    for (const e of [...walk(pkgRoot)].reverse()) lutimesSync(path.join(pkgRoot, e.rel), t, t);
    lutimesSync(pkgRoot, t, t);

    mkdirSync(input.outDir, { recursive: true });
    const deb = path.join(path.resolve(input.outDir), `${pkg}_${version}_${arch}.deb`);
    const tmp = `${deb}.tmp`;
    await run(
      { ...ctx, env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) } },
      'dpkg-deb',
      ['--root-owner-group', '-Zxz', '--build', pkgRoot, tmp],
    );
    renameSync(tmp, deb);
    return deb;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The control fields of a built .deb (dpkg-deb -f). */
export async function debFields(deb: string, log: string): Promise<Record<string, string>> {
  const out = await run({ component: 'nginx', stage: 'package:deb', log }, 'dpkg-deb', ['-f', deb]);
  const fields: Record<string, string> = {};
  let last = '';
  for (const line of out.split('\n')) {
    const m = /^([A-Za-z0-9-]+):\s?(.*)$/.exec(line);
    if (m) fields[(last = m[1]!)] = m[2]!;
    else if (last && line.startsWith(' ')) fields[last] += `\n${line}`;
  }
  return fields;
}
