// A FreeBSD port skeleton generated from a BuildPlan: the same pinned sources, patches and
// configure arguments, built by the ports framework on FreeBSD.
//
//   Makefile      PORTNAME/PORTVERSION, every source as a DISTFILE with a MASTER_SITES group,
//                 OPTIONS (KTLS, DEBUG), zlib-ng + jemalloc built static in pre-configure (as the
//                 Linux build does), nginx's configure arguments from the plan with the paths
//                 moved to FreeBSD's hier(7): /usr → ${PREFIX}, /etc → ${PREFIX}/etc, /run → /var/run
//   distinfo      TIMESTAMP, SHA256 and SIZE of every distfile (SIZE: the recipe's, else the
//                 verified copy in the distfiles store; a file with neither gets no SIZE line and
//                 a warning: SIZE is optional to the framework, SHA256 is what it checks)
//   pkg-plist, pkg-descr, pkg-message, files/nginx.in (rc.d script)
//   files/patch-*            the project's own nginx patches (patches/nginx/...), applied by the
//                            framework (-p1) after the patch sets
//   files/extra-patch-<c>-*  the project's own patches of the other components, applied in post-patch
//
// Patch sets (e.g. Debian's security fixes for nginx) are NOT copied into files/: their archive is
// one more DISTFILE (pinned by its sha256 in distinfo, fetched from the ports framework's DEBIAN
// mirrors) and pre-patch applies the recipe's list, in the recipe's order, from the extracted archive.
// That keeps the port pinned by one hash per archive and lets the generator run without network
// or a distfiles store.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.ts';
import { checkStore } from '../fetch/store.ts';
import { component, server, tlsLibrary, type BuildPlan } from '../plan.ts';
import { copiedOutputs, libraryCommands } from '../stages/library.ts';
import type { Artifact } from '../recipes/schema.ts';
import { sourceDateEpoch, wrap } from './common.ts';

export interface PortInput {
  plan: BuildPlan;
  /** distfiles store, consulted for SIZE when a recipe has none (default: none consulted) */
  distdir?: string;
  /** distinfo TIMESTAMP (default: SOURCE_DATE_EPOCH, else a fixed date) */
  sourceDateEpoch?: number;
  /** MAINTAINER (default: ports@FreeBSD.org, the ports tree's "unmaintained") */
  maintainer?: string;
}

export interface PortDistfile {
  component: string;
  /** DISTFILES entry name (the file as fetched) */
  file: string;
  group: string;
  site: string;
  sha256: string;
  size?: number;
  sizeFrom: 'recipe' | 'distfiles store' | 'unknown';
}

export interface PortResult {
  /** port-relative path → content */
  files: Record<string, string>;
  distfiles: PortDistfile[];
  warnings: string[];
}

const TAB_COL = 16; // values of Makefile assignments start at this column (tabs of width 8)
function assign(name: string, values: string[]): string {
  const head = `${name}=`;
  const tabs = '\t'.repeat(Math.max(1, Math.ceil((TAB_COL - head.length) / 8)));
  if (values.length <= 1) return `${head}${tabs}${values[0] ?? ''}`;
  return `${head}${tabs}${values.join(' \\\n\t\t')}`;
}

