// Dynamic modules as their own Debian packages, the way Debian ships libnginx-mod-*:
//
//   nginx-forge-<profile>-mod-<package>_<module version>-<revision>_<arch>.deb
//     /usr/lib/nginx/modules/<name>.so                     (the plan's --modules-path)
//     /usr/share/nginx/modules-available/mod-<package>.conf  load_module lines
//     /usr/share/doc/<pkg>/copyright, changelog.Debian.gz
//   Depends: nginx-forge-<profile> (= <exact nginx package version>): a module is built against
//   one binary (nginx refuses a .so whose signature differs), as Debian's nginx-abi-* does.
//   postinst links /etc/nginx/modules-enabled/50-mod-<package>.conf to the snippet on a fresh
//   install; afterwards the admin's choice holds, as with Debian's dh_nginx (see postinst below).
// The .rpm and the FreeBSD port ship the .so in the main package with the same snippet and link
// (moduleLink), made on a first install.
//
// The main package (deb.ts) calls splitModules(): the .so files leave it, and its nginx.conf
// includes /etc/nginx/modules-enabled/*.conf (Debian's convention) when the plan has a dynamic module.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../tmpdirs.ts';
import { gzipSync } from 'node:zlib';
import { MissingToolError, StageError } from '../errors.ts';
import { run, type RunContext } from '../exec.ts';
import { component, libraries, moduleObjects, modules, modulesPath, server, type BuildPlan, type PlanComponent } from '../plan.ts';
import { debRevisionSuffix, hostDistro } from './distro.ts';
import type { Target } from '../target.ts';
import { shlibDepends, targetTool } from './targettools.ts';
import { controlText, copyrightLines, dep5License, formatMaintainer, licenseFilesOf, maintainer, packDeb, rfc2822, sourceDateEpoch, walk, wrap } from './common.ts';

type Module = ReturnType<typeof modules>[number];

export const MODULE_CONF = {
  available: 'usr/share/nginx/modules-available',
  enabled: 'etc/nginx/modules-enabled',
} as const;

/** The plan's dynamic modules that become packages. */
export function dynamicModules(plan: BuildPlan): Module[] {
  return modules(plan).filter((m) => m.module.link === 'dynamic');
}

export const modulePackageSuffix = (m: Module) => `mod-${m.module.package ?? m.name}`;
export const modulePackageName = (plan: BuildPlan, m: Module) => `nginx-forge-${plan.profile}-${modulePackageSuffix(m)}`;
export const moduleDebVersion = (m: PlanComponent, revision = 1) => `${m.version}-${revision}`;

/** The load_module snippet (absolute paths: the binary's prefix is not where its modules are). */
export function moduleSnippet(plan: BuildPlan, m: Module, pkg = modulePackageName(plan, m), enabledDir = `/${MODULE_CONF.enabled}`): string {
  return `# ${m.displayName} ${m.version}: enabled by the link in ${enabledDir}/ (package ${pkg})\n${moduleObjects(m)
    .map((so) => `load_module ${path.posix.join(modulesPath(plan), so)};`)
    .join('\n')}\n`;
}

/** The include line Debian's nginx.conf starts with. */
export const ENABLED_INCLUDE = `include /${MODULE_CONF.enabled}/*.conf;`;

/**
 * Hook for the main package: each dynamic module's .so leaves it (it ships in its own package);
 * nginx.conf includes modules-enabled/*.conf and the directory exists. No-op without dynamic modules.
 */
export function splitModules(plan: BuildPlan, pkgRoot: string, confFile: string): void {
  const dyn = dynamicModules(plan);
  if (!dyn.length) return;
  for (const m of dyn) for (const so of moduleObjects(m)) rmSync(path.join(pkgRoot, modulesPath(plan), so), { force: true });
  const dir = path.join(pkgRoot, modulesPath(plan));
  if (existsSync(dir) && walk(dir).length === 0) rmSync(dir, { recursive: true });
  mkdirSync(path.join(pkgRoot, MODULE_CONF.enabled), { recursive: true });
  if (existsSync(confFile)) {
    const conf = readFileSync(confFile, 'utf8');
    if (!conf.includes(ENABLED_INCLUDE)) writeFileSync(confFile, `${ENABLED_INCLUDE}\n${conf}`);
  }
}

/** The module's link in modules-enabled/ and the snippet it points to (absolute install paths). */
export function moduleLink(m: Module): { link: string; snippet: string } {
  return { link: `/${MODULE_CONF.enabled}/50-${modulePackageSuffix(m)}.conf`, snippet: `/${MODULE_CONF.available}/${modulePackageSuffix(m)}.conf` };
}

