// A Debian binary package (.deb) from a build's DESTDIR staging tree, built with dpkg-deb.
//
//   nginx-forge-<profile>_<nginx version>-<revision>_<arch>.deb
//     /usr/sbin/nginx                       the built binary (debug info stripped, symbols kept)
//     /etc/nginx/*                          all listed in DEBIAN/conffiles; the production layout of
//                                           src/conf/nginx.ts (conf.d, sites-*, modules-enabled, snippets)
//     /lib/systemd/system/nginx.service     Type=forking, `nginx -t` before start/reload, sandboxed
//                                           (/usr/lib/... where dpkg >= 1.22, i.e. Debian 13)
//     /etc/logrotate.d/nginx
//     /var/lib/nginx, /var/log/nginx
//     /usr/share/nginx/html/*
//     /usr/share/doc/<pkg>/                 copyright (machine-readable, every component),
//                                           changelog.Debian.gz, README.Debian, sbom.cdx.json,
//                                           manifest.json, licenses/<component>/<file>
//     /usr/share/lintian/overrides/<pkg>    each override with its reason
//   DEBIAN/ control, conffiles, md5sums, postinst (creates the system user; links
//           sites-enabled/default on a first install only), prerm, postrm (dh_installsystemd
//           13.11's snippets, DPKG_ROOT guards included); the twin (nginx-debug) has its own
//           (--no-enable --no-start: stopped on remove, its links removed on purge)
// Paths and names come from plan.install; the shared tree is service.ts's stageTree().
//
// Deterministic: every mtime is SOURCE_DATE_EPOCH, modes are normalised, owners are root
// (--root-owner-group), dpkg-deb sorts the members. Same inputs → byte-identical .deb.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../tmpdirs.ts';
import { gzipSync } from 'node:zlib';
import { run, type RunContext } from '../exec.ts';
import { component, server, type BuildPlan, type PlanVariant } from '../plan.ts';
import { linkedIntoBinary, splitModules } from './modules.ts';
import {
  controlText,
  copyrightLines,
  dep5License,
  formatMaintainer,
  licenseFilesOf,
  maintainer,
  packDeb,
  twinPackageName,
  rfc2822,
  sourceDateEpoch,
  wrap,
} from './common.ts';
import { enableOnFirstInstall, ownedDirs, rel, removeEnableLinks, stageTree, type EnableLink } from './service.ts';
import { buildDbgsymDeb } from './dbgsym.ts';
import { shlibDepends } from './targettools.ts';
import { debRevisionSuffix, debUnitDir, hostDistro, type Distro } from './distro.ts';

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
  /** Ctrl-C (the package command's interruptible()): stops the running command, the temp tree is removed */
  signal?: AbortSignal;
  /** Debian revision: version is <nginx version>-<revision> (default 1) */
  revision?: number;
  /** "Name <email>" (default: NGINX_FORGE_MAINTAINER, DEBFULLNAME/DEBEMAIL, placeholder) */
  maintainer?: string;
  /** default: SOURCE_DATE_EPOCH, else the manifest's sourceDateEpoch, else a fixed date */
  sourceDateEpoch?: number;
  /** Debian architecture (default: the plan's target's, src/target.ts: amd64, arm64) */
  arch?: string;
  /** 'debug' (default): strip debug info only, keep the symbol table; 'none': ship the binary as built */
  strip?: 'debug' | 'none';
  /** where the systemd unit goes (default: /lib/systemd/system, /usr/lib/systemd/system with dpkg >= 1.22) */
  unitDir?: string;
  /** the twin binaries (plan.variants) as built: name → binary in its install tree (BuildSummary.variants) */
  variants?: Record<string, string>;
  /**
   * the distribution the package is for (distro.ts): its revision suffix (~deb12u1) and unit
   * directory; default: the build host's; null: none (plain <version>-<revision>)
   */
  distro?: Distro | null;
  /** the debug-symbol packages (<pkg>-dbgsym, one per package with binaries); default true with strip 'debug' */
  dbgsym?: boolean;
}

export const debPackageName = (plan: BuildPlan) => `nginx-forge-${plan.profile}`;
/** The target distribution of a DebInput: given, none (null), or the build host's (undefined). */
export const debDistro = (d: Distro | null | undefined): Distro | undefined => (d === undefined ? hostDistro() : (d ?? undefined));