/** Characters that would need escaping inside a Makefile value and a shell word: refuse them. */
function checkArg(a: string): string {
  if (/[$"`\\#]/.test(a)) throw new UsageError(`cannot put configure argument into a port Makefile: ${a}`, 'drop "$", quotes, backslashes and "#" from the profile');
  return a;
}

function quoteArg(a: string): string {
  checkArg(a);
  const m = /^(--[a-z0-9_-]+=)(.*)$/.exec(a);
  if (m && /[\s'*?[\]{}()&;|<>~]/.test(m[2]!)) return `${m[1]}"${m[2]}"`;
  return a;
}

const groupOf = (name: string) => name.replace(/[^A-Za-z0-9]/g, '_');

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

/** A path as a plist entry: relative to ${PREFIX}, or absolute outside it. */
const plistPath = (p: string) => (p.startsWith('${PREFIX}/') ? p.slice('${PREFIX}/'.length) : p);

/** The artifact the port fetches: the first one with an upstream URL, else one in Debian's main pool. */
function portArtifact(c: BuildPlan['components'][number]): { artifact: Artifact; file: string; site: string } | undefined {
  for (const a of c.artifacts) {
    const url = a.urls[0];
    if (!url) continue;
    const base = url.slice(url.lastIndexOf('/') + 1);
    if (base === a.file) return { artifact: a, file: a.file, site: url.slice(0, url.length - base.length) };
    // a URL whose last segment is not the file name (e.g. a tag archive): the framework fetches
    // <site><file>, and "?dummy=/" turns the appended name into an ignored query string
    return { artifact: a, file: a.file, site: `${url}?dummy=/` };
  }
  for (const a of c.artifacts) {
    if (a.distro && a.distro.archive === 'main') return { artifact: a, file: a.distro.file, site: `DEBIAN/pool/${a.distro.pool}/` };
  }
  return undefined;
}

async function sizeOf(a: { file: string; sha256: string; size?: number }, distdir?: string): Promise<{ size?: number; from: PortDistfile['sizeFrom'] }> {
  if (a.size !== undefined) return { size: a.size, from: 'recipe' };
  if (distdir && existsSync(distdir)) {
    const c = await checkStore(distdir, a);
    if (c.state === 'ok') {
      const { statSync } = await import('node:fs');
      return { size: statSync(c.path).size, from: 'distfiles store' };
    }
  }
  return { from: 'unknown' };
}

export async function freebsdPort(input: PortInput): Promise<PortResult> {
  const { plan } = input;
  const warnings: string[] = [];
  const nginx = component(plan, 'nginx');
  const epoch = sourceDateEpoch(input.sourceDateEpoch);
  const suffix = `-forge-${plan.profile}`;

  // distfiles: every component, then every patch-set archive
  const distfiles: PortDistfile[] = [];
  for (const c of plan.components) {
    const chosen = portArtifact(c);
    if (!chosen) {
      warnings.push(`${c.name} ${c.version}: no artifact with an upstream URL or a Debian main-pool file; put ${c.artifacts[0]!.file} into DISTDIR by hand`);
      continue;
    }
    if (chosen.artifact.sha256 !== c.sha256) warnings.push(`${c.name}: the port fetches ${chosen.file} (an equivalent archive of the recipe), not the preferred ${c.artifacts[0]!.file}`);
    const s = await sizeOf({ file: chosen.artifact.file, sha256: chosen.artifact.sha256, size: chosen.artifact.size }, input.distdir);
    distfiles.push({ component: c.name, file: chosen.file, group: groupOf(c.name), site: chosen.site, sha256: chosen.artifact.sha256, size: s.size, sizeFrom: s.from });
  }
  for (const set of plan.patchSets) {
    const a = set.artifact;
    let file = a.file;
    let site: string | undefined;
    if (a.urls[0]) {
      const base = a.urls[0].slice(a.urls[0].lastIndexOf('/') + 1);
      site = base === a.file ? a.urls[0].slice(0, a.urls[0].length - base.length) : `${a.urls[0]}?dummy=/`;
    } else if (a.distro && a.distro.archive === 'main') {
      file = a.distro.file;
      site = `DEBIAN/pool/${a.distro.pool}/`;
    }
    if (!site) {
      warnings.push(`patch set ${set.name}: no upstream URL or Debian main-pool file; put ${a.file} into DISTDIR by hand`);
      site = '';
    }
    const s = await sizeOf(a, input.distdir);
    distfiles.push({ component: `${set.component}:${set.name}`, file, group: groupOf(set.name), site, sha256: a.sha256, size: s.size, sizeFrom: s.from });
  }
  for (const d of distfiles) {
    if (d.sizeFrom === 'unknown') {
      warnings.push(`distinfo: SIZE of ${d.file} is unknown (the recipe has no "size" and the distfiles store has no verified copy); the line is left out. Run \`nginx-forge fetch\` first, or add "size" to the recipe.`);
    }
  }

  // configure arguments, FreeBSD paths
  const configure: string[] = [];
  const tls = tlsLibrary(plan);
  const opensslOpts = tls?.options ?? [];
  const hasDebug = plan.configureArgs.includes('--with-debug');
  const paths: Record<string, string> = {};
  for (const a of plan.configureArgs) {
    const m = /^--([a-z-]+-path|prefix)=(.*)$/.exec(a);
    if (m) {
      const mapped = freebsdPath(m[1]!, m[2]!);
      paths[m[1]!] = mapped;
      configure.push(`--${m[1]}=${mapped}`);
    } else if (a.startsWith('--with-openssl-opt=')) {
      configure.push('--with-openssl-opt="${OPENSSL_OPTIONS}"');
    } else if (a === '--with-debug') {
      // DEBUG option
    } else {
      configure.push(quoteArg(a));
    }
  }
  configure.push('--user=www', '--group=www');
  const confPath = paths['conf-path'] ?? '${PREFIX}/etc/nginx/nginx.conf';
  const confDir = path.posix.dirname(confPath);
  const sbinPath = paths['sbin-path'] ?? '${PREFIX}/sbin/nginx';
  const prefix = paths.prefix ?? '${PREFIX}/share/nginx';
  const pidPath = paths['pid-path'] ?? '/var/run/nginx.pid';
  const logDirs = [...new Set([paths['error-log-path'], paths['http-log-path']].filter(Boolean).map((p) => path.posix.dirname(p!)))];
  const tempDirs = [...new Set(Object.entries(paths).filter(([k]) => /-temp-path$/.test(k)).map(([, v]) => path.posix.dirname(v)))];
  const runDirs = [...new Set([pidPath, paths['lock-path']].filter(Boolean).map((p) => path.posix.dirname(p!)))].filter((d) => !d.startsWith('${PREFIX}'));

  const licenses = new Map<string, { file: string; spdx: string }>();
  const BSD_LICENSE: Record<string, string> = { 'BSD-2-Clause': 'BSD2CLAUSE', 'BSD-3-Clause': 'BSD3CLAUSE', 'Apache-2.0': 'APACHE20', Zlib: 'ZLIB', MIT: 'MIT', ISCL: 'ISCL' };
  const custom: string[] = [];
  for (const c of plan.components) {
    const base = c.license.replace(/\s+WITH\s+.*$/, '');
    let id = BSD_LICENSE[base];
    if (!id) {
      id = base.toUpperCase().replace(/[^A-Z0-9]/g, '');
      custom.push(id);
    }
    if (!licenses.has(id)) licenses.set(id, { file: `\${WRKDIR}/${c.topdir}/${c.licenseFiles[0]}`, spdx: c.license });
  }

  // libraries nginx's own make cannot build from a --with-*= source tree are built before configure,
  // with the same generic builder commands the pipeline runs (recipes' "build"), installed in place
  const separate = plan.components.filter((c) => c.role !== 'server' && c.consume?.placement === 'deps');
  const mk: string[] = [
    `# nginx built from pinned, verified sources: nginx-forge profile "${plan.profile}".`,
    `# Generated by \`nginx-forge package --format freebsd-port --profile ${plan.profile}\`;`,
    '# edit the recipes and generate again rather than editing this file.',
    '',
    assign('PORTNAME', ['nginx']),
    assign('PORTVERSION', [nginx.version]),
    assign('CATEGORIES', ['www']),
    assign('MASTER_SITES', distfiles.map((d) => `${d.site}:${d.group}`)),
    assign('PKGNAMESUFFIX', [suffix]),
    assign('DISTFILES', distfiles.map((d) => `${d.file}:${d.group}`)),
    '',
    assign('MAINTAINER', [input.maintainer ?? 'ports@FreeBSD.org']),
    assign('COMMENT', [`Nginx with statically linked ${plan.components.filter((c) => c.role !== 'server').map((c) => c.displayName).join(', ')} (${plan.profile})`]),
    assign('WWW', [server(plan).homepage || 'https://nginx.org/']),
    '',
    assign('LICENSE', [[...licenses.keys()].join(' ')]),
    assign('LICENSE_COMB', ['multi']),
    ...[...licenses.entries()].map(([id, l]) => assign(`LICENSE_FILE_${id}`, [l.file])),
    ...custom.flatMap((id) => [
      assign(`LICENSE_NAME_${id}`, [licenses.get(id)!.spdx]),
      assign(`LICENSE_PERMS_${id}`, ['dist-mirror dist-sell pkg-mirror pkg-sell auto-accept']),
    ]),
    '',
    assign('USES', ['cmake:indirect cpe gmake perl5']),
    assign('USE_PERL5', ['build']),
    assign('CPE_VENDOR', ['f5']),
    assign('CPE_PRODUCT', ['nginx']),
    assign('USE_RC_SUBR', ['nginx']),
    '',
    assign('CONFLICTS_INSTALL', ['nginx nginx-devel nginx-full nginx-lite nginx-naxsi']),
    '',
    assign('WRKSRC', [`\${WRKDIR}/${nginx.topdir}`]),
    assign('HAS_CONFIGURE', ['yes']),
    '# OpenSSL is built by nginx\'s own make (--with-openssl); nginx keeps only the last',
    '# --with-openssl-opt, so all of OpenSSL\'s options travel in this one variable',
    assign('OPENSSL_OPTIONS', [opensslOpts.filter((o) => o !== 'enable-ktls').join(' ')]),
    assign('CONFIGURE_ARGS', configure),
    '',
    assign('OPTIONS_DEFINE', ['DEBUG KTLS']),
    assign('OPTIONS_DEFAULT', [[...(hasDebug ? ['DEBUG'] : []), ...(plan.ktls ? ['KTLS'] : [])].join(' ')]),
    assign('DEBUG_DESC', ['Debug logging (needed to prove kTLS from the error log)']),
    assign('KTLS_DESC', ['Kernel TLS offload: OpenSSL enable-ktls, SSL_sendfile (see ktls(4))']),
    assign('DEBUG_CONFIGURE_ON', ['--with-debug']),
    assign('KTLS_VARS', ['OPENSSL_OPTIONS+=enable-ktls']),
    '',
    assign('SUB_FILES', ['pkg-message']),
    assign('SUB_LIST', [`PIDFILE=${pidPath} CONFFILE=${confPath}`]),
    '',
  ];
  const setPatches = plan.patches.filter((p) => p.origin.kind === 'patchset');
  const localNginx = plan.patches.filter((p) => p.origin.kind === 'local' && p.component === 'nginx');
  const localOther = plan.patches.filter((p) => p.origin.kind === 'local' && p.component !== 'nginx');
  if (localNginx.length) mk.push('# files/patch-* are the project\'s own nginx patches (git-style a/ b/ paths)', assign('PATCH_STRIP', ['-p1']), '');

  const files: Record<string, string> = {};
  const patchFileName = (id: string) => path.posix.basename(id).replace(/[^A-Za-z0-9._-]/g, '_');
  for (const p of localNginx) {
    if (p.origin.kind !== 'local') continue;
    files[`files/patch-${patchFileName(p.id)}`] = readFileSync(p.origin.path, 'utf8');
  }
  for (const p of localOther) {
    if (p.origin.kind !== 'local') continue;
    files[`files/extra-patch-${p.component}-${patchFileName(p.id)}`] = readFileSync(p.origin.path, 'utf8');
  }

  if (setPatches.length) {
    const sets = plan.patchSets
      .map((set) => ({ set, list: setPatches.filter((p) => p.origin.kind === 'patchset' && p.origin.patchSet === set.name) }))
      .filter((x) => x.list.length);
    const varOf = (name: string) => `${groupOf(name).toUpperCase()}_PATCHES`;
    for (const { set, list } of sets) {
      mk.push(`# ${set.name}: ${set.description}; applied in this order`);
      mk.push(assign(varOf(set.name), list.map((p) => checkArg(path.posix.basename(p.origin.path)))));
    }
    mk.push('', 'pre-patch:');
    for (const { set, list } of sets) {
      const c = component(plan, set.component);
      const dir = path.posix.dirname(list[0]!.origin.path);
      mk.push(
        `\t@for p in \${${varOf(set.name)}}; do \\`,
        `\t\t\${ECHO_MSG} "===>  Applying ${set.name} $$p"; \\`,
        `\t\t\${PATCH} -d \${WRKDIR}/${c.topdir} -p${list[0]!.strip} -E -s --forward < \${WRKDIR}/${dir}/$$p || exit 1; \\`,
        '\tdone',
      );
    }
    mk.push('');
  }
  if (localOther.length) {
    mk.push('post-patch:');
    for (const p of localOther) {
      const c = component(plan, p.component);
      mk.push(`\t@\${ECHO_MSG} "===>  Applying ${p.id}"`);
      mk.push(`\t@\${PATCH} -d \${WRKDIR}/${c.topdir} -p${p.strip} -E -s --forward < \${FILESDIR}/extra-patch-${p.component}-${patchFileName(p.id)}`);
    }
    mk.push('');
  }

  mk.push('pre-configure:');
  for (const c of separate) {
    mk.push(`# ${c.displayName} ${c.version}: ${c.build!.system} build from the recipe, installed into \${WRKDIR}/${c.layout}`);
    const src = `\${WRKDIR}/${c.topdir}`;
    const tool: Record<string, string> = { make: '${GMAKE}', cmake: '${CMAKE_BIN}' };
    const cmds = libraryCommands(c, { prefix: `\${WRKDIR}/${c.layout}`, jobs: ['-j${MAKE_JOBS_NUMBER}'], make: tool.make, cmake: tool.cmake, cmakeDir: 'build-port' });
    for (const cmd of cmds) {
      const env = Object.entries(cmd.env).map(([k, v]) => (v === null ? `-u ${k}` : `${k}="${checkArg(v)}"`));
      // our own make variables (${WRKDIR}, ${MAKE_JOBS_NUMBER}) stay; recipe text is checked
      const args = cmd.args.map((a) => (a.includes('${WRKDIR}/') || a === '-j${MAKE_JOBS_NUMBER}' ? a : checkArg(a)));
      const portEnv = cmd.step === 'configure' ? '${CONFIGURE_ENV}' : '${MAKE_ENV}';
      mk.push(`\tcd ${src} && \${SETENV} ${portEnv}${env.length ? ` ${env.join(' ')}` : ''} ${cmd.cmd} ${args.join(' ')}`);
    }
    for (const f of copiedOutputs(c)) {
      const to = `\${WRKDIR}/${c.layout}/${path.posix.dirname(f)}`;
      mk.push(`\t\${MKDIR} ${to} && \${CP} -R ${src}/${checkArg(f)} ${to}/`);
    }
  }
  mk.push('');

  // what nginx's `make install` writes, as the package should own it
  const confFiles = ['fastcgi.conf', 'fastcgi_params', 'mime.types', path.posix.basename(confPath), 'scgi_params', 'uwsgi_params'].sort();
  const plainConf = ['koi-utf', 'koi-win', 'win-utf'];
  mk.push(
    'post-install:',
    '# configuration files become @sample files: installed when absent, kept when edited',
    `.for f in ${confFiles.join(' ')}`,
    `\t\${MV} \${STAGEDIR}${confDir}/\${f} \${STAGEDIR}${confDir}/\${f}.sample`,
    `\t\${RM} \${STAGEDIR}${confDir}/\${f}.default`,
    '.endfor',
    ...runDirs.map((d) => `\t-\${RMDIR} \${STAGEDIR}${d}`),
    ...tempDirs.map((d) => `\t\${MKDIR} \${STAGEDIR}${d}`),
    `\t\${STRIP_CMD} --strip-debug \${STAGEDIR}${sbinPath}`,
    '',
    '.include <bsd.port.mk>',
    '',
  );

  const plist = [
    ...confFiles.map((f) => `@sample ${plistPath(confDir)}/${f}.sample`),
    ...plainConf.map((f) => `${plistPath(confDir)}/${f}`),
    plistPath(sbinPath),
    `${plistPath(prefix)}/html/50x.html`,
    `${plistPath(prefix)}/html/index.html`,
    ...[...logDirs, ...tempDirs].sort().map((d) => `@dir ${plistPath(d)}`),
  ];

  const descr = [
    ...wrap(`nginx ${nginx.version} built from pinned, verified sources by nginx-forge, profile "${plan.profile}": ${plan.description}.`, 72),
    '',
    'Statically linked components:',
    ...plan.components.filter((c) => c.role !== 'server').map((c) => `  ${c.displayName} ${c.version} (${c.license})`),
    '',
    ...(plan.patches.length ? wrap(`${plan.patches.length} patches are applied to the sources (${[...new Set(plan.patches.map((p) => (p.origin.kind === 'patchset' ? p.origin.patchSet : 'project patches')))].join(', ')}).`, 72) : []),
  ];

  const ktlsNote = plan.ktls
    ? [
        'Kernel TLS (KTLS option): ktls(4) must be enabled before nginx starts:',
        '  sysctl kern.ipc.tls.enable=1            (persist it in /etc/sysctl.conf)',
        '  kldload ktls_ocf                        (only where /boot/kernel/ktls_ocf.ko',
        '                                           exists; newer kernels have it built in)',
        'and the server block needs:',
        '  ssl_conf_command Options KTLS;',
        '  sendfile on;',
      ]
    : [];
  const message = [
    '[',
    '{ type: install',
    '  message: <<EOM',
    `nginx (nginx-forge profile ${plan.profile}) is installed.`,
    '',
    'Configuration: %%CONFFILE%%. Enable the service with',
    '  sysrc nginx_enable=YES && service nginx start',
    ...(ktlsNote.length ? ['', ...ktlsNote] : []),
    'EOM',
    '}',
    ']',
  ];

  const rc = [
    '#!/bin/sh',
    '',
    '# PROVIDE: nginx',
    '# REQUIRE: LOGIN cleanvar',
    '# KEYWORD: shutdown',
    '#',
    '# Add to /etc/rc.conf to start nginx at boot:',
    '#   nginx_enable="YES"',
    '',
    '. /etc/rc.subr',
    '',
    'name=nginx',
    'rcvar=nginx_enable',
    '',
    'load_rc_config $name',
    '',
    ': ${nginx_enable:="NO"}',
    '',
    'command="%%PREFIX%%/sbin/nginx"',
    'pidfile="%%PIDFILE%%"',
    'required_files="%%CONFFILE%%"',
    'extra_commands="reload configtest"',
    'start_precmd="nginx_checkconfig"',
    'reload_precmd="nginx_checkconfig"',
    'configtest_cmd="nginx_checkconfig"',
    'sig_reload="HUP"',
    '',
    'nginx_checkconfig()',
    '{',
    '\t${command} -t -q || return 1',
    ...(plan.ktls
      ? [
          '\tif [ "$(sysctl -n kern.ipc.tls.enable 2>/dev/null)" != 1 ]; then',
          '\t\twarn "kern.ipc.tls.enable is not 1: TLS stays in userspace (sysctl kern.ipc.tls.enable=1)"',
          '\tfi',
        ]
      : []),
    '}',
    '',
    'run_rc_command "$1"',
    '',
  ];

  const distinfo = [`TIMESTAMP = ${epoch}`];
  for (const d of distfiles) {
    distinfo.push(`SHA256 (${d.file}) = ${d.sha256}`);
    if (d.size !== undefined) distinfo.push(`SIZE (${d.file}) = ${d.size}`);
  }

  files.Makefile = `${mk.join('\n')}`;
  files.distinfo = `${distinfo.join('\n')}\n`;
  files['pkg-plist'] = `${plist.join('\n')}\n`;
  files['pkg-descr'] = `${descr.join('\n').trimEnd()}\n`;
  files['files/pkg-message.in'] = `${message.join('\n')}\n`;
  files['files/nginx.in'] = rc.join('\n');
  return { files, distfiles, warnings };
}

/** Write the port into dir (replacing an earlier generation); returns the written paths. */
export async function writeFreebsdPort(input: PortInput & { dir: string }): Promise<PortResult & { dir: string; paths: string[] }> {
  const r = await freebsdPort(input);
  rmSync(input.dir, { recursive: true, force: true });
  const paths: string[] = [];
  for (const [rel, text] of Object.entries(r.files).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const f = path.join(input.dir, rel);
    mkdirSync(path.dirname(f), { recursive: true });
    writeFileSync(f, text);
    paths.push(f);
  }
  return { ...r, dir: input.dir, paths };
}
