// A FreeBSD port skeleton generated from a BuildPlan: the same pinned sources, patches and
// configure arguments, built by the ports framework on FreeBSD.
//
//   Makefile      PORTNAME/PORTVERSION, every source as a DISTFILE with a MASTER_SITES group,
//                 OPTIONS: DEBUG (off), KTLS, and SSL = PINNED_SSL (the recipe's OpenSSL, built by
//                 nginx's make) | SYSTEM_SSL (base or ports OpenSSL through USES=ssl);
//                 zlib-ng + jemalloc built static in pre-configure (as the Linux build does);
//                 install paths from plan.install moved to hier(7): /usr -> ${PREFIX},
//                 /etc -> ${PREFIX}/etc, /run -> /var/run; --with-cc-opt/--with-ld-opt start with
//                 the user's ${CFLAGS}/${LDFLAGS}; CONFLICTS_INSTALL with the other profiles' ports
//   distinfo      TIMESTAMP, SHA256 and SIZE of every distfile (SIZE: the recipe's, else the
//                 verified copy in the distfiles store; a file with neither gets no SIZE line and
//                 a warning). Each distfile is the archive a Linux build records in its manifest
//                 and SBOM: Debian's pool copy first (zlib-ng: Debian's repack), see portArtifact()
//   pkg-plist, pkg-descr, pkg-message, files/nginx.in (rc.d script)
//   files/*.in    the production configuration (src/conf/nginx.ts) for FreeBSD's paths, user www,
//                 installed as @sample files; man page nginx.8
//   files/patch-*            the project's own nginx patches (patches/nginx/...), applied by the
//                            framework (-p1) after EXTRA_PATCHES
//   files/extra-patch-<c>-*  the project's own patches of the other components, applied in post-patch
//
// Patch sets (e.g. Debian's security fixes) are NOT copied into files/: their archive is one more
// DISTFILE (pinned by its sha256 in distinfo, fetched from the ports framework's DEBIAN mirrors),
// left out of EXTRACT_ONLY and unpacked by post-extract into ${WRKDIR}/<patch set>/, so two
// archives that both hold debian/ never meet. nginx's are applied by the framework (EXTRA_PATCHES,
// in the recipe's order); another component's in post-patch (-d <its source tree>).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { confInput, shippedConf } from '../conf/nginx.ts';
import { freebsdModuleOptions } from './modules.ts';
import path from 'node:path';
import { UsageError } from '../errors.ts';
import { checkStore } from '../fetch/store.ts';
import { component, server, tlsLibrary, type BuildPlan } from '../plan.ts';
import { copiedOutputs, libraryCommands } from '../recipes/commands.ts';
import { TEMP_PATHS } from '../nginxconf.ts';
import { fillConsume } from '../recipes/consume.ts';
import type { Artifact } from '../recipes/schema.ts';
import { sourceDateEpoch, wrap } from './common.ts';
import { assertSafePlan, envNameProblem, makefileWordProblem, ownableDirProblem } from '../recipes/safe.ts';

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

/**
 * COMMENT: at most 70 characters (portlint: "COMMENT exceeds 70 characters limit"). The statically
 * linked libraries are named "statically linked", else "static", else the last ones give way to
 * "and more"; pkg-descr lists them all.
 */
export function portComment(plan: BuildPlan): string {
  const libs = plan.components.filter((c) => c.role !== 'server').map((c) => c.displayName);
  const tail = ` (${plan.profile})`;
  const candidates = [
    `Nginx with statically linked ${libs.join(', ')}${tail}`,
    `Nginx with static ${libs.join(', ')}${tail}`,
    ...libs.map((_, i) => libs.length - 1 - i).filter((n) => n > 0).map((n) => `Nginx with static ${libs.slice(0, n).join(', ')} and more${tail}`),
  ];
  return candidates.find((c) => c.length <= 70) ?? `Nginx built by nginx-forge${tail}`;
}

/** Characters that would need escaping inside a Makefile value and a shell word, and control characters: refuse them. */
function checkArg(a: string): string {
  const p = makefileWordProblem(a);
  if (p) throw new UsageError(`cannot put an argument into a port Makefile: ${p}`, 'drop "$", quotes, backslashes, "#" and control characters from the profile or recipe');
  return a;
}

