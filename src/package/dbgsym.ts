// <pkg>-dbgsym: the Debian debug-symbol package of a package's binaries (debug.ts makes the files).
import { copyFileSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { StageError } from '../errors.ts';
import type { RunContext } from '../exec.ts';
import { tempDir } from '../tmpdirs.ts';
import { packDeb } from './common.ts';
import type { DebugFile } from './debug.ts';

export interface DbgsymDebInput {
  /** the package the symbols belong to (Depends on exactly its version) */
  pkg: string;
  /** the source package name (Source:), the main package's */
  source: string;
  version: string;
  arch: string;
  maintainer: string;
  homepage: string;
  /** the debug files of the ELF files pkg ships */
  debug: DebugFile[];
  epoch: number;
  outDir: string;
  ctx: RunContext;
}

/** The debug-symbol package's name, as Debian's debhelper names it. */
export const dbgsymName = (pkg: string) => `${pkg}-dbgsym`;

/**
 * <pkg>-dbgsym_<version>_<arch>.deb in Debian's layout (what dh_strip + dh_gencontrol make):
 * only usr/lib/debug/.build-id/xx/rest.debug files and the doc directory as a link to pkg's;
 * Section debug, Priority optional, `Auto-Built-Package: debug-symbols`, `Build-Ids:` and
 * `Depends: pkg (= version)` (symbols match one build only).
 */
export async function buildDbgsymDeb(o: DbgsymDebInput): Promise<string> {
  const name = dbgsymName(o.pkg);
  const files = [...new Map(o.debug.map((d) => [d.buildId, d])).values()].sort((a, b) => a.buildId.localeCompare(b.buildId));
  if (!files.length) throw new StageError(o.ctx.component, o.ctx.stage, `no debug files for ${name}`, { hint: 'package with strip "debug" (the default)' });
  const root = tempDir('dbgsym');
  try {
    for (const d of files) {
      mkdirSync(path.dirname(path.join(root, d.rel)), { recursive: true });
      copyFileSync(d.debug, path.join(root, d.rel));
    }
    // dh_installdocs' link: the copyright and changelog are the package's own (exact Depends)
    mkdirSync(path.join(root, 'usr/share/doc'), { recursive: true });
    symlinkSync(o.pkg, path.join(root, 'usr/share/doc', name));
    return await packDeb({
      pkgRoot: root,
      pkg: name,
      version: o.version,
      arch: o.arch,
      fields: [
        ['Package', name],
        ['Source', o.source],
        ['Version', o.version],
        ['Auto-Built-Package', 'debug-symbols'],
        ['Architecture', o.arch],
        ['Maintainer', o.maintainer],
        ['Depends', `${o.pkg} (= ${o.version})`],
        ['Section', 'debug'],
        ['Priority', 'optional'],
        ['Homepage', o.homepage],
        ['Build-Ids', files.map((d) => d.buildId).join(' ')],
      ],
      description: [`debug symbols for ${o.pkg}`],
      epoch: o.epoch,
      outDir: o.outDir,
      ctx: o.ctx,
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
