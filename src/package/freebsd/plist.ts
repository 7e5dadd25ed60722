// pkg-plist: the configuration as @sample files, the binary, the html pages, the man page, the
// log and temp directories, the modules' .so files and load_module snippets, and the links made on
// a first install (sites-enabled/default, modules-enabled/50-mod-*.conf).
import { PLAIN_CONF, SAMPLE_CONF, type PortConfiguration } from './conf.ts';
import type { PortLayout } from './paths.ts';

/** A path as a plist entry: relative to ${PREFIX}, or absolute outside it. */
const plistPath = (p: string) => (p.startsWith('${PREFIX}/') ? p.slice('${PREFIX}/'.length) : p);

/**
 * A link made on a first install, as the .deb's postinst makes it: @postexec creates it unless
 * something is there; @preunexec removes it on deinstall if it still points where it was made to
 * point. An upgrade or reinstall (pkg exports PKG_UPGRADE to the scripts then) touches neither:
 * the admin's choice (a removed default site, a disabled module) holds. opt: an OPTIONS prefix.
 */
export function portLinkLines(link: string, target: string, opt = ''): string[] {
  const l = link.replace(/^\$\{PREFIX\}/, '%D');
  const t = target.replace(/^\$\{PREFIX\}/, '%D');
  return [
    `${opt}@postexec [ -n "\${PKG_UPGRADE:-}" ] || [ -e ${l} ] || [ -L ${l} ] || ln -s ${t} ${l}`,
    `${opt}@preunexec [ -n "\${PKG_UPGRADE:-}" ] || [ "$(readlink ${l})" != "${t}" ] || rm -f ${l}`,
  ];
}

/** modOpts: the module OPTIONS' plist lines and load_module snippets (modules.ts freebsdModuleOptions). */
export function portPlist(
  layout: PortLayout,
  portConf: PortConfiguration,
  modOpts: { plist: string[]; snippets: { opt: string; dest: string; link: string }[] },
): string {
  const { confDir, sbinPath, prefix, logDirs, tempDirs } = layout;
  const confEntries = [
    ...SAMPLE_CONF.map((f) => `@sample ${plistPath(confDir)}/${f}.sample`),
    ...Object.values(portConf.templates).map(({ rel }) => `@sample ${plistPath(confDir)}/${rel}.sample`),
    ...PLAIN_CONF.map((f) => `${plistPath(confDir)}/${f}`),
    // empty directories only: a directory with files in it is the files' parent already (the
    // links, sites-enabled/default, are not files of the package: see portLinkLines)
    ...portConf.dirs
      .filter((d) => !Object.values(portConf.templates).map((t) => t.rel).some((f) => f.startsWith(`${d}/`)))
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
    ...modOpts.snippets.map((m) => `%%${m.opt}%%${plistPath(m.dest)}`),
    ...Object.entries(portConf.symlinks).flatMap(([f, target]) => portLinkLines(`${confDir}/${f}`, target)),
    ...modOpts.snippets.flatMap((m) => portLinkLines(m.link, m.dest, `%%${m.opt}%%`)),
  ];
  return `${plist.join('\n')}\n`;
}