function quoteArg(a: string): string {
  checkArg(a);
  const special = /[\s'*?[\]{}()&;|<>~]/;
  const m = /^(-{0,2}[A-Za-z0-9_-]+=)(.*)$/.exec(a);
  if (m && special.test(m[2]!)) return `${m[1]}"${m[2]}"`;
  return special.test(a) ? `"${a}"` : a;
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

/**
 * The artifact the port fetches. An archive Debian's main pool carries comes first: it is the one a
 * Linux build on a Debian host can always fetch, and the bytes its manifest and SBOM then record
 * (zlib-ng: Debian's repack, not the tag archive). From its upstream URL when it has one whose
 * last segment is the file, else from the ports framework's DEBIAN mirrors. Without a pool copy:
 * the first artifact with an upstream URL.
 */
export function portArtifact(c: BuildPlan['components'][number]): { artifact: Artifact; file: string; site: string } | undefined {
  const upstream = (a: Artifact) => {
    const url = a.urls[0];
    if (!url) return undefined;
    const base = url.slice(url.lastIndexOf('/') + 1);
    if (base === a.file) return { artifact: a, file: a.file, site: url.slice(0, url.length - base.length) };
    // a URL whose last segment is not the file name (e.g. a tag archive): the framework fetches
    // <site><file>, and "?dummy=/" turns the appended name into an ignored query string
    return { artifact: a, file: a.file, site: `${url}?dummy=/` };
  };
  for (const a of c.artifacts) {
    if (!a.distro || a.distro.archive !== 'main') continue;
    const u = upstream(a);
    if (u && u.file === a.file && !u.site.includes('?dummy=/')) return u;
    return { artifact: a, file: a.distro.file, site: `DEBIAN/pool/${a.distro.pool}/` };
  }
  for (const a of c.artifacts) {
    const u = upstream(a);
    if (u) return u;
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

/** The other profiles of the recipe set: their ports install the same files (CONFLICTS_INSTALL). */
function otherProfiles(plan: BuildPlan): string[] {
  const dir = path.join(plan.recipesDir, 'profiles');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.replace(/\.json$/, ''))
    .filter((p) => p !== plan.profile)
    .sort();
}

/**
 * The production configuration (src/conf/nginx.ts) with FreeBSD's paths and user: SUB_FILES templates
 * (%%PREFIX%% filled by the framework), each installed as a @sample file.
 */
export function portConfiguration(plan: BuildPlan, paths: Record<string, string>): {
  templates: Record<string, { rel: string; text: string }>;
  symlinks: Record<string, string>;
  dirs: string[];
} {
  const sub = (p: string) => p.replaceAll('${PREFIX}', '%%PREFIX%%');
  const i = plan.install;
  const conf = sub(paths['conf-path']!);
  const install = {
    ...i,
    prefix: sub(paths.prefix!),
    sbin: sub(paths['sbin-path']!),
    conf,
    confDir: path.posix.dirname(conf),
    modules: sub(paths['modules-path']!),
    errorLog: sub(paths['error-log-path']!),
    accessLog: sub(paths['http-log-path']!),
    pid: sub(paths['pid-path']!),
    lock: sub(paths['lock-path']!),
    html: `${sub(paths.prefix!)}/html`,
    user: 'www',
    group: 'www',
  };
  const shipped = shippedConf({ ...confInput(plan), install });
  const templates: Record<string, { rel: string; text: string }> = {};
  for (const [rel, text] of Object.entries(shipped.files)) {
    // flat names in files/ (SUB_FILES): "sites-available/default" -> "default", "conf.d/ktls.conf" -> "ktls.conf"
    templates[path.posix.basename(rel)] = { rel, text: text.replaceAll('systemctl reload nginx', 'service nginx reload') };
  }
  return { templates, symlinks: shipped.symlinks, dirs: shipped.dirs };
}

export async function freebsdPort(input: PortInput): Promise<PortResult> {
  const { plan } = input;
  assertSafePlan(plan, 'the FreeBSD port');
  const warnings: string[] = [];
  const nginx = server(plan);
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

  // configure arguments: install paths from plan.install moved to hier(7); modules and library
  // arguments from the plan; compiler flags are the user's (CFLAGS/LDFLAGS) plus what the libraries need
  const i = plan.install;
  const fb = (key: string, p: string) => freebsdPath(key, p);
  const paths: Record<string, string> = {
    prefix: fb('prefix', i.prefix),
    'sbin-path': fb('sbin-path', i.sbin),
    'modules-path': fb('modules-path', i.modules),
    'conf-path': fb('conf-path', i.conf),
    'error-log-path': fb('error-log-path', i.errorLog),
    'http-log-path': fb('http-log-path', i.accessLog),
    'pid-path': fb('pid-path', i.pid),
    'lock-path': fb('lock-path', i.lock),
  };
  for (const [opt, directive] of Object.entries(TEMP_PATHS)) paths[opt] = fb(opt, i.temp[directive]!);
  const configure: string[] = Object.entries(paths).map(([k, v]) => `--${k}=${v}`);
  const tls = tlsLibrary(plan);
  const opensslOpts = tls?.options ?? [];
  const tlsArgs: string[] = [];
  const modOpts = freebsdModuleOptions(plan, paths['modules-path']!);
  const libs = plan.components.filter((c) => c.role !== 'server' && c.consume);
  for (const a of plan.configureArgs) {
    if (modOpts.isModuleArg(a)) continue; // module OPTIONS (modules.ts)
    if (/^--([a-z-]+-path|prefix)=/.test(a) || a.startsWith('--with-cc-opt=') || a.startsWith('--with-ld-opt=') || a === '--with-debug') continue;
    if (tls && tls.consume?.configureArgs.some((t) => fillConsume(t, tls) === a)) {
      tlsArgs.push(a.startsWith('--with-openssl-opt=') ? '--with-openssl-opt="${OPENSSL_OPTIONS}"' : quoteArg(a));
      continue;
    }
    configure.push(quoteArg(a));
  }
  const ccOpt = libs.flatMap((c) => c.consume!.ccOpt.map((t) => checkArg(fillConsume(t, c))));
  const ldOpt = libs.flatMap((c) => c.consume!.ldOpt.map((t) => checkArg(fillConsume(t, c))));
  configure.push(`--with-cc-opt="\${CFLAGS}${ccOpt.length ? ` ${ccOpt.join(' ')}` : ''}"`, `--with-ld-opt="\${LDFLAGS}${ldOpt.length ? ` ${ldOpt.join(' ')}` : ''}"`);
  configure.push('--user=www', '--group=www');
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
  const portConf = portConfiguration(plan, paths);

  const licenses = new Map<string, { file?: string; spdx: string }>();
  const BSD_LICENSE: Record<string, string> = { 'BSD-2-Clause': 'BSD2CLAUSE', 'BSD-3-Clause': 'BSD3CLAUSE', 'Apache-2.0': 'APACHE20', Zlib: 'ZLIB', MIT: 'MIT', ISCL: 'ISCL' };
  const custom: string[] = [];
  for (const c of plan.components) {
    const base = c.license.replace(/\s+WITH\s+.*$/, '');
    let id = BSD_LICENSE[base];
    if (!id) {
      id = base.toUpperCase().replace(/[^A-Z0-9]/g, '');
      custom.push(id);
    }
    // the TLS library's sources are absent with SYSTEM_SSL: a license the framework knows needs no file
    const optionalSource = c.role === 'tls' && !custom.includes(id);
    if (!licenses.has(id)) licenses.set(id, { file: optionalSource ? undefined : `\${WRKDIR}/${c.topdir}/${c.licenseFiles[0]}`, spdx: c.license });
  }

  // libraries nginx's own make cannot build from a --with-*= source tree are built before configure,
  // with the same generic builder commands the pipeline runs (recipes' "build"), installed in place
  const separate = plan.components.filter((c) => c.role !== 'server' && c.consume?.placement === 'deps');
  // the pinned TLS library is one side of an OPTIONS choice: base/ports OpenSSL (USES=ssl) is the other
  const tlsGroup = tls ? groupOf(tls.name) : undefined;
  const tlsSets = new Set(plan.patchSets.filter((s) => tls && s.component === tls.name).map((s) => groupOf(s.name)));
  const optional = (d: PortDistfile) => d.group === tlsGroup || tlsSets.has(d.group);
  const archiveSets = new Set(plan.patchSets.map((s) => groupOf(s.name)));
  const mainFiles = distfiles.filter((d) => !optional(d));
  const tlsFiles = distfiles.filter(optional);
  const conflicts = ['nginx', 'nginx-devel', 'nginx-full', 'nginx-lite', 'nginx-naxsi', ...otherProfiles(plan).map((p) => `nginx-forge-${p}`)];
  const mk: string[] = [
    `# nginx built from pinned, verified sources: nginx-forge profile "${plan.profile}".`,
    `# Generated by \`nginx-forge package --format freebsd-port --profile ${plan.profile}\`;`,
    '# edit the recipes and generate again rather than editing this file.',
    '',
    assign('PORTNAME', [server(plan).name]),
    assign('PORTVERSION', [nginx.version]),
    assign('CATEGORIES', ['www']),
    assign('MASTER_SITES', distfiles.map((d) => `${d.site}:${d.group}`)),
    assign('PKGNAMESUFFIX', [suffix]),
    assign('DISTFILES', mainFiles.map((d) => `${d.file}:${d.group}`)),
    // patch-set archives are not extracted over WRKDIR: post-extract unpacks each into its own directory
    assign('EXTRACT_ONLY', mainFiles.filter((d) => !archiveSets.has(d.group)).map((d) => d.file)),
    '',
    assign('MAINTAINER', [input.maintainer ?? 'ports@FreeBSD.org']),
    assign('COMMENT', [portComment(plan)]),
    assign('WWW', [server(plan).homepage || 'https://nginx.org/']),
    '',
    assign('LICENSE', [[...licenses.keys()].join(' ')]),
    assign('LICENSE_COMB', ['multi']),
    ...[...licenses.entries()].flatMap(([id, l]) => (l.file ? [assign(`LICENSE_FILE_${id}`, [l.file])] : [])),
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
    '# every nginx-forge profile installs sbin/nginx, as the ports\' own nginx flavours do',
    assign('CONFLICTS_INSTALL', [conflicts.join(' ')]),
    '',
    assign('WRKSRC', [`\${WRKDIR}/${nginx.topdir}`]),
    assign('HAS_CONFIGURE', ['yes']),
    '# the user\'s CFLAGS and LDFLAGS reach nginx (--with-cc-opt/--with-ld-opt) and the libraries',
    '# (CONFIGURE_ENV, MAKE_ENV); the Linux profile\'s own hardening flags are the framework\'s job here',
    assign('CONFIGURE_ARGS', configure),
    '',
    ...(tls
      ? [
          assign('OPTIONS_DEFINE', [['DEBUG', ...(tls.ktls ? ['KTLS'] : []), ...modOpts.define].join(' ')]),
          assign('OPTIONS_SINGLE', ['SSL']),
          assign('OPTIONS_SINGLE_SSL', ['PINNED_SSL SYSTEM_SSL']),
          assign('OPTIONS_DEFAULT', [['PINNED_SSL', ...(plan.ktls ? ['KTLS'] : []), ...modOpts.define].join(' ')]),
        ]
      : [assign('OPTIONS_DEFINE', [['DEBUG', ...modOpts.define].join(' ')]), assign('OPTIONS_DEFAULT', [modOpts.define.join(' ')])]),
    assign('DEBUG_DESC', ['Debug logging (nginx -V shows --with-debug; for diagnosis, not production)']),
    assign('DEBUG_CONFIGURE_ON', ['--with-debug']),
    ...(tls
      ? [
          assign('SSL_DESC', ['TLS library']),
          assign('PINNED_SSL_DESC', [`${tls.displayName} ${tls.version} as pinned by nginx-forge, linked statically`]),
          assign('SYSTEM_SSL_DESC', ['OpenSSL from base or ports (DEFAULT_VERSIONS+=ssl=...)']),
          assign('PINNED_SSL_DISTFILES', tlsFiles.map((d) => `${d.file}:${d.group}`)),
          '# OpenSSL is built by nginx\'s own make (--with-openssl); nginx keeps only the last',
          '# --with-openssl-opt, so all of OpenSSL\'s options travel in this one variable',
          assign('OPENSSL_OPTIONS', [opensslOpts.filter((o) => o !== tls.ktls?.option).join(' ')]),
          assign('PINNED_SSL_CONFIGURE_ON', tlsArgs),
          assign('PINNED_SSL_EXTRACT_ONLY', tlsFiles.filter((d) => !archiveSets.has(d.group)).map((d) => d.file)),
          assign('SYSTEM_SSL_USES', ['ssl']),
          assign('SYSTEM_SSL_CFLAGS', ['-I${OPENSSLINC}']),
          assign('SYSTEM_SSL_LDFLAGS', ['-L${OPENSSLLIB}']),
          ...(tls.ktls
            ? [
                assign('KTLS_DESC', ['Kernel TLS offload: SSL_sendfile, ktls(4); base OpenSSL has it on FreeBSD 13+']),
                ...(tls.ktls.option ? [assign('KTLS_VARS', [`OPENSSL_OPTIONS+=${tls.ktls.option}`])] : []),
              ]
            : []),
        ]
      : []),
    ...modOpts.lines,
    '',
    assign('SUB_FILES', ['pkg-message', ...Object.keys(portConf.templates).sort()]),
    assign('SUB_LIST', [`PIDFILE=${pidPath} CONFFILE=${confPath}`]),
    '',
  ];
  const setPatches = plan.patches.filter((p) => p.origin.kind === 'patchset');
  const localNginx = plan.patches.filter((p) => p.origin.kind === 'local' && p.component === server(plan).name);
  const localOther = plan.patches.filter((p) => p.origin.kind === 'local' && p.component !== server(plan).name);

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

  // patch sets: each archive unpacked into ${WRKDIR}/<set>/; nginx's go through the framework
  // (EXTRA_PATCHES, applied before files/patch-*), the other components' in post-patch
  const sets = plan.patchSets
    .map((set) => ({ set, list: setPatches.filter((p) => p.origin.kind === 'patchset' && p.origin.patchSet === set.name), d: distfiles.find((x) => x.group === groupOf(set.name)) }))
    .filter((x) => x.list.length && x.d);
  const setPath = (set: string, p: (typeof setPatches)[number]) => `\${WRKDIR}/${set}/${checkArg(p.origin.kind === 'patchset' ? p.origin.path : '')}`;
  const nginxSets = sets.filter((x) => x.set.component === server(plan).name);
  if (nginxSets.length || localNginx.length) {
    for (const { set } of nginxSets) mk.push(`# ${set.name}: ${set.description}; applied in this order`);
    if (nginxSets.length) mk.push(assign('EXTRA_PATCHES', nginxSets.flatMap(({ set, list }) => list.map((p) => `${setPath(set.name, p)}:-p${p.strip}`))));
    if (localNginx.length) mk.push('# files/patch-* are the project\'s own nginx patches (git-style a/ b/ paths)', assign('PATCH_STRIP', ['-p1']));
    mk.push('');
  }
  const extractLines = (list: typeof sets) =>
    list.flatMap(({ set, d }) => [`\t@\${MKDIR} \${WRKDIR}/${set.name}`, `\t@\${TAR} -xf \${_DISTDIR}/${d!.file} -C \${WRKDIR}/${set.name}`]);
  const mainSets = sets.filter((x) => !optional(x.d!));
  const tlsSetList = sets.filter((x) => optional(x.d!));
  if (mainSets.length) mk.push('post-extract:', ...extractLines(mainSets), '');
  if (tlsSetList.length) mk.push('post-extract-PINNED_SSL-on:', ...extractLines(tlsSetList), '');
  const applyLines = (list: typeof sets) =>
    list.flatMap(({ set, list: ps }) => {
      const c = component(plan, set.component);
      return [
        `# ${set.name}: ${set.description}; applied in this order`,
        ...ps.map((p) => `\t@\${PATCH} -d \${WRKDIR}/${c.topdir} -p${p.strip} -E -s --forward < ${setPath(set.name, p)}`),
      ];
    });
  const otherMain = mainSets.filter((x) => x.set.component !== server(plan).name);
  if (otherMain.length || localOther.length) {
    mk.push('post-patch:', ...applyLines(otherMain));
    for (const p of localOther) {
      const c = component(plan, p.component);
      mk.push(`\t@\${ECHO_MSG} "===>  Applying ${p.id}"`);
      mk.push(`\t@\${PATCH} -d \${WRKDIR}/${c.topdir} -p${p.strip} -E -s --forward < \${FILESDIR}/extra-patch-${p.component}-${patchFileName(p.id)}`);
    }
    mk.push('');
  }
  if (tlsSetList.length) mk.push('post-patch-PINNED_SSL-on:', ...applyLines(tlsSetList), '');

  mk.push('pre-configure:');
  for (const c of separate) {
    mk.push(`# ${c.displayName} ${c.version}: ${c.build!.system} build from the recipe, installed into \${WRKDIR}/${c.layout}`);
    const src = `\${WRKDIR}/${c.topdir}`;
    const tool: Record<string, string> = { make: '${GMAKE}', cmake: '${CMAKE_BIN}' };
    const cmds = libraryCommands(c, { prefix: `\${WRKDIR}/${c.layout}`, jobs: ['-j${MAKE_JOBS_NUMBER}'], make: tool.make, cmake: tool.cmake, cmakeDir: 'build-port' });
    for (const cmd of cmds) {
      const env = Object.entries(cmd.env).map(([k, v]) => {
        const bad = envNameProblem(k);
        if (bad) throw new UsageError(`cannot put ${c.name}'s build.env into a port Makefile: ${bad}`, 'build.env keys are shell identifiers: letters, digits and "_"');
        return v === null ? `-u ${k}` : `${k}="${checkArg(v)}"`;
      });
      // our own make variables (${WRKDIR}, ${MAKE_JOBS_NUMBER}) stay; recipe text is checked
      const args = cmd.args.map((a) => (a.includes('${WRKDIR}/') || a === '-j${MAKE_JOBS_NUMBER}' ? a : quoteArg(a)));
      const portEnv = cmd.step === 'configure' ? '${CONFIGURE_ENV}' : '${MAKE_ENV}';
      mk.push(`\tcd ${src} && \${SETENV} ${portEnv}${env.length ? ` ${env.join(' ')}` : ''} ${cmd.cmd} ${args.join(' ')}`);
    }
    for (const f of copiedOutputs(c)) {
      const to = `\${WRKDIR}/${c.layout}/${path.posix.dirname(f)}`;
      mk.push(`\t\${MKDIR} ${to} && \${CP} -R ${src}/${checkArg(f)} ${to}/`);
    }
  }
  mk.push('');

  // what nginx's `make install` writes, as the package should own it; nginx.conf is replaced by
  // the production configuration (src/conf/nginx.ts), rendered for FreeBSD's paths in files/*.in
  const confFiles = ['fastcgi.conf', 'fastcgi_params', 'mime.types', 'scgi_params', 'uwsgi_params'].sort();
  const plainConf = ['koi-utf', 'koi-win', 'win-utf'];
  mk.push(
    'post-install:',
    '# configuration files become @sample files: installed when absent, kept when edited',
    `.for f in ${confFiles.join(' ')}`,
    `\t\${MV} \${STAGEDIR}${confDir}/\${f} \${STAGEDIR}${confDir}/\${f}.sample`,
    `\t\${RM} \${STAGEDIR}${confDir}/\${f}.default`,
    '.endfor',
    `\t\${RM} \${STAGEDIR}${confDir}/${path.posix.basename(confPath)} \${STAGEDIR}${confDir}/${path.posix.basename(confPath)}.default`,
    `\t@\${MKDIR} ${portConf.dirs.map((d) => `\${STAGEDIR}${confDir}/${d}`).join(' ')}`,
    ...Object.entries(portConf.templates)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, { rel }]) => `\t\${INSTALL_DATA} \${WRKDIR}/${name} \${STAGEDIR}${confDir}/${rel}.sample`),
    ...Object.entries(portConf.symlinks).map(([f, target]) => `\t\${LN} -sf ${target} \${STAGEDIR}${confDir}/${f}`),
    ...runDirs.map((d) => `\t-\${RMDIR} \${STAGEDIR}${d}`),
    ...tempDirs.map((d) => `\t\${MKDIR} \${STAGEDIR}${d}`),
    `\t\${INSTALL_MAN} \${WRKSRC}/objs/nginx.8 \${STAGEDIR}\${PREFIX}/share/man/man8`,
    `\t\${STRIP_CMD} --strip-debug \${STAGEDIR}${sbinPath}`,
    '',
    '.include <bsd.port.mk>',
    '',
  );

  const confEntries = [
    ...confFiles.map((f) => `@sample ${plistPath(confDir)}/${f}.sample`),
    ...Object.values(portConf.templates).map(({ rel }) => `@sample ${plistPath(confDir)}/${rel}.sample`),
    ...plainConf.map((f) => `${plistPath(confDir)}/${f}`),
    ...Object.keys(portConf.symlinks).map((f) => `${plistPath(confDir)}/${f}`),
    // empty directories only: a directory with files in it is the files' parent already
    ...portConf.dirs
      .filter((d) => ![...Object.values(portConf.templates).map((t) => t.rel), ...Object.keys(portConf.symlinks)].some((f) => f.startsWith(`${d}/`)))
      .map((d) => `@dir ${plistPath(confDir)}/${d}`),
  ];
  const plist = [
    ...confEntries.sort((a, b) => (a.replace(/^@\w+ /, '') < b.replace(/^@\w+ /, '') ? -1 : 1)),
    plistPath(sbinPath),
    `${plistPath(prefix)}/html/50x.html`,
    `${plistPath(prefix)}/html/index.html`,
    'share/man/man8/nginx.8.gz',
    ...[...logDirs, ...tempDirs].sort().map((d) => `@dir ${plistPath(d)}`),
    ...modOpts.plist,
  ];
  for (const [name, { text }] of Object.entries(portConf.templates)) files[`files/${name}.in`] = text;

  const descr = [
    ...wrap(`nginx ${nginx.version} built from pinned, verified sources by nginx-forge, profile "${plan.profile}": ${plan.description}.`, 72),
    '',
    'Statically linked components:',
    ...plan.components.filter((c) => c.role !== 'server').map((c) => `  ${c.displayName} ${c.version} (${c.license})`),
    '',
    ...(plan.patches.length ? wrap(`${plan.patches.length} patches are applied to the sources (${[...new Set(plan.patches.map((p) => (p.origin.kind === 'patchset' ? p.origin.patchSet : 'project patches')))].join(', ')}).`, 72) : []),
    // the Linux packages' twins (nginx-debug) are one binary here: the port's DEBUG option
    ...(plan.variants.length ? ['', ...wrap(`The port installs one nginx; the ${plan.variants.map((v) => v.name).join(', ')} twin of the Linux packages is this port built with the DEBUG option (--with-debug).`, 72)] : []),
  ];

  const ktlsNote = plan.ktls
    ? [
        'Kernel TLS (KTLS option): ktls(4) must be enabled before nginx starts:',
        '  sysctl kern.ipc.tls.enable=1            (persist it in /etc/sysctl.conf)',
        '  kldload ktls_ocf                        (only where /boot/kernel/ktls_ocf.ko',
        '                                           exists; newer kernels have it built in)',
        'The configuration turns it on for every TLS server in',
        '  %%PREFIX%%/etc/nginx/conf.d/ktls.conf (ssl_conf_command Options KTLS; sendfile on;)',
        'and sites-available/example-tls shows a TLS server the kernel can offload.',
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