/**
 * <nginx version>-<revision><distro suffix>: 1.26.3-1~deb12u1 for Debian 12, 1.26.3-1~deb13u1 for
 * Debian 13 (distro.ts); the distribution defaults to the build host's, null for none (1.26.3-1).
 */
export const debVersion = (plan: BuildPlan, revision = 1, distro?: Distro | null) => `${server(plan).version}-${revision}${debRevisionSuffix(debDistro(distro))}`;


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


function postinst(pkg: string, user: string, stateDirs: string[], service: string, links: EnableLink[]): string {
  return `#!/bin/sh
# postinst of ${pkg} (generated by nginx-forge)
set -e

# the default site is enabled on a first install only, as Debian's nginx does: an admin who
# removes the link keeps it removed across upgrades and reinstalls
if [ "$1" = configure ] && [ -z "$2" ]; then
${enableOnFirstInstall(links, '\t', '${DPKG_ROOT:-}').join('\n') || '\t:'}
fi

# the unprivileged user nginx's worker processes run as (adduser is in Depends); like apt's own
# postinst, not for an install into another root (dpkg --root, DPKG_ROOT)
if [ "$1" = configure ] && [ -z "\${DPKG_ROOT:-}" ] && ! getent passwd ${user} >/dev/null; then
\tadduser --system --group --quiet --home /nonexistent --no-create-home ${user}
fi
if [ "$1" = configure ]; then
${stateDirs.map((d) => `\tinstall -d -m 0755 "\${DPKG_ROOT:-}${d}"`).join('\n')}
fi

# Automatically added by dh_installsystemd/13.11.4 (the same text, for ${service}.service)
if [ "$1" = configure ] || [ "$1" = abort-upgrade ] || [ "$1" = abort-deconfigure ] || [ "$1" = abort-remove ]; then
\t# was-enabled defaults to true, so new installations run enable.
\tif deb-systemd-helper --quiet was-enabled '${service}.service'; then
\t\tdeb-systemd-helper enable '${service}.service' >/dev/null || true
\telse
\t\tdeb-systemd-helper update-state '${service}.service' >/dev/null || true
\tfi
fi
if [ "$1" = configure ] || [ "$1" = abort-upgrade ] || [ "$1" = abort-deconfigure ] || [ "$1" = abort-remove ]; then
\tif [ -z "\${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
\t\tsystemctl --system daemon-reload >/dev/null || true
\t\tif [ -n "$2" ]; then
\t\t\t_dh_action=restart
\t\telse
\t\t\t_dh_action=start
\t\tfi
\t\tdeb-systemd-invoke $_dh_action '${service}.service' >/dev/null || true
\tfi
fi

exit 0
`;
}

function prerm(pkg: string, service: string): string {
  return `#!/bin/sh
# prerm of ${pkg} (generated by nginx-forge)
set -e

if [ -z "\${DPKG_ROOT:-}" ] && [ "$1" = remove ] && [ -d /run/systemd/system ]; then
\tdeb-systemd-invoke stop '${service}.service' >/dev/null || true
fi

exit 0
`;
}

/** postrm: daemon-reload on remove; on purge the unit's state, then (main package) its own dirs and links. */
function postrm(pkg: string, purgeDirs: string[], service: string, links: EnableLink[]): string {
  const own = purgeDirs.length || links.length
    ? [
        '\t# logs and temporary files; the system user is kept (Debian never reuses its ids)',
        `\trm -rf ${purgeDirs.map((d) => `"\${DPKG_ROOT:-}${d}"`).join(' ')}`,
        '\t# the links postinst made (not package files), if still as it made them',
        removeEnableLinks(links, '\t', '${DPKG_ROOT:-}').join('\n') || '\t:',
      ]
    : [];
  return [
    '#!/bin/sh',
    `# postrm of ${pkg} (generated by nginx-forge)`,
    'set -e',
    '',
    'if [ "$1" = remove ] && [ -d /run/systemd/system ]; then',
    '\tsystemctl --system daemon-reload >/dev/null || true',
    'fi',
    '',
    'if [ "$1" = purge ]; then',
    '\tif [ -x "/usr/bin/deb-systemd-helper" ]; then',
    `\t\tdeb-systemd-helper purge '${service}.service' >/dev/null || true`,
    '\tfi',
    ...own,
    'fi',
    '',
    'exit 0',
    '',
  ].join('\n');
}

