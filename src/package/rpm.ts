// An RPM package from a build's DESTDIR staging tree: a spec generated from the plan, built with
// rpmbuild. Same content as the .deb (service.ts's stageTree): binary, production configuration
// as %config(noreplace), systemd unit, logrotate rule, system user created in %pre, license files
// as %license, SBOM and manifest as %doc.
//
//   <pkg>-<nginx version>-<release>.<arch>.rpm
//     /usr/sbin/nginx, /etc/nginx/*, /usr/lib/systemd/system/nginx.service, /etc/logrotate.d/nginx,
//     /var/lib/nginx, /var/log/nginx, /usr/share/nginx/html/*,
//     /usr/share/doc/<pkg>/{sbom.cdx.json,manifest.json}, /usr/share/licenses/<pkg>/<component>/*
//
// Its own systemd unit (ExecStop with kill(1): no start-stop-daemon on RPM distributions).
// Dynamic modules stay in this package, stripped, with the .deb's load_module snippet in
// /usr/share/nginx/modules-available/; %post links it into /etc/nginx/modules-enabled/ and
// sites-enabled/default on a first install only ($1 = 1), %preun removes those links on erase:
// what the admin disabled stays disabled across upgrades and reinstalls. The twins' sub-packages
// have %systemd_post/_preun/_postun as they expand.
//
// The spec does not compile anything: %install copies the staged tree (the build already ran
// under nginx-forge's pinned, verified pipeline). Reproducible where rpmbuild allows it:
// SOURCE_DATE_EPOCH, clamped file mtimes, build time and build host fixed.
// rpmlint findings that are intended are filtered in <pkg>.rpmlintrc, each with its reason.
import { appendFileSync, chmodSync, copyFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../tmpdirs.ts';
import { execa } from 'execa';
import { copyFileAtomic } from '../outdir.ts';
import { run, type RunContext } from '../exec.ts';
import { component, server, type BuildPlan } from '../plan.ts';
import { formatMaintainer, maintainer, sourceDateEpoch, twinPackageName, walk, wrap } from './common.ts';
import { enableOnFirstInstall, removeEnableLinks, stageTree, type EnableLink, type Tree } from './service.ts';
import { dynamicModules, moduleLink, moduleSnippet } from './modules.ts';
import type { DebugFile } from './debug.ts';
import { assertSafePlan, SYSTEM_DIRS } from '../recipes/safe.ts';

export interface RpmInput {
  plan: BuildPlan;
  root: string;
  licensesDir: string;
  sbom?: string;
  manifest?: string;
  outDir: string;
  log: string;
  /** Ctrl-C (the package command's interruptible()): stops the running command, the temp tree is removed */
  signal?: AbortSignal;
  release?: number;
  maintainer?: string;
  sourceDateEpoch?: number;
  strip?: 'debug' | 'none';
  /** the twin binaries (plan.variants) as built: name → binary in its install tree (BuildSummary.variants) */
  variants?: Record<string, string>;
}

export const rpmPackageName = (plan: BuildPlan) => `nginx-forge-${plan.profile}`;
export const UNIT_DIR = '/usr/lib/systemd/system';

// Directories of the base system (src/recipes/safe.ts SYSTEM_DIRS): the package uses them but must not own them.

/** SPDX expression of the whole package: every component's license, joined with AND. */
export function rpmLicense(plan: BuildPlan): string {
  const parts = [...new Set(plan.components.map((c) => c.license))];
  return parts.map((l) => (/\s(AND|OR)\s/.test(l) ? `(${l})` : l)).join(' AND ');
}

/** The %files section for a staged tree (paths relative to the package root). */
export function filesSection(plan: BuildPlan, entries: { rel: string; kind: 'dir' | 'file' | 'symlink' }[], pkg: string): string[] {
  const i = plan.install;
  const doc = `/usr/share/doc/${pkg}`;
  const lic = `/usr/share/licenses/${pkg}`;
  const state = new Set([...i.tempDirs, ...i.logDirs]);
  const out: string[] = [];
  for (const e of entries) {
    const p = `/${e.rel}`;
    if (e.kind === 'dir') {
      if (SYSTEM_DIRS.has(p)) continue;
      // logs: root-owned, only the master (root) writes them; temp: the workers write there
      if (i.logDirs.includes(p)) out.push(`%dir %attr(0750,root,root) ${p}`);
      else if (state.has(p)) out.push(`%dir %attr(0750,${i.user},${i.group}) ${p}`);
      else out.push(`%dir ${p}`);
    } else if (p.startsWith(`${lic}/`)) {
      out.push(`%license ${p}`);
    } else if (p.startsWith(`${doc}/`)) {
      out.push(`%doc ${p}`);
    } else if (e.kind === 'file' && p.startsWith('/etc/')) {
      out.push(`%config(noreplace) ${p}`);
    } else if (p === i.sbin || plan.variants.some((v) => v.sbin === p)) {
      out.push(`%attr(0755,root,root) ${p}`);
    } else {
      out.push(p);
    }
  }
  return out;
}

/** The debug-symbol sub-package's name, as Fedora's find-debuginfo names it. */
export const rpmDebuginfoName = (pkg: string) => `${pkg}-debuginfo`;

/**
 * The debug files in Fedora's layout inside a package tree: the file at
 * usr/lib/debug/<path>-<version>-<release>.<arch>.debug, and usr/lib/debug/.build-id/xx/rest.debug
 * a relative link to it. Returns the %files lines of the debuginfo sub-package.
 */
export function placeDebuginfo(treeDir: string, debug: DebugFile[], nvra: string): string[] {
  const files: string[] = [];
  const dirs = new Set<string>();
  for (const d of [...new Map(debug.map((x) => [x.buildId, x])).values()]) {
    const target = `usr/lib/debug/${path.relative(treeDir, d.file)}-${nvra}.debug`;
    mkdirSync(path.dirname(path.join(treeDir, target)), { recursive: true });
    copyFileSync(d.debug, path.join(treeDir, target));
    chmodSync(path.join(treeDir, target), 0o644);
    mkdirSync(path.dirname(path.join(treeDir, d.rel)), { recursive: true });
    symlinkSync(path.relative(path.dirname(`/${d.rel}`), `/${target}`), path.join(treeDir, d.rel));
    dirs.add(`/${path.dirname(d.rel)}`);
    files.push(`/${target}`, `/${d.rel}`);
  }
  return [...[...dirs].sort().map((d) => `%dir ${d}`), ...files];
}

/** A twin's sub-package name: <pkg>-debug for nginx-debug. */
export const rpmTwinName = twinPackageName;

export interface SpecInput {
  plan: BuildPlan;
  pkg: string;
  release: number;
  who: string;
  epoch: number;
  files: string[];
  /** per twin (plan.variants): its %files lines, in a sub-package of its own */
  twinFiles?: Record<string, string[]>;
  /** %install copies this directory into the build root */
  treeDir: string;
  /** links %post makes on a first install (sites-enabled/default, the modules' modules-enabled links) */
  links?: EnableLink[];
  /** the <pkg>-debuginfo sub-package: its %files lines (rpm adds `Provides: debuginfo(build-id) = ...` itself) */
  debuginfo?: { files: string[] };
}

/**
 * One service's scriptlet lines, as %systemd_post and %systemd_preun expand (the macros are not
 * available everywhere rpmbuild runs): preset on a first install (distribution policy says whether
 * it is enabled); stopped and disabled (its wants links removed) on erase.
 */
const systemdPost = (service: string) => `# as %systemd_post expands
if [ $1 -eq 1 ] && [ -x /usr/bin/systemctl ]; then
    /usr/bin/systemctl --no-reload preset ${service}.service >/dev/null 2>&1 || :
fi`;
const systemdPreun = (service: string) => `# as %systemd_preun expands: stopped and disabled on erase
if [ $1 -eq 0 ] && [ -x /usr/bin/systemctl ]; then
    /usr/bin/systemctl --no-reload disable --now ${service}.service >/dev/null 2>&1 || :
fi`;
const systemdPostun = (service: string) => `if [ $1 -ge 1 ] && [ -x /usr/bin/systemctl ]; then
    /usr/bin/systemctl try-restart ${service}.service >/dev/null 2>&1 || :
fi`;

export function rpmSpec(s: SpecInput): string {
  const { plan } = s;
  const links = s.links ?? [];
  assertSafePlan(plan, `the RPM spec of ${s.pkg}`);
  const i = plan.install;
  const nginx = server(plan);
  const libs = plan.components.filter((c) => c.role !== 'server');
  const date = new Date(s.epoch * 1000).toUTCString().replace(/^(\w{3}), (\d{2}) (\w{3}) (\d{4}).*$/, '$1 $3 $2 $4');
  const conflicts = ['nginx', 'nginx-core', 'nginx-filesystem', 'nginx-mainline'].filter((x) => x !== s.pkg);
  const description = [
    ...wrap(`nginx ${nginx.version} built by nginx-forge from pinned, verified sources, profile "${plan.profile}": ${plan.description.replace(/\s*\.?$/, '.')}`, 76),
    '',
    ...wrap(`Statically linked: ${libs.map((c) => `${c.displayName} ${c.version}`).join(', ')}. Build plan ${plan.planHash.slice(0, 16)}; the SBOM and manifest are in /usr/share/doc/${s.pkg}/.`, 76),
  ];
  const user = i.user;
  return `# Generated by nginx-forge (profile ${plan.profile}, plan ${plan.planHash.slice(0, 16)}); do not edit:
# change the recipes and run \`nginx-forge package --format rpm\` again.
#
# Nothing is compiled here: %install copies the tree nginx-forge built, verified and staged.
%global debug_package %{nil}
# the binary is already stripped (debug info only; the symbol table stays for \`nm | grep ktls_\`)
%global __os_install_post %{nil}
%global _build_id_links none
# reproducible: file mtimes clamped to SOURCE_DATE_EPOCH, which is also the build time
%global clamp_mtime_to_source_date_epoch 1
%global use_source_date_epoch_as_buildtime 1
%global _buildhost nginx-forge

Name:           ${s.pkg}
Version:        ${nginx.version}
Release:        ${s.release}%{?dist}
Summary:        High performance web server (nginx built by nginx-forge, profile ${plan.profile})
Group:          Productivity/Networking/Web/Servers
Packager:       ${s.who}
License:        ${rpmLicense(plan)}
URL:            ${server(plan).homepage || 'https://nginx.org/'}
Requires(pre):  /usr/sbin/useradd
Requires(pre):  /usr/sbin/groupadd
Requires(pre):  /usr/bin/getent
Recommends:     logrotate
Provides:       webserver
Provides:       nginx = ${nginx.version}-${s.release}
Conflicts:      ${conflicts.join(' ')}
# the binaries are built for ${plan.target.triple} (nginx-forge's target): rpmbuild --target ${plan.target.rpmArch}
ExclusiveArch:  ${plan.target.rpmArch}

%description
${description.join('\n')}

%prep

%build

%install
cp -a ${s.treeDir}/. %{buildroot}/

%pre
# the unprivileged user nginx's worker processes run as
getent group ${user} >/dev/null || groupadd -r ${user}
getent passwd ${user} >/dev/null || \\
    useradd -r -g ${user} -d ${i.tempDirs[0] ?? '/nonexistent'} -s /sbin/nologin -c "nginx web server" ${user}
exit 0

%post
# the default site and the dynamic modules are enabled on a first install only (links, not
# package files): what the admin removes stays removed across upgrades and reinstalls
if [ $1 -eq 1 ]; then
${enableOnFirstInstall(links, '    ').join('\n') || '    :'}
fi
${systemdPost(i.service)}

%preun
${systemdPreun(i.service)}
# on erase, the links %post made (if still as it made them), before the directories go
if [ $1 -eq 0 ]; then
${removeEnableLinks(links, '    ').join('\n') || '    :'}
fi

%postun
${systemdPostun(i.service)}

%files
${s.files.join('\n')}
${plan.variants
  .map(
    (v) => `
%package -n ${rpmTwinName(s.pkg, v)}
Summary:        The ${v.name} twin of nginx: ${v.flags.join(' ')} (nginx-forge, profile ${plan.profile})
Requires:       ${s.pkg} = %{version}-%{release}

%description -n ${rpmTwinName(s.pkg, v)}
${wrap(`${v.sbin}: ${v.description.replace(/\s*\.?$/, '.')} Built from the same sources, patches and libraries as ${i.sbin} in ${s.pkg}, with ${v.flags.join(' ')} added; ${v.name}.service runs it instead of ${i.service}.service, with the same configuration.`, 76).join('\n')}

%post -n ${rpmTwinName(s.pkg, v)}
${systemdPost(v.name)}

%preun -n ${rpmTwinName(s.pkg, v)}
${systemdPreun(v.name)}

%postun -n ${rpmTwinName(s.pkg, v)}
${systemdPostun(v.name)}

%files -n ${rpmTwinName(s.pkg, v)}
${(s.twinFiles?.[v.name] ?? []).join('\n')}
`,
  )
  .join('')}${
    s.debuginfo
      ? `
%package -n ${rpmDebuginfoName(s.pkg)}
Summary:        Debug information for package ${s.pkg}

%description -n ${rpmDebuginfoName(s.pkg)}
${wrap(`This package provides debug information for package ${s.pkg} (${[i.sbin, ...plan.variants.map((v) => v.sbin)].join(', ')}), in Fedora's layout: /usr/lib/debug<path>-<version>-<release>.<arch>.debug, found by gdb through /usr/lib/debug/.build-id/.`, 76).join('\n')}

%files -n ${rpmDebuginfoName(s.pkg)}
${s.debuginfo.files.join('\n')}
`
      : ''
  }
%changelog
* ${date} ${s.who} - ${nginx.version}-${s.release}
- Built by nginx-forge from pinned, verified sources: profile ${plan.profile},
  plan ${plan.planHash.slice(0, 16)}.
- Components: ${plan.components.map((c) => `${c.displayName} ${c.version}`).join(', ')}.
`;
}

/**
 * rpmlint findings this package has on purpose, as rpmlint's own filter file (addFilter takes a
 * regular expression over the output line). Each with its reason.
 */
export function rpmlintrc(plan: BuildPlan, pkg: string, o: { debuginfo?: boolean } = {}): string {
  const f = (why: string[], re: string) => [...why.map((l) => `# ${l}`), `addFilter("${re}")`, ''];
  // the main package and its twins' sub-packages (nginx-debug), the debuginfo one, and every binary they ship
  const twins = plan.variants.map((v) => rpmTwinName(pkg, v));
  const dbg = o.debuginfo ? [rpmDebuginfoName(pkg)] : [];
  const P = twins.length + dbg.length ? `(${[pkg, ...twins, ...dbg].join('|')})` : pkg;
  const sbins = [plan.install.sbin, ...plan.variants.map((v) => v.sbin)];
  const bins = sbins.length > 1 ? `(${sbins.join('|')})` : sbins[0]!;
  const names = sbins.map((b) => b.split('/').pop()!);
  return [
    `# rpmlint filters for ${pkg} (generated by nginx-forge). Each one is intended:`,
    '',
    ...f(['Debug information is removed; the symbol table is kept on purpose so that', '`nm /usr/sbin/nginx | grep ktls_` (nginx-forge verify) can prove OpenSSL was built with kTLS.'], `${P}\\.\\S+: [EW]: unstripped-binary-or-object ${bins}`),
    ...f(['The packages are signed (or not) by whoever publishes them, after the build.'], `${P}\\.\\S+: [EW]: no-signature`),
    ...f(["The worker user is created in %pre with groupadd/useradd, as Fedora's own nginx package does;", 'sysusers.d is not on every RPM distribution this package may be installed on.'], `${P}\\.\\S+: [EW]: (non-standard-(uid|gid)|dangerous-command-in-%pre)`),
    ...f(['The log and temp directories are 0750 on purpose: nginx keeps them private.'], `${P}\\.\\S+: [EW]: non-standard-dir-perm`),
    // a plan with dynamic modules ships their .so files under /usr/lib: then only the twins have the finding
    ...((dynamicModules(plan).length ? twins : [pkg, ...twins]).length
      ? f(
          ['The only file under /usr/lib is the systemd unit, which belongs there (/usr/lib/systemd/system).'],
          `${dynamicModules(plan).length ? (twins.length > 1 ? `(${twins.join('|')})` : twins[0]) : P}\\.\\S+: [EW]: only-non-binary-in-usr-lib`,
        )
      : []),
    ...f(
      ["%post links the default site (and each dynamic module's snippet) on a first install only, as Debian's", 'nginx postinst does: a package file would come back on every upgrade after the admin removed it.'],
      `${pkg}\\.\\S+: [EW]: dangerous-command-in-%post ln`,
    ),
    ...f(["Manual pages are gzip-compressed (Fedora, RHEL); rpmlint's default expects openSUSE's bzip2,", 'and then does not see the page it has for nginx either.'], `${P}\\.\\S+: [EW]: (manpage-not-compressed bz2|no-manual-page-for-binary (${names.join('|')}))`),
    ...f(["SPDX identifiers of the components' licenses; rpmlint's built-in list predates some of them."], `${P}\\.\\S+: [EW]: invalid-license(-exception)? (BSD-3-Clause|PCRE2-exception)`),
    ...f(['The logrotate rule is named after the service (nginx), not the package: it takes the place', "of the distribution nginx's file (the packages conflict)."], `${P}\\.\\S+: [EW]: incoherent-logrotate-file /etc/logrotate.d/${plan.install.service}`),
    ...f(["nginx's own code: gethostbyname() only resolves names in the configuration at startup."], `${P}\\.\\S+: [EW]: binary-or-shlib-calls-gethostbyname ${bins}`),
    ...(twins.length
      ? f(
          ["A twin is built from the very same sources and libraries as the main package's binary: it requires", 'exactly that build (= version-release), and its documentation, licenses and SBOM are there.'],
          `(${twins.join('|')})\\.\\S+: [EW]: (requires-on-release ${pkg} = |no-documentation)`,
        )
      : []),
    ...(dbg.length
      ? f(
          ['The debug files are `objcopy --only-keep-debug` output: the symbols and DWARF of the binaries, without', "their dynamic section or code (so neither dependency information nor calls to look at), and, like Fedora's", 'debuginfo packages, no documentation of their own. They are unstripped: the symbols are what they are for.'],
          `${dbg[0]}\\.\\S+: [EW]: ((shared-library-without-dependency-information|binary-or-shlib-calls-gethostbyname|unstripped-binary-or-object) /usr/lib/debug/|no-documentation)`,
        )
      : []),
  ].join('\n');
}


export interface RpmResult {
  rpm: string;
  /** one sub-package per twin (nginx-debug), beside the main one */
  twins: string[];
  spec: string;
  rpmlintrc: string;
  tree: Tree;
  /** <pkg>-debuginfo: the debug symbols of nginx and its twins (none when not stripped) */
  debuginfo?: string;
}

/** Build the .rpm; returns its path in outDir (the spec and rpmlintrc are written next to it). */
export async function buildRpm(input: RpmInput): Promise<RpmResult> {
  const { plan } = input;
  const ctx: RunContext = { component: server(plan).name, stage: 'package:rpm', log: input.log, signal: input.signal };
  const pkg = rpmPackageName(plan);
  const release = input.release ?? 1;
  const epoch = sourceDateEpoch(input.sourceDateEpoch, input.manifest);
  const who = formatMaintainer(maintainer(input.maintainer));
  const scratch = tempDir('rpm');
  try {
    const treeDir = path.join(scratch, 'tree');
    const tree = await stageTree({
      plan,
      root: input.root,
      licensesDir: input.licensesDir,
      sbom: input.sbom,
      manifest: input.manifest,
      dest: treeDir,
      docDir: `/usr/share/doc/${pkg}`,
      licenseDir: `/usr/share/licenses/${pkg}`,
      unitDir: UNIT_DIR,
      // RPM distributions have no "adm" group: logs stay root's group
      logGroup: 'root',
      strip: input.strip ?? 'debug',
      ctx,
      stage: 'package:rpm',
      variants: input.variants,
      family: 'rpm',
      debugDir: path.join(scratch, 'debug'),
    });
    // the dynamic modules stay in this package (stripped by stageTree), loaded as the .deb's
    // module packages load them: a load_module snippet, linked into modules-enabled/ by %post
    const links = [...tree.links];
    for (const m of dynamicModules(plan)) {
      const { link, snippet } = moduleLink(m);
      mkdirSync(path.dirname(path.join(treeDir, snippet)), { recursive: true });
      writeFileSync(path.join(treeDir, snippet), moduleSnippet(plan, m, pkg));
      links.push({ link, target: snippet });
    }
    // the target's RPM architecture (aarch64 for a cross build), never the build host's
    const arch = plan.target.rpmArch;
    // the distribution's tag where rpmbuild's macros define one (.fc41, .el9: Release 1%{?dist});
    // none on a Debian build host, where the package is for any RPM distribution
    const dist = (await run(ctx, 'rpm', ['--eval', '%{?dist}'])).trim();
    const debugLines = tree.debug.length ? placeDebuginfo(treeDir, tree.debug, `${server(plan).version}-${release}${dist}.${arch}`) : [];
    const entries = walk(treeDir).filter((e) => e.rel !== 'usr/lib/debug' && !e.rel.startsWith('usr/lib/debug/'));
    for (const e of entries) {
      if (e.kind !== 'symlink') chmodSync(path.join(treeDir, e.rel), e.kind === 'dir' || e.mode & 0o111 ? 0o755 : 0o644);
    }
    // the twins' files (nginx-debug and its unit) go to their sub-packages
    const twinPaths = new Map(Object.entries(tree.variantFiles).flatMap(([name, fs]) => fs.map((f) => [f.replace(/^\/+/, ''), name] as const)));
    const twinFiles = Object.fromEntries(plan.variants.map((v) => [v.name, filesSection(plan, entries.filter((e) => twinPaths.get(e.rel) === v.name), pkg)]));
    const debuginfo = debugLines.length ? { files: debugLines } : undefined;
    const spec = rpmSpec({ plan, pkg, release, who, epoch, files: filesSection(plan, entries.filter((e) => !twinPaths.has(e.rel)), pkg), twinFiles, treeDir, links, debuginfo });
    const top = path.join(scratch, 'rpmbuild');
    for (const d of ['BUILD', 'BUILDROOT', 'RPMS', 'SPECS', 'SRPMS', 'SOURCES']) mkdirSync(path.join(top, d), { recursive: true });
    const specFile = path.join(top, 'SPECS', `${pkg}.spec`);
    writeFileSync(specFile, spec);
    await run(
      { ...ctx, env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch), LC_ALL: 'C', TZ: 'UTC' }, timeoutMs: 20 * 60_000 },
      'rpmbuild',
      ['-bb', '--target', arch, '--define', `_topdir ${top}`, specFile],
    );
    const built = walk(path.join(top, 'RPMS')).filter((e) => e.kind === 'file' && e.rel.endsWith('.rpm')).map((e) => e.rel);
    const names = [pkg, ...plan.variants.map((v) => rpmTwinName(pkg, v)), ...(debuginfo ? [rpmDebuginfoName(pkg)] : [])];
    if (built.length !== names.length) throw new Error(`rpmbuild made ${built.length} packages, expected ${names.join(', ')}: ${built.join(', ')}`);
    mkdirSync(input.outDir, { recursive: true });
    const out = path.resolve(input.outDir);
    const made = names.map((name) => {
      const file = `${name}-${server(plan).version}-${release}${dist}.${arch}.rpm`;
      const from = built.find((b) => path.basename(b) === file);
      if (!from) throw new Error(`rpmbuild did not make ${file} (made: ${built.join(', ')})`);
      const to = path.join(out, file);
      copyFileAtomic(path.join(top, 'RPMS', from), to);
      return to;
    });
    const specOut = path.join(out, `${pkg}.spec`);
    writeFileSync(specOut, spec.replaceAll(treeDir, '%{_sourcedir}/tree'));
    const lintrc = path.join(out, `${pkg}.rpmlintrc`);
    writeFileSync(lintrc, rpmlintrc(plan, pkg, { debuginfo: Boolean(debuginfo) }));
    const rpm = made[0]!;
    const twins = made.slice(1, 1 + plan.variants.length);
    return { rpm, twins, spec: specOut, rpmlintrc: lintrc, tree: { ...tree, dest: '' }, ...(debuginfo ? { debuginfo: made.at(-1)! } : {}) };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

export interface RpmlintReport {
  version: string;
  errors: string[];
  warnings: string[];
  lines: string[];
}

/**
 * rpmlint with the package's filter file; every E:/W: line that is left. The main package and its
 * twins go in one run: the filter file covers them all, and a filter no package used is an error.
 */
export async function rpmlint(rpm: string | string[], rc: string | undefined, log: string): Promise<RpmlintReport> {
  const ctx = { component: 'nginx', stage: 'package:rpmlint', log };
  const version = (await run(ctx, 'rpmlint', ['--version'])).trim();
  const rpms = Array.isArray(rpm) ? rpm : [rpm];
  // rpmlint exits non-zero when it reports errors: the output is what matters
  const r = await execa('rpmlint', [...(rc ? ['-r', rc] : []), ...rpms], { reject: false, all: true, env: { LC_ALL: 'C.UTF-8' } });
  const out = String(r.all ?? '');
  appendFileSync(log, `\n$ rpmlint ${rc ? `-r ${rc} ` : ''}${rpms.join(' ')}\n${out}\n`);
  const lines = out.split('\n');
  const found = lines.filter((l) => /: [EW]: /.test(l));
  return { version, errors: found.filter((l) => /: E: /.test(l)), warnings: found.filter((l) => /: W: /.test(l)), lines };
}