/** Every dynamic module's .so, as absolute install paths (<modules-path>/<object>). */
export function dynamicModuleFiles(plan: BuildPlan): string[] {
  return dynamicModules(plan).flatMap((m) => moduleObjects(m).map((so) => path.posix.join(modulesPath(plan), so)));
}

/** A module's .so as every package ships it: no debug information, no unneeded symbols. */
export async function stripModuleObject(ctx: RunContext, file: string, target: Target): Promise<void> {
  try {
    await run(ctx, targetTool(target, 'strip'), ['--strip-unneeded', '--remove-section=.comment', file]);
  } catch (e) {
    if (!(e instanceof MissingToolError)) throw e;
  }
}

// The maintainer scripts follow Debian's dh_nginx (libnginx-mod-*): the admin's choice wins.
//   fresh install            the link is made (the module is enabled)
//   upgrade, reinstall       the link is left as the admin left it (removed: stays disabled)
//   remove                   an existing link is renamed <link>.removed (nginx includes *.conf
//                            only, so the module is no longer loaded) ...
//   install after a remove   ... and comes back only if it was there: enabled stays enabled,
//                            disabled stays disabled
//   purge                    the link and <link>.removed go
function postinst(pkg: string, snippet: string, link: string): string {
  return `#!/bin/sh
# postinst of ${pkg} (generated by nginx-forge)
set -e

if [ "$1" = configure ]; then
\t# enabled when the package was removed: enabled again
\twas_enabled=
\tif [ -L "\${DPKG_ROOT:-}${link}.removed" ]; then
\t\trm -f "\${DPKG_ROOT:-}${link}.removed"
\t\twas_enabled=yes
\tfi
\t# a fresh install enables the module; an upgrade or reinstall keeps the admin's choice
\tif [ -z "$2" ] || [ -n "$was_enabled" ]; then
\t\tif [ ! -e "\${DPKG_ROOT:-}${link}" ] && [ ! -L "\${DPKG_ROOT:-}${link}" ]; then
\t\t\tln -s ${snippet} "\${DPKG_ROOT:-}${link}"
\t\tfi
\tfi
fi

exit 0
`;
}

function postrm(pkg: string, link: string): string {
  return `#!/bin/sh
# postrm of ${pkg} (generated by nginx-forge)
set -e

if [ "$1" = remove ] && [ -L "\${DPKG_ROOT:-}${link}" ]; then
\t# the .so is gone: nginx must not load it; remember that it was enabled
\tmv -f "\${DPKG_ROOT:-}${link}" "\${DPKG_ROOT:-}${link}.removed"
fi

if [ "$1" = purge ]; then
\trm -f "\${DPKG_ROOT:-}${link}" "\${DPKG_ROOT:-}${link}.removed"
fi

exit 0
`;
}

