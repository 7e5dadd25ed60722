// The fetch flags (--distdir, --mirror, --offline, --no-distro) as every command that fetches
// receives them (fetch, build, package, test, bench build), and their one mapping to what fetch/
// and the build take. The flags themselves are declared once, in commands/options.ts
// (addFetchOptions); this module sits below the commands and bench, so both can use it.
import path from 'node:path';
import type { FetchOptions } from '../fetch/index.ts';
import { distfilesDir } from '../paths.ts';

/** The parsed fetch flags (commander's names: `--no-distro` gives `distro: false`). */
export interface FetchFlags {
  distdir?: string;
  mirror?: string[];
  offline?: boolean;
  /** false when --no-distro is given */
  distro?: boolean;
}

/** What the fetch flags decide: the store, the mirrors, offline, the distro archive. */
export type FetchFlagOptions = Required<Pick<FetchOptions, 'distdir' | 'offline' | 'distro'>> & Pick<FetchOptions, 'mirrors'>;

/** A mirror given as a relative directory (e.g. ../shared/distfiles) becomes an absolute path. */
export function resolveMirror(m: string): string {
  return /^[a-z][a-z0-9+.-]*:/i.test(m) || path.isAbsolute(m) ? m : path.resolve(m);
}

/**
 * The fetch flags as FetchOptions (and BuildOptions) fields: the store resolved now (--distdir,
 * else NGINX_FORGE_DISTDIR, else <state>/distfiles), mirrors absolute, offline and distro spelled out.
 */
export function fetchOptionsOf(flags: FetchFlags): FetchFlagOptions {
  return {
    distdir: distfilesDir(flags.distdir),
    mirrors: flags.mirror?.map(resolveMirror),
    offline: Boolean(flags.offline),
    distro: flags.distro !== false,
  };
}