/**
 * The twin's (nginx-debug) scripts: dh_installsystemd --no-enable --no-start for a second service
 * of the same server. Not enabled nor started on install (it conflicts with the main service); the
 * state file records its links so that a purge removes them when the admin enabled it; a remove
 * stops it; an upgrade restarts it only if it runs.
 */
function twinScripts(pkg: string, service: string): Record<string, string> {
  const unit = `'${service}.service'`;
  return {
    postinst: `#!/bin/sh
# postinst of ${pkg} (generated by nginx-forge)
set -e

# as dh_installsystemd/13.11.4 --no-enable --no-start writes it, for ${service}.service
if [ "$1" = configure ] || [ "$1" = abort-upgrade ] || [ "$1" = abort-deconfigure ] || [ "$1" = abort-remove ]; then
\tif deb-systemd-helper debian-installed ${unit}; then
\t\tif deb-systemd-helper --quiet was-enabled ${unit}; then
\t\t\tdeb-systemd-helper enable ${unit} >/dev/null || true
\t\tfi
\tfi
\t# record the links enabling it would make, for the purge to remove
\tdeb-systemd-helper update-state ${unit} >/dev/null || true
fi
if [ "$1" = configure ] || [ "$1" = abort-upgrade ] || [ "$1" = abort-deconfigure ] || [ "$1" = abort-remove ]; then
\tif [ -z "\${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
\t\tsystemctl --system daemon-reload >/dev/null || true
\t\tif [ -n "$2" ]; then
\t\t\tdeb-systemd-invoke try-restart ${unit} >/dev/null || true
\t\tfi
\tfi
fi

exit 0
`,
    prerm: prerm(pkg, service),
    postrm: postrm(pkg, [], service, []),
  };
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
  const nginx = server(plan);
  const paras: string[] = [
    [
      'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
      `Upstream-Name: ${nginx.name}`,
      `Source: ${nginx.homepage || 'https://nginx.org/'}`,
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
        `Files: ${c.role === 'server' ? '*' : `${c.topdir}/*`}`,
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
      'Kernel TLS: the kernel must offer the "tls" module (modprobe tls; the unit tries it).',
      `${plan.install.confDir}/conf.d/ktls.conf turns it on for every TLS server`,
      '("ssl_conf_command Options KTLS;", "sendfile on;"); sites-available/example-tls',
      'shows a TLS server with ciphers the kernel offloads.',
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

/** o2.docs false: a twin, whose doc directory is a link to the main package's (no docs of its own). */
function lintianOverrides(pkg: string, sbin: string, stripped: boolean, o2: { zlibBanner: boolean; firstRevision: boolean; docs?: boolean }): string {
  const docs = o2.docs ?? true;
  const o = docs
    ? [
        '# The license files of the statically linked components ship next to the SBOM so an audit',
        '# finds them without unpacking the source; their full texts are also in the copyright file.',
        `${pkg}: extra-license-file [usr/share/doc/${pkg}/licenses/*]`,
      ]
    : [];
  if (stripped) {
    o.push(
      '# Debug information is removed; the symbol table is kept on purpose so that',
      '# `nm /usr/sbin/nginx | grep ktls_` (nginx-forge verify) can prove OpenSSL was built with kTLS.',
      `${pkg}: unstripped-binary-or-object [${sbin}]`,
    );
  } else {
    o.push(
      '# Shipped byte-identical to the verified, smoke-tested binary recorded in manifest.json.',
      `${pkg}: unstripped-binary-or-object [${sbin}]`,
    );
  }
  if (o2.zlibBanner) {
    o.push(
      '# Static linking is the point of this package: zlib-ng (zlib-compat), OpenSSL, PCRE2 and',
      '# jemalloc are pinned by sha256 and listed in the SBOM; a security fix is a rebuild with a new pin.',
      `${pkg}: embedded-library zlib [${sbin}]`,
    );
  }
  if (o2.firstRevision && docs) {
    o.push(
      '# Built locally by nginx-forge, not uploaded to Debian: there is no ITP bug to close.',
      `${pkg}: initial-upload-closes-no-bugs [usr/share/doc/${pkg}/changelog.Debian.gz:1]`,
    );
  }
  return `${o.join('\n')}\n`;
}

/** Build the .deb; returns its path in outDir. */
/** The main .deb; its twins' packages (nginx-debug) are written beside it: buildDebs() returns them too. */
export async function buildDeb(input: DebInput): Promise<string> {
  return (await buildDebs(input)).deb;
}

/** The twin's package name: nginx-forge-<profile>-debug for nginx-debug. */
export const debTwinName = (plan: BuildPlan, v: PlanVariant) => twinPackageName(debPackageName(plan), v);

/** The main .deb and one package per twin (plan.variants), all in input.outDir. */
export async function buildDebs(input: DebInput): Promise<{ deb: string; twins: string[]; dbgsym: string[] }> {
  const { plan } = input;
  const i = plan.install;
  const ctx: RunContext = { component: server(plan).name, stage: 'package:deb', log: input.log, signal: input.signal };
  const pkg = debPackageName(plan);
  const distro = debDistro(input.distro);
  const version = debVersion(plan, input.revision ?? 1, distro ?? null);
  const user = i.user;
  const epoch = sourceDateEpoch(input.sourceDateEpoch, input.manifest);
  const who = formatMaintainer(maintainer(input.maintainer));

  const scratch = tempDir('deb');
  try {
    const pkgRoot = path.join(scratch, 'pkg');
    const docDir = `/usr/share/doc/${pkg}`;
    const unitDir = `/${(input.unitDir ?? debUnitDir(distro) ?? (await defaultUnitDir(ctx))).replace(/^\/+|\/+$/g, '')}`;
    const tree = await stageTree({
      plan,
      root: input.root,
      licensesDir: input.licensesDir,
      sbom: input.sbom,
      manifest: input.manifest,
      dest: pkgRoot,
      docDir,
      unitDir,
      logGroup: 'adm',
      strip: input.strip ?? 'debug',
      ctx,
      stage: 'package:deb',
      variants: input.variants,
      debugDir: input.dbgsym === false ? undefined : path.join(scratch, 'debug'),
    });
    const { binary, builtSha, stripped } = tree;
    // dynamic modules ship in packages of their own (modules.ts), and so do the twins (nginx-debug)
    splitModules(plan, pkgRoot, path.join(pkgRoot, rel(i.conf)));
    const twinRoots: Record<string, string> = {};
    for (const v of plan.variants) {
      const twinRoot = path.join(scratch, `twin-${v.name}`);
      for (const f of tree.variantFiles[v.name] ?? []) {
        mkdirSync(path.dirname(path.join(twinRoot, rel(f))), { recursive: true });
        renameSync(path.join(pkgRoot, rel(f)), path.join(twinRoot, rel(f)));
      }
      twinRoots[v.name] = twinRoot;
    }

    // files only the .deb has
    const put = (p: string, text: string | Buffer, mode = 0o644) => {
      const f = path.join(pkgRoot, rel(p));
      mkdirSync(path.dirname(f), { recursive: true });
      writeFileSync(f, text);
      chmodSync(f, mode);
    };
    put(`${docDir}/copyright`, copyrightFile(plan, input.licensesDir, pkg));
    put(`${docDir}/changelog.Debian.gz`, gzipSync(changelog(pkg, version, plan, who, epoch), { level: 9 }));
    put(`${docDir}/README.Debian`, readme(pkg, plan, stripped, builtSha, user));
    put(
      `/usr/share/lintian/overrides/${pkg}`,
      lintianOverrides(pkg, rel(i.sbin), stripped, { zlibBanner: hasZlibBanner(readFileSync(binary)), firstRevision: /-1$/.test(version) }),
    );

    const depends = await shlibDepends(ctx, [binary], scratch, plan.target);
    // the target's Debian architecture (arm64 for a cross build for aarch64-linux-gnu), never the build host's
    const arch = input.arch ?? plan.target.debArch;
    const conflicts = 'nginx, nginx-common, nginx-core, nginx-extras, nginx-full, nginx-light';
    const description = [
      `nginx web server built by nginx-forge (${plan.profile})`,
      ...wrap(plan.description.replace(/\s*\.?$/, '.'), 78),
      '.',
      ...wrap(
        `Statically linked: ${linkedIntoBinary(plan)
          .map((c) => `${c.displayName} ${c.version}`)
          .join(', ')}. Build plan ${plan.planHash.slice(0, 16)}; the SBOM and manifest are in ${docDir}/.`,
        78,
      ),
    ];
    const homepage = server(plan).homepage || 'https://nginx.org/';
    const dirs = ownedDirs(plan);
    const deb = await packDeb({
      pkgRoot,
      pkg,
      version,
      arch,
      fields: [
        ['Package', pkg],
        ['Version', version],
        ['Architecture', arch],
        ['Maintainer', who],
        ['Depends', `${depends.depends}, adduser`],
        ['Recommends', 'logrotate'],
        ...(plan.variants.length ? ([['Suggests', plan.variants.map((v) => debTwinName(plan, v)).join(', ')]] as [string, string][]) : []),
        ['Conflicts', conflicts],
        ['Replaces', conflicts],
        ['Provides', 'httpd, nginx'],
        ['Section', 'httpd'],
        ['Priority', 'optional'],
        ['Homepage', homepage],
      ],
      description,
      conffiles: tree.configs,
      scripts: {
        postinst: postinst(pkg, user, dirs.state, i.service, tree.links),
        prerm: prerm(pkg, i.service),
        postrm: postrm(pkg, [...dirs.state, ...dirs.logs].sort(), i.service, tree.links),
      },
      epoch,
      outDir: input.outDir,
      ctx,
    });
    // the twins (nginx-debug): each its own package, depending on exactly this one
    const twins: string[] = [];
    for (const v of plan.variants) {
      const twinRoot = twinRoots[v.name]!;
      const twin = debTwinName(plan, v);
      const twinDepends = await shlibDepends(ctx, [path.join(twinRoot, rel(v.sbin))], scratch, plan.target);
      // Debian's dh_installdocs --link-doc: the doc directory is the main package's (exact Depends);
      // the manual page is nginx's, as the options are
      mkdirSync(path.join(twinRoot, 'usr/share/doc'), { recursive: true });
      symlinkSync(pkg, path.join(twinRoot, 'usr/share/doc', twin));
      if (existsSync(path.join(pkgRoot, 'usr/share/man/man8/nginx.8.gz'))) {
        mkdirSync(path.join(twinRoot, 'usr/share/man/man8'), { recursive: true });
        symlinkSync('nginx.8.gz', path.join(twinRoot, 'usr/share/man/man8', `${v.name}.8.gz`));
      }
      const twinBinary = readFileSync(path.join(twinRoot, rel(v.sbin)));
      mkdirSync(path.join(twinRoot, 'usr/share/lintian/overrides'), { recursive: true });
      writeFileSync(
        path.join(twinRoot, 'usr/share/lintian/overrides', twin),
        lintianOverrides(twin, rel(v.sbin), stripped, { zlibBanner: hasZlibBanner(twinBinary), firstRevision: false, docs: false }),
      );
      twins.push(
        await packDeb({
          pkgRoot: twinRoot,
          pkg: twin,
          version,
          arch,
          fields: [
            ['Package', twin],
            ['Source', pkg],
            ['Version', version],
            ['Architecture', arch],
            ['Maintainer', who],
            ['Depends', `${pkg} (= ${version}), ${twinDepends.depends}`],
            ['Section', 'httpd'],
            ['Priority', 'optional'],
            ['Homepage', homepage],
          ],
          description: [
            `nginx web server built by nginx-forge (${plan.profile}), ${v.name}`,
            ...wrap(`${v.sbin}: ${v.description.replace(/\s*\.?$/, '.')} Built from the same sources, patches and libraries as ${i.sbin} in ${pkg}, with ${v.flags.join(' ')} added. ${v.name}.service runs it instead of ${i.service}.service, with the same configuration.`, 78),
          ],
          scripts: twinScripts(twin, v.name),
          epoch,
          outDir: input.outDir,
          ctx,
        }),
      );
    }
    // the debug symbols of each package's binaries: <pkg>-dbgsym, depending on exactly that package
    const dbgsym: string[] = [];
    const owners: [string, string][] = [[pkg, i.sbin], ...plan.variants.map((v): [string, string] => [debTwinName(plan, v), v.sbin])];
    for (const [owner, sbin] of owners) {
      const debug = tree.debug.filter((d) => d.file === path.join(pkgRoot, rel(sbin)));
      if (!debug.length) continue;
      dbgsym.push(await buildDbgsymDeb({ pkg: owner, source: pkg, version, arch, maintainer: who, homepage, debug, epoch, outDir: input.outDir, ctx }));
    }
    return { deb, twins, dbgsym };
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