function copyright(plan: BuildPlan, m: Module, licensesDir: string, pkg: string): string {
  const libs = libraries(plan).filter((l) => m.module.requires.includes(l.name));
  const paras = [
    [
      'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
      `Upstream-Name: ${m.displayName}`,
      `Source: ${m.homepage}`,
      'Comment:',
      controlText(
        `Binary package ${pkg} built by nginx-forge (profile ${plan.profile}, plan ${plan.planHash}): the nginx module ${m.displayName} ${m.version}` +
          `${libs.length ? `, linked statically with ${libs.map((l) => `${l.displayName} ${l.version}`).join(', ')}` : ''}, for ${server(plan).displayName} ${server(plan).version}.`,
      ),
    ].join('\n'),
  ];
  for (const c of [m, ...libs]) {
    const texts = licenseFilesOf(licensesDir, c.name).map((f) => readFileSync(f, 'utf8'));
    const holders = [...new Set(texts.flatMap(copyrightLines))];
    const who = holders.length ? holders : [`the ${c.displayName} authors (${c.homepage})`];
    paras.push(
      [
        `Files: ${c === m ? '*' : `${c.topdir}/*`}`,
        `Copyright: ${who[0]}${who.slice(1).map((l) => `\n ${l}`).join('')}`,
        `License: ${dep5License(c.license)}`,
        controlText(texts.length ? texts.join('\n\n') : `See ${c.homepage}.`),
        `Comment: ${c.displayName} ${c.version} (${c.license}), source ${c.artifacts[0]!.file} sha256 ${c.sha256}`,
      ].join('\n'),
    );
  }
  return `${paras.join('\n\n')}\n`;
}


export interface ModuleDebInput {
  plan: BuildPlan;
  /** the install stage's DESTDIR tree (holds <modules-path>/*.so) */
  root: string;
  licensesDir: string;
  outDir: string;
  log: string;
  /** Ctrl-C (the package command's interruptible()): stops the running command, the temp tree is removed */
  signal?: AbortSignal;
  /** the main package's exact version, e.g. 1.26.3-1 */
  nginxVersion: string;
  /** the main package's name */
  nginxPackage: string;
  revision?: number;
  /** after the revision: the target distribution's (distro.ts debRevisionSuffix, e.g. ~deb12u1; default the build host's), as the main package's */
  versionSuffix?: string;
  maintainer?: string;
  sourceDateEpoch?: number;
  manifest?: string;
  arch: string;
}

/** One .deb per dynamic module; returns their paths. */
export async function buildModuleDebs(input: ModuleDebInput): Promise<string[]> {
  const out: string[] = [];
  for (const m of dynamicModules(input.plan)) out.push(await buildModuleDeb(input, m));
  return out;
}

async function buildModuleDeb(input: ModuleDebInput, m: Module): Promise<string> {
  const { plan } = input;
  const pkg = modulePackageName(plan, m);
  const ctx: RunContext = { component: m.name, stage: 'package:deb', log: input.log, signal: input.signal };
  const version = `${moduleDebVersion(m, input.revision ?? 1)}${input.versionSuffix ?? debRevisionSuffix(hostDistro())}`;
  const epoch = sourceDateEpoch(input.sourceDateEpoch, input.manifest);
  const who = formatMaintainer(maintainer(input.maintainer));
  const scratch = tempDir('moddeb');
  try {
    const pkgRoot = path.join(scratch, 'pkg');
    const put = (rel: string, text: string | Buffer, mode = 0o644) => {
      const f = path.join(pkgRoot, rel);
      mkdirSync(path.dirname(f), { recursive: true });
      writeFileSync(f, text);
      chmodSync(f, mode);
    };
    const sos: string[] = [];
    for (const so of moduleObjects(m)) {
      const from = path.join(input.root, modulesPath(plan), so);
      if (!existsSync(from)) throw new StageError(m.name, 'package:deb', `the install tree has no ${path.posix.join(modulesPath(plan), so)}`, { hint: 'package the output of the install stage of a plan that builds this module dynamically' });
      const rel = path.posix.join(modulesPath(plan), so).replace(/^\//, '');
      put(rel, readFileSync(from));
      sos.push(path.join(pkgRoot, rel));
    }
    for (const f of sos) await stripModuleObject(ctx, f, plan.target);
    const { link, snippet } = moduleLink(m);
    put(snippet.replace(/^\//, ''), moduleSnippet(plan, m));
    const doc = `usr/share/doc/${pkg}`;
    put(`${doc}/copyright`, copyright(plan, m, input.licensesDir, pkg));
    const items = [
      `Built by nginx-forge for ${input.nginxPackage} ${input.nginxVersion} (profile ${plan.profile}, plan ${plan.planHash.slice(0, 16)}).`,
      `Module ${m.displayName} ${m.version}: ${m.module.names.join(', ')}.`,
    ];
    const bullets = items.map((i) => wrap(i, 74).map((l, n) => (n === 0 ? `  * ${l}` : `    ${l}`)).join('\n')).join('\n');
    put(`${doc}/changelog.Debian.gz`, gzipSync(`${pkg} (${version}) unstable; urgency=medium\n\n${bullets}\n\n -- ${who}  ${rfc2822(epoch)}\n`, { level: 9 }));
    put(
      `usr/share/lintian/overrides/${pkg}`,
      [
        '# Built locally by nginx-forge, not uploaded to Debian: there is no ITP bug to close.',
        `${pkg}: initial-upload-closes-no-bugs [usr/share/doc/${pkg}/changelog.Debian.gz:1]`,
        '',
      ].join('\n'),
    );

    const { depends } = await shlibDepends(ctx, sos, scratch, plan.target);
    const libs = libraries(plan).filter((l) => m.module.requires.includes(l.name));
    // a description line starting with "." is a control statement (e.g. ".br files"): wrap narrower
    const para = (t: string) => [78, 76, 74, 72, 70, 68].map((w) => wrap(t, w)).find((ls) => !ls.some((l) => l.startsWith('.'))) ?? wrap(t.replace(/(^|\s)\./g, '$1 .'), 78);
    const description = [
      `${m.displayName} module for ${input.nginxPackage}`,
      ...para(`${m.description.replace(/\s*\.?$/, '.')}`),
      '.',
      ...para(
        `Dynamic module (${moduleObjects(m).join(', ')}) built by nginx-forge against ${input.nginxPackage} ${input.nginxVersion}${libs.length ? `, linked statically with ${libs.map((l) => `${l.displayName} ${l.version}`).join(', ')}` : ''}. Installing it enables it through /etc/nginx/modules-enabled/.`,
      ),
    ];
    const deb = await packDeb({
      pkgRoot,
      pkg,
      version,
      arch: input.arch,
      fields: [
        ['Package', pkg],
        ['Version', version],
        ['Architecture', input.arch],
        ['Maintainer', who],
        ['Depends', `${input.nginxPackage} (= ${input.nginxVersion}), ${depends}`],
        ['Section', 'httpd'],
        ['Priority', 'optional'],
        ['Homepage', m.homepage],
      ],
      description,
      scripts: { postinst: postinst(pkg, snippet, link), postrm: postrm(pkg, link) },
      epoch,
      outDir: input.outDir,
      ctx,
    });
    return deb;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * The FreeBSD port's module OPTIONS (one per module, on by default as the profile chose it):
 * <OPT>_CONFIGURE_ON adds --add-module/--add-dynamic-module for the module's tree in ${WRKDIR};
 * a dynamic module's .so files are plist lines under %%<OPT>%%. The port (freebsd/configure.ts)
 * leaves the plan's own --add-*-module arguments out of CONFIGURE_ARGS (isModuleArg) and
 * appends these.
 */
export function freebsdModuleOptions(plan: BuildPlan, modulesDir: string, confDir = '${PREFIX}/etc/nginx') {
  const mods = modules(plan);
  const opt = (m: Module) => (m.module.package ?? m.name).toUpperCase().replace(/[^A-Z0-9]/g, '_');
  const rel = modulesDir.startsWith('${PREFIX}/') ? modulesDir.slice('${PREFIX}/'.length) : modulesDir;
  const sub = (p: string) => p.replaceAll('${PREFIX}', '%%PREFIX%%');
  // a dynamic module is loaded as the .deb loads it: a load_module snippet (SUB_FILES template,
  // installed by post-install-<OPT>-on into share/nginx/modules-available/) linked into
  // modules-enabled/ by pkg-plist's @postexec on a first install (PortLink)
  const dyn = dynamicModules(plan);
  const snippets = dyn.map((m) => {
    const name = `${modulePackageSuffix(m)}.conf`;
    return {
      opt: opt(m),
      name,
      dest: `\${PREFIX}/${MODULE_CONF.available.replace(/^usr\//, '')}/${name}`,
      link: `${confDir}/modules-enabled/50-${name}`,
      objects: moduleObjects(m).map((so) => path.posix.join(modulesDir, so)),
      text: `# ${m.displayName} ${m.version}: enabled by the link in ${sub(confDir)}/modules-enabled/ (port option ${opt(m)})\n${moduleObjects(m)
        .map((so) => `load_module ${sub(path.posix.join(modulesDir, so))};`)
        .join('\n')}\n`,
    };
  });
  return {
    isModuleArg: (a: string) => /^--add(-dynamic)?-module=/.test(a) && mods.some((m) => a.includes(`/${m.layout}`)),
    define: mods.map(opt),
    lines: mods.flatMap((m) => [
      `${opt(m)}_DESC=\t${m.displayName} ${m.version} module (${m.module.link}${m.module.requires.length ? `, with ${m.module.requires.join(', ')}` : ''})`,
      `${opt(m)}_CONFIGURE_ON=\t--add-${m.module.link === 'dynamic' ? 'dynamic-' : ''}module=\${WRKDIR}/${path.posix.join(m.layout!, m.module.configDir)}`,
    ]),
    plist: mods.flatMap((m) => moduleObjects(m).map((so) => `%%${opt(m)}%%${rel}/${so}`)),
    snippets,
  };
}

/**
 * The components linked into the nginx binary itself: every library and static module, but not
 * a dynamic module nor a library only dynamic modules need (those are in the .so files).
 */
export function linkedIntoBinary(plan: BuildPlan): PlanComponent[] {
  const dyn = dynamicModules(plan);
  const onlyDyn = new Set(
    libraries(plan)
      .filter((l) => dyn.some((m) => m.module.requires.includes(l.name)) && !modules(plan).some((m) => m.module.link === 'static' && m.module.requires.includes(l.name)))
      .filter((l) => l.consume && !l.consume.configureArgs.length && !l.consume.ccOpt.length && !l.consume.ldOpt.length)
      .map((l) => l.name),
  );
  return plan.components.filter((c) => c.role !== 'server' && c.module?.link !== 'dynamic' && !onlyDyn.has(c.name));
}
