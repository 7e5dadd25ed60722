// The target distribution of a package (src/package/distro.ts): the Debian revision's suffix, so
// the builds for Debian 12 and 13 can sit in one repository and sort as the distributions do, and
// the systemd unit directory (merged /usr on Debian 13: lintian's aliased-location).
import { execa } from 'execa';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ciMatrix } from '../src/commands/ci.ts';
import { debVersion } from '../src/package/deb.ts';
import { debRevisionSuffix, debUnitDir, hostDistro, parseDistro } from '../src/package/distro.ts';
import { planFromFlags } from '../src/flags/plan.ts';

const work = mkdtempSync(path.join(tmpdir(), 'nf-distro-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A root whose /etc/os-release says these lines. */
function rootWith(name: string, lines: string[]): string {
  const r = path.join(work, name);
  mkdirSync(path.join(r, 'etc'), { recursive: true });
  writeFileSync(path.join(r, 'etc/os-release'), `${lines.join('\n')}\n`);
  return r;
}

const dpkgLt = async (a: string, b: string) => (await execa('dpkg', ['--compare-versions', a, 'lt', b], { reject: false })).exitCode === 0;

describe('per-distro package versions', () => {
  const plan = planFromFlags({ profile: 'ktls' });

  it('every distro of `ci matrix` gets a suffix of its own: ~deb12u1, ~deb13u1', () => {
    const distros = [...new Set(ciMatrix().include.map((e) => e.distro))];
    expect(distros).toEqual(['debian-12', 'debian-13']);
    expect(distros.map((d) => debVersion(plan, 1, parseDistro(d)))).toEqual(['1.26.3-1~deb12u1', '1.26.3-1~deb13u1']);
    expect(debVersion(plan, 2, parseDistro('debian-12'))).toBe('1.26.3-2~deb12u1');
    expect(debVersion(plan, 1, null)).toBe('1.26.3-1');
    expect(debRevisionSuffix(parseDistro('ubuntu-24.04'))).toBe('~ubuntu24.04.1');
  });

  it('dpkg orders them as the distributions: 12 < 13 < a plain revision < the next revision', async () => {
    const [v12, v13] = ['debian-12', 'debian-13'].map((d) => debVersion(plan, 1, parseDistro(d))) as [string, string];
    expect(await dpkgLt(v12, v13)).toBe(true);
    expect(await dpkgLt(v13, '1.26.3-1')).toBe(true);
    expect(await dpkgLt('1.26.3-1', debVersion(plan, 2, parseDistro('debian-12')))).toBe(true);
    // the next nginx for Debian 12 is an upgrade of this one for Debian 13 (a dist-upgrade keeps working)
    expect(await dpkgLt(v13, '1.26.4-1~deb12u1')).toBe(true);
  });

  it('reads the target from the build host\'s os-release (Debian: major version only)', () => {
    expect(hostDistro(rootWith('bookworm', ['ID=debian', 'VERSION_ID="12"', 'VERSION_CODENAME=bookworm']))).toEqual({ id: 'debian', version: '12', name: 'debian-12' });
    expect(hostDistro(rootWith('trixie', ['ID=debian', 'VERSION_ID="13.2"']))?.name).toBe('debian-13');
    expect(hostDistro(rootWith('noble', ['ID=ubuntu', 'VERSION_ID="24.04"']))?.name).toBe('ubuntu-24.04');
    // testing/unstable have no VERSION_ID: no suffix
    expect(hostDistro(rootWith('sid', ['ID=debian', 'VERSION_CODENAME=sid']))).toBeUndefined();
    expect(() => parseDistro('bookworm')).toThrow(/expected <id>-<version> as `nginx-forge ci matrix` names them/);
  });

  it('units go under /usr/lib/systemd/system where the distribution merged /usr (Debian 13), else /lib', () => {
    expect(debUnitDir(parseDistro('debian-12'))).toBe('lib/systemd/system');
    expect(debUnitDir(parseDistro('debian-13'))).toBe('usr/lib/systemd/system');
    expect(debUnitDir(parseDistro('debian-14'))).toBe('usr/lib/systemd/system');
    expect(debUnitDir(parseDistro('ubuntu-22.04'))).toBe('lib/systemd/system');
    expect(debUnitDir(parseDistro('ubuntu-24.04'))).toBe('usr/lib/systemd/system');
    expect(debUnitDir(undefined)).toBeUndefined();
  });
});
