// pkg-plist: the configuration as @sample files, the binary, the html pages, the man page, the
// log and temp directories, the modules' .so files.
import { PLAIN_CONF, SAMPLE_CONF, type PortConfiguration } from './conf.ts';
import type { PortLayout } from './paths.ts';

/** A path as a plist entry: relative to ${PREFIX}, or absolute outside it. */
const plistPath = (p: string) => (p.startsWith('${PREFIX}/') ? p.slice('${PREFIX}/'.length) : p);

/** modulePlist: the module OPTIONS' plist lines (modules.ts freebsdModuleOptions). */
export function portPlist(layout: PortLayout, portConf: PortConfiguration, modulePlist: string[]): string {
  const { confDir, sbinPath, prefix, logDirs, tempDirs } = layout;
  const confEntries = [
    ...SAMPLE_CONF.map((f) => `@sample ${plistPath(confDir)}/${f}.sample`),
    ...Object.values(portConf.templates).map(({ rel }) => `@sample ${plistPath(confDir)}/${rel}.sample`),
    ...PLAIN_CONF.map((f) => `${plistPath(confDir)}/${f}`),
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
    ...modulePlist,
  ];
  return `${plist.join('\n')}\n`;
}
