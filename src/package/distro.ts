// The distribution a package is built for, and what follows from it: the Debian revision's suffix
// (so the builds of one nginx for Debian 12 and 13 can sit in one repository) and the systemd
// unit directory (merged /usr).
//
// The target is named as `nginx-forge ci matrix` names it ("debian-12", "debian-13"): <ID>-<major
// VERSION_ID> of os-release. Packages are built on the distribution they are for (dpkg-shlibdeps
// computes Depends from the build host's libraries), so the default target is the build host.
import { UsageError } from '../errors.ts';
import { osRelease } from './chroot.ts';

export interface Distro {
  /** os-release ID: debian, ubuntu */
  id: string;
  /** os-release VERSION_ID: "12", "24.04" */
  version: string;
  /** the matrix name: debian-12 */
  name: string;
}

/** "debian-12" → { id: 'debian', version: '12' }; refused when it is not <id>-<version>. */
export function parseDistro(name: string): Distro {
  const m = /^([a-z][a-z0-9]*)-(\d+(?:\.\d+)*)$/.exec(name.trim());
  if (!m) throw new UsageError(`distro "${name}": expected <id>-<version> as \`nginx-forge ci matrix\` names them (debian-12, debian-13, ubuntu-24.04)`);
  return { id: m[1]!, version: m[2]!, name: `${m[1]}-${m[2]}` };
}

/**
 * The build host's distribution from its os-release (ID, VERSION_ID); undefined where there is
 * none or no VERSION_ID (Debian testing/unstable has none: no suffix, the plain revision sorts
 * after every stable build's).
 */
export function hostDistro(root = '/'): Distro | undefined {
  const rel = osRelease(root);
  if (!rel.ID || !rel.VERSION_ID) return undefined;
  const version = rel.ID === 'debian' ? rel.VERSION_ID.split('.')[0]! : rel.VERSION_ID;
  try {
    return parseDistro(`${rel.ID}-${version}`);
  } catch {
    return undefined;
  }
}

/**
 * The suffix of the Debian revision for a distribution, as Debian's own stable updates spell it
 * but with "~" (sorts before the bare revision, so a later distribution's build, or one without
 * a suffix, is an upgrade): debian-12 → "~deb12u1", debian-13 → "~deb13u1", ubuntu-24.04 →
 * "~ubuntu24.04.1" (Ubuntu's backport style); no distribution → "".
 */
export function debRevisionSuffix(distro: Distro | undefined): string {
  if (!distro) return '';
  if (distro.id === 'debian') return `~deb${distro.version}u1`;
  if (distro.id === 'ubuntu') return `~ubuntu${distro.version}.1`;
  return `~${distro.id}${distro.version}.1`;
}

/**
 * Where a package for this distribution puts systemd units, or undefined when the distribution
 * does not say (the caller asks dpkg). Debian 13 finished the /usr merge (lintian: aliased-location
 * for /lib/systemd/system), Debian 12 and older use /lib; Ubuntu from 24.04 (dpkg 1.22) uses /usr/lib.
 */
export function debUnitDir(distro: Distro | undefined): string | undefined {
  if (!distro) return undefined;
  const major = Number(distro.version.split('.')[0]);
  if (distro.id === 'debian') return major >= 13 ? 'usr/lib/systemd/system' : 'lib/systemd/system';
  if (distro.id === 'ubuntu') return major >= 24 ? 'usr/lib/systemd/system' : 'lib/systemd/system';
  return undefined;
}
