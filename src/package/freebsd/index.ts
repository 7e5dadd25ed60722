// A FreeBSD port skeleton generated from a BuildPlan: the same pinned sources, patches and
// configure arguments, built by the ports framework on FreeBSD. One module per file it writes;
// they are pure (plan in, text out), the file system is read here only (sizeOf, otherProfiles,
// the project's patches) and written by writeFreebsdPort.
//
//   Makefile      makefile.ts: PORTNAME/PORTVERSION, every source as a DISTFILE with a MASTER_SITES
//                 group (distfiles.ts), OPTIONS: DEBUG (off), KTLS, and SSL = PINNED_SSL (the
//                 recipe's OpenSSL, built by nginx's make) | SYSTEM_SSL (base or ports OpenSSL
//                 through USES=ssl); zlib-ng + jemalloc built static in pre-configure (libraries.ts,
//                 as the Linux build does); install paths from plan.install moved to hier(7)
//                 (paths.ts): /usr -> ${PREFIX}, /etc -> ${PREFIX}/etc, /run -> /var/run;
//                 --with-cc-opt/--with-ld-opt start with the user's ${CFLAGS}/${LDFLAGS}
//                 (configure.ts); CONFLICTS_INSTALL with the other profiles' ports
//   distinfo      distinfo.ts: TIMESTAMP, SHA256 and SIZE of every distfile (SIZE: the recipe's,
//                 else the verified copy in the distfiles store; a file with neither gets no SIZE
//                 line and a warning). Each distfile is the archive a Linux build records in its
//                 manifest and SBOM: Debian's pool copy first (zlib-ng: Debian's repack), see
//                 portArtifact() in distfiles.ts
//   pkg-plist     plist.ts
//   pkg-descr     descr.ts
//   files/pkg-message.in     message.ts
//   files/nginx.in           rc.ts (rc.d script)
//   files/*.in    conf.ts: the production configuration (src/conf/nginx.ts) for FreeBSD's paths,
//                 user www, installed as @sample files; man page nginx.8
//   files/patch-*            patches.ts: the project's own nginx patches (patches/nginx/...),
//                            applied by the framework (-p1) after EXTRA_PATCHES
//   files/extra-patch-<c>-*  the project's own patches of the other components, applied in post-patch
//
// Makefile words (assign, checkArg, quoteArg, groupOf) are make.ts.
//
// Patch sets (e.g. Debian's security fixes) are NOT copied into files/: their archive is one more
// DISTFILE (pinned by its sha256 in distinfo, fetched from the ports framework's DEBIAN mirrors),
// left out of EXTRACT_ONLY and unpacked by post-extract into ${WRKDIR}/<patch set>/, so two
// archives that both hold debian/ never meet. nginx's are applied by the framework (EXTRA_PATCHES,
// in the recipe's order); another component's in post-patch (-d <its source tree>).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkStore } from '../../fetch/store.ts';
import type { BuildPlan } from '../../plan.ts';
import { assertSafePlan } from '../../recipes/safe.ts';
import { sourceDateEpoch } from '../common.ts';
import { freebsdModuleOptions } from '../modules.ts';
import { portConfiguration } from './conf.ts';
import { portConfigureArgs } from './configure.ts';
import { portDescr } from './descr.ts';
import { portDistfiles, unknownSizeWarnings, type PortDistfile } from './distfiles.ts';
import { portDistinfo } from './distinfo.ts';
import { portMakefile } from './makefile.ts';
import { portMessage } from './message.ts';
import { localPatchFiles } from './patches.ts';
import { portLayout, portPaths } from './paths.ts';
import { portPlist } from './plist.ts';
import { portRcScript } from './rc.ts';

export { portConfiguration } from './conf.ts';
export { portArtifact, type PortDistfile } from './distfiles.ts';
export { portComment } from './makefile.ts';
export { freebsdPath } from './paths.ts';

export interface PortInput {
  plan: BuildPlan;
  /** distfiles store, consulted for SIZE when a recipe has none (default: none consulted) */
  distdir?: string;
  /** distinfo TIMESTAMP (default: SOURCE_DATE_EPOCH, else a fixed date) */
  sourceDateEpoch?: number;
  /** MAINTAINER (default: ports@FreeBSD.org, the ports tree's "unmaintained") */
  maintainer?: string;
}

export interface PortResult {
  /** port-relative path → content */
  files: Record<string, string>;
  distfiles: PortDistfile[];
  warnings: string[];
}

async function sizeOf(a: { file: string; sha256: string; size?: number }, distdir?: string): Promise<{ size?: number; from: PortDistfile['sizeFrom'] }> {
  if (a.size !== undefined) return { size: a.size, from: 'recipe' };
  if (distdir && existsSync(distdir)) {
    const c = await checkStore(distdir, a);
    if (c.state === 'ok') return { size: statSync(c.path).size, from: 'distfiles store' };
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

export async function freebsdPort(input: PortInput): Promise<PortResult> {
  const { plan } = input;
  assertSafePlan(plan, 'the FreeBSD port');
  const epoch = sourceDateEpoch(input.sourceDateEpoch);

  // distfiles: every component, then every patch-set archive, each with its SIZE where known
  const chosen = portDistfiles(plan);
  const warnings = chosen.warnings;
  const distfiles: PortDistfile[] = [];
  for (const { lookup, ...d } of chosen.distfiles) {
    const s = await sizeOf(lookup, input.distdir);
    distfiles.push({ component: d.component, file: d.file, group: d.group, site: d.site, sha256: d.sha256, size: s.size, sizeFrom: s.from });
  }
  warnings.push(...unknownSizeWarnings(distfiles));

  const paths = portPaths(plan);
  const modOpts = freebsdModuleOptions(plan, paths['modules-path']!, path.posix.dirname(paths['conf-path']!));
  const { configure, tlsArgs } = portConfigureArgs(plan, paths, modOpts);
  const layout = portLayout(paths);
  const portConf = portConfiguration(plan, paths);
  const others = otherProfiles(plan);

  const files: Record<string, string> = {};
  for (const [rel, from] of localPatchFiles(plan)) files[rel] = readFileSync(from, 'utf8');
  const makefile = portMakefile({ plan, maintainer: input.maintainer, distfiles, configure, tlsArgs, modOpts, layout, portConf, otherProfiles: others });
  for (const [name, { text }] of Object.entries(portConf.templates)) files[`files/${name}.in`] = text;
  for (const m of modOpts.snippets) files[`files/${m.name}.in`] = m.text;
  files.Makefile = makefile;
  files.distinfo = portDistinfo(epoch, distfiles);
  files['pkg-plist'] = portPlist(layout, portConf, modOpts);
  files['pkg-descr'] = portDescr(plan);
  files['files/pkg-message.in'] = portMessage(plan);
  files['files/nginx.in'] = portRcScript(plan);
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
