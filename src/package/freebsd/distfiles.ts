// Which file the port fetches for each component and patch set, from where (DISTFILES,
// MASTER_SITES), and which of them belong to the pinned TLS library's side of the SSL option.
// Pure: the SIZE of a file the recipe does not give is looked up by index.ts.
import { tlsLibrary, type BuildPlan } from '../../plan.ts';
import type { Artifact } from '../../recipes/schema.ts';
import { groupOf } from './make.ts';

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

/** A distfile as chosen, before its SIZE is known: `lookup` is what the distfiles store is asked for. */
export interface ChosenDistfile {
  component: string;
  file: string;
  group: string;
  site: string;
  sha256: string;
  lookup: { file: string; sha256: string; size?: number };
}

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

/** Every component's distfile, then every patch-set archive; a warning for each one without a site. */
export function portDistfiles(plan: BuildPlan): { distfiles: ChosenDistfile[]; warnings: string[] } {
  const warnings: string[] = [];
  const distfiles: ChosenDistfile[] = [];
  for (const c of plan.components) {
    const chosen = portArtifact(c);
    if (!chosen) {
      warnings.push(`${c.name} ${c.version}: no artifact with an upstream URL or a Debian main-pool file; put ${c.artifacts[0]!.file} into DISTDIR by hand`);
      continue;
    }
    const lookup = { file: chosen.artifact.file, sha256: chosen.artifact.sha256, size: chosen.artifact.size };
    distfiles.push({ component: c.name, file: chosen.file, group: groupOf(c.name), site: chosen.site, sha256: chosen.artifact.sha256, lookup });
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
    distfiles.push({ component: `${set.component}:${set.name}`, file, group: groupOf(set.name), site, sha256: a.sha256, lookup: a });
  }
  return { distfiles, warnings };
}

/** A warning for each distfile whose SIZE line distinfo leaves out. */
export function unknownSizeWarnings(distfiles: PortDistfile[]): string[] {
  return distfiles
    .filter((d) => d.sizeFrom === 'unknown')
    .map((d) => `distinfo: SIZE of ${d.file} is unknown (the recipe has no "size" and the distfiles store has no verified copy); the line is left out. Run \`nginx-forge fetch\` first, or add "size" to the recipe.`);
}

/**
 * The pinned TLS library is one side of an OPTIONS choice (base/ports OpenSSL, USES=ssl, is the
 * other): true for its distfile and its patch sets' archives, fetched only with PINNED_SSL.
 */
export function pinnedSslOnly(plan: BuildPlan): (d: PortDistfile) => boolean {
  const tls = tlsLibrary(plan);
  const tlsGroup = tls ? groupOf(tls.name) : undefined;
  const tlsSets = new Set(plan.patchSets.filter((s) => tls && s.component === tls.name).map((s) => groupOf(s.name)));
  return (d: PortDistfile) => d.group === tlsGroup || tlsSets.has(d.group);
}

/** The groups of the patch-set archives: left out of EXTRACT_ONLY, each unpacked into its own directory. */
export const patchSetGroups = (plan: BuildPlan) => new Set(plan.patchSets.map((s) => groupOf(s.name)));
