// The .deb of the real ktls build (test/helpers/builtNginx.ts: the shared build of this test run;
// only the first user pays for it). The install test runs dpkg for real, maintainer scripts
// included, in a debootstrap --variant=minbase root of the host's release (made once, ~35-60 s,
// cached in the state directory's stage cache).
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planFromFlags } from '../src/flags/plan.ts';
import type { BuildPlan } from '../src/plan.ts';
import { copyRoot, minbaseRoot, removeRoot, shInChroot } from '../src/package/chroot.ts';
import { copyrightLines, dep5License, updateSha256Sums } from '../src/package/common.ts';
import { buildDebs, debFields, debVersion, hasZlibBanner } from '../src/package/deb.ts';
import { lintian } from '../src/package/lintian.ts';
import { builtSummary } from './helpers/builtNginx.ts';

const has = (tool: string) => execa('sh', ['-c', `command -v ${tool}`], { reject: false }).then((r) => r.exitCode === 0);
const isRoot = process.getuid?.() === 0;
const lexists = (f: string) => lstatSync(f, { throwIfNoEntry: false }) !== undefined;

const work = mkdtempSync(path.join(tmpdir(), 'nf-deb-test-'));
/** the version the packages get on this host: 1.26.3-1~deb12u1 on Debian 12 (package/distro.ts) */
const V = debVersion(planFromFlags({ profile: 'ktls' }));
const reV = V.replace(/[.+~]/g, '\\$&');
const log = path.join(work, 'package.log');

/** The install tree, licenses, manifest and SBOM of the shared real build. */
async function builtTree(): Promise<{ root: string; licensesDir: string; sbom?: string; manifest?: string; variants: Record<string, string> }> {
  const s = await builtSummary('ktls');
  const root = s.binary.replace(/\/usr\/sbin\/nginx$/, '');
  return {
    root,
    variants: s.variants,
    licensesDir: path.join(path.dirname(root), 'licenses'),
    manifest: s.artifacts.find((a) => a.endsWith('manifest.json')),
    sbom: s.artifacts.find((a) => a.endsWith('sbom.cdx.json')),
  };
}

describe('deb helpers', () => {
  it('maps SPDX expressions to Debian copyright-format names', () => {
    expect(dep5License('BSD-2-Clause')).toBe('BSD-2-clause');
    expect(dep5License('BSD-3-Clause WITH PCRE2-exception')).toBe('BSD-3-clause with PCRE2 exception');
    expect(dep5License('Apache-2.0')).toBe('Apache-2.0');
    expect(dep5License('Zlib')).toBe('Zlib');
  });

  it('finds copyright lines in license texts', () => {
    expect(copyrightLines('/*\n * Copyright (C) 2002-2021 Igor Sysoev\n * Copyright (C) 2011-2024 Nginx, Inc.\n * All rights reserved.\n')).toEqual([
      '(C) 2002-2021 Igor Sysoev',
      '(C) 2011-2024 Nginx, Inc.',
    ]);
    expect(copyrightLines('(C) 1995-2024 Jean-loup Gailly and Mark Adler\n')).toEqual(['(C) 1995-2024 Jean-loup Gailly and Mark Adler']);
    expect(copyrightLines('   Copyright [yyyy] [name of copyright owner]\n')).toEqual([]);
  });

  it('spots the zlib banner lintian calls an embedded library', () => {
    expect(hasZlibBanner(Buffer.from('\0 deflate 1.3.1 Copyright 1995-2024 Jean-loup Gailly and Mark Adler \0'))).toBe(true);
    expect(hasZlibBanner(Buffer.from('\0zlib deflate error\0 1.3.1.zlib-ng\0'))).toBe(false);
  });

  it('adds files to SHA256SUMS and keeps the lines of others', () => {
    const d = mkdtempSync(path.join(tmpdir(), 'nf-sums-'));
    writeFileSync(path.join(d, 'a.tar.gz'), 'a');
    writeFileSync(path.join(d, 'SHA256SUMS'), `${'0'.repeat(64)}  a.tar.gz\n${'1'.repeat(64)}  manifest.json\n`);
    writeFileSync(path.join(d, 'x.deb'), 'deb');
    updateSha256Sums(d, [path.join(d, 'x.deb'), path.join(d, 'a.tar.gz')]);
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    expect(readFileSync(path.join(d, 'SHA256SUMS'), 'utf8')).toBe(`${sha('a')}  a.tar.gz\n${'1'.repeat(64)}  manifest.json\n${sha('deb')}  x.deb\n`);
    rmSync(d, { recursive: true, force: true });
  });
});

describe('.deb of the real build', () => {
  let plan: BuildPlan;
  let deb: string;
  let twin: string;
  let tree: Awaited<ReturnType<typeof builtTree>>;

  beforeAll(async () => {
    plan = planFromFlags({ profile: 'ktls' });
    tree = await builtTree();
    const r = await buildDebs({ plan, ...tree, outDir: path.join(work, 'out'), log, maintainer: 'Test Packager <test@nginx-forge.invalid>' });
    deb = r.deb;
    expect(r.twins).toHaveLength(1);
    twin = r.twins[0]!;
  }, 45 * 60_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('has the control fields a Debian package needs', async () => {
    expect(path.basename(deb)).toMatch(new RegExp(`^nginx-forge-ktls_${reV}_[a-z0-9]+\\.deb$`));
    const f = await debFields(deb, log);
    expect(f.Package).toBe('nginx-forge-ktls');
    expect(V).toMatch(/^1\.26\.3-1(~deb\d+u1)?$/);
    expect(f.Version).toBe(V);
    expect(f.Maintainer).toBe('Test Packager <test@nginx-forge.invalid>');
    expect(f.Depends).toMatch(/^libc6( \(>= [^)]+\))?/);
    expect(f.Depends).toMatch(/\badduser\b/);
    for (const k of ['Conflicts', 'Replaces', 'Provides']) expect(f[k]!.split(/,\s*/)).toContain('nginx');
    expect(Number(f['Installed-Size'])).toBeGreaterThan(1000);
    expect(f.Description).toContain('OpenSSL 3.5.7');
  });

  it('the nginx-debug twin is a package of its own: its binary and unit, the doc directory linked, Depends on exactly this nginx', async () => {
    expect(path.basename(twin)).toMatch(new RegExp(`^nginx-forge-ktls-debug_${reV}_[a-z0-9]+\\.deb$`));
    const f = await debFields(twin, log);
    expect(f.Package).toBe('nginx-forge-ktls-debug');
    expect(f.Depends).toMatch(new RegExp(`^nginx-forge-ktls \\(= ${reV}\\), libc6`));
    expect((await debFields(deb, log)).Suggests).toBe('nginx-forge-ktls-debug');
    const x = path.join(work, 'extract-twin');
    await execa('dpkg-deb', ['-R', twin, x]);
    const files = String((await execa('dpkg-deb', ['-c', twin])).stdout);
    expect(files).toMatch(/\.\/usr\/sbin\/nginx-debug$/m);
    expect(files).toMatch(/\.\/usr\/share\/doc\/nginx-forge-ktls-debug -> nginx-forge-ktls$/m);
    const unit = readFileSync(path.join(x, 'lib/systemd/system/nginx-debug.service'), 'utf8');
    expect(unit).toContain('ExecStart=/usr/sbin/nginx-debug');
    expect(unit).toContain('Conflicts=nginx.service');
    // the main package no longer carries them
    const main = String((await execa('dpkg-deb', ['-c', deb])).stdout);
    expect(main).not.toMatch(/nginx-debug/);
    expect(main).toMatch(/\.\/usr\/sbin\/nginx$/m);
  });

  it('lists every /etc file as a conffile and checksums everything else', async () => {
    const x = path.join(work, 'extract');
    await execa('dpkg-deb', ['-R', deb, x]);
    const conffiles = readFileSync(path.join(x, 'DEBIAN/conffiles'), 'utf8').trim().split('\n');
    expect(conffiles).toContain('/etc/nginx/nginx.conf');
    expect(conffiles).toContain('/etc/nginx/mime.types');
    expect(conffiles).toContain('/etc/logrotate.d/nginx');
    expect(conffiles.some((c) => c.endsWith('.default'))).toBe(false);
    for (const c of conffiles) expect(existsSync(path.join(x, c))).toBe(true);
    const sums = readFileSync(path.join(x, 'DEBIAN/md5sums'), 'utf8').trim().split('\n');
    expect(sums.map((l) => l.slice(34))).toContain('usr/sbin/nginx');
    for (const line of sums) {
      const [md5, rel] = [line.slice(0, 32), line.slice(34)];
      expect(createHash('md5').update(readFileSync(path.join(x, rel))).digest('hex'), rel).toBe(md5);
    }
    for (const p of ['lib/systemd/system/nginx.service', 'etc/logrotate.d/nginx', 'var/lib/nginx', 'var/log/nginx', 'usr/share/nginx/html/index.html']) {
      expect(existsSync(path.join(x, p)), p).toBe(true);
    }
    expect(existsSync(path.join(x, 'run'))).toBe(false);
    const doc = path.join(x, 'usr/share/doc/nginx-forge-ktls');
    for (const p of ['copyright', 'changelog.Debian.gz', 'sbom.cdx.json', 'manifest.json', 'licenses/openssl/LICENSE.txt', 'licenses/zlib-ng/LICENSE.md']) {
      expect(existsSync(path.join(doc, p)), p).toBe(true);
    }
    const unit = readFileSync(path.join(x, 'lib/systemd/system/nginx.service'), 'utf8');
    expect(unit).toContain('PIDFile=/run/nginx.pid');
    expect(unit).toContain('ExecStartPre=-+/sbin/modprobe -q tls'); // ktls profile; "+": outside the sandbox
    expect(unit).toContain('ProtectSystem=full');
    expect(unit).toContain('NoNewPrivileges=yes');
    // the production configuration, not nginx's sample
    expect(readFileSync(path.join(x, 'etc/nginx/nginx.conf'), 'utf8')).toMatch(/^user nginx;\nworker_processes auto;$/m);
    expect(readFileSync(path.join(x, 'etc/nginx/conf.d/ktls.conf'), 'utf8')).toMatch(/^ssl_conf_command Options KTLS;$/m);
    for (const c of ['/etc/nginx/conf.d/ktls.conf', '/etc/nginx/sites-available/default', '/etc/nginx/sites-available/example-tls', '/etc/nginx/snippets/tls.conf']) expect(conffiles).toContain(c);
    // not a package file: postinst links it on a first install only (it would come back on every upgrade)
    expect(lexists(path.join(x, 'etc/nginx/sites-enabled/default'))).toBe(false);
    expect(existsSync(path.join(x, 'etc/nginx/sites-enabled'))).toBe(true);
    const postinst = readFileSync(path.join(x, 'DEBIAN/postinst'), 'utf8');
    expect(postinst).toMatch(/adduser --system/);
    expect(postinst).not.toContain('useradd');
    expect(postinst).toContain('[ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]');
    expect(readFileSync(path.join(x, 'DEBIAN/prerm'), 'utf8')).toContain('if [ -z "${DPKG_ROOT:-}" ] && [ "$1" = remove ] && [ -d /run/systemd/system ]; then');
    expect(readFileSync(path.join(doc, 'manifest.json'), 'utf8')).toBe(readFileSync(tree.manifest!, 'utf8'));
    expect(readFileSync(path.join(doc, 'sbom.cdx.json'), 'utf8')).toBe(readFileSync(tree.sbom!, 'utf8'));
  });

  it('writes a machine-readable copyright file naming every component', async () => {
    const x = path.join(work, 'extract-copyright');
    await execa('dpkg-deb', ['-x', deb, x]);
    const text = readFileSync(path.join(x, 'usr/share/doc/nginx-forge-ktls/copyright'), 'utf8');
    expect(text.startsWith('Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n')).toBe(true);
    const paras = text.split('\n\n');
    const files = paras.filter((p) => p.startsWith('Files: ')).map((p) => /^Files: (.*)$/m.exec(p)![1]);
    expect(files).toEqual(['*', 'openssl-3.5.7/*', 'pcre2-10.48/*', 'zlib-ng-2.2.4/*', 'jemalloc-jemalloc-81034ce/*']);
    expect(text).toContain('License: BSD-3-clause with PCRE2 exception');
    expect(text).toContain('/usr/share/common-licenses/Apache-2.0');
    expect(text).toContain('Copyright: (C) 2002-2021 Igor Sysoev');
  });

  // the debug-symbol packages too (<pkg>-dbgsym): four .debs, so more time under load
  it('is reproducible: the same inputs give the same bytes (the dbgsym packages too)', async () => {
    const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
    const all = (r: { deb: string; twins: string[]; dbgsym: string[] }) => [r.deb, ...r.twins, ...r.dbgsym];
    const first = all(await buildDebs({ plan, ...tree, outDir: path.join(work, 'out1'), log, maintainer: 'Test Packager <test@nginx-forge.invalid>' }));
    const again = all(await buildDebs({ plan, ...tree, outDir: path.join(work, 'out2'), log, maintainer: 'Test Packager <test@nginx-forge.invalid>' }));
    expect(first).toHaveLength(4);
    expect(again.map(sha)).toEqual(first.map(sha));
    expect(sha(first[0]!)).toBe(sha(deb));
  }, 600_000);

  it('installs with dpkg in a minbase root: maintainer scripts run, nginx -V and nginx -t pass, purge cleans up', async () => {
    expect(isRoot, 'this test needs root (debootstrap, chroot, dpkg); CI runs as root').toBe(true);
    if (!(await has('debootstrap')) || !(await has('chroot'))) {
      console.warn('skipped: needs debootstrap and chroot (apt-get install debootstrap)');
      return;
    }
    const base = await minbaseRoot(log);
    console.info(`minbase root of ${base.suite.distro} ${base.suite.suite}: ${base.cached ? 'cached' : 'made'}, debootstrap took ${base.seconds.toFixed(1)} s`);
    const r = await copyRoot(base.dir, log);
    try {
      cpSync(deb, path.join(r, 'tmp/pkg.deb'));
      const install = await shInChroot(r, log, 'dpkg -i /tmp/pkg.deb');
      expect(install).toContain(`Setting up nginx-forge-ktls (${V})`);
      expect(await shInChroot(r, log, 'getent passwd nginx')).toMatch(/^nginx:x:\d+:\d+::\/nonexistent:/);
      expect(await shInChroot(r, log, 'dpkg-query -W -f=\'${Status}\' nginx-forge-ktls')).toBe('install ok installed');
      expect(await shInChroot(r, log, '/usr/sbin/nginx -V')).toMatch(/nginx version: nginx\/1\.26\.3[\s\S]*built with OpenSSL 3\.5\.7[\s\S]*--conf-path=\/etc\/nginx\/nginx\.conf/);
      // jemalloc is linked in and active in the installed binary
      expect(await shInChroot(r, log, 'MALLOC_CONF=stats_print:true /usr/sbin/nginx -t')).toContain('Begin jemalloc statistics');
      // the kTLS symbols survived strip --strip-debug (verify greps for them)
      expect(readFileSync(path.join(r, 'usr/sbin/nginx')).includes(Buffer.from('ktls_'))).toBe(true);
      const t = await shInChroot(r, log, '/usr/sbin/nginx -t');
      expect(t).toContain('syntax is ok');
      expect(t).toContain('test is successful');
      // the shipped configuration as nginx reads it: kTLS on at http level, the default site enabled
      const dump = await shInChroot(r, log, '/usr/sbin/nginx -T');
      expect(dump).toContain('# configuration file /etc/nginx/conf.d/ktls.conf:');
      expect(dump).toContain('# configuration file /etc/nginx/sites-enabled/default:');
      // production users run no --with-debug binary; the twin beside it has it, with the same config
      expect(await shInChroot(r, log, '/usr/sbin/nginx -V')).not.toContain('--with-debug');
      // the default site: linked by postinst on the first install; removed by the admin, a reinstall keeps it removed
      const site = path.join(r, 'etc/nginx/sites-enabled/default');
      expect(readlinkSync(site)).toBe('../sites-available/default');
      rmSync(site);
      expect(await shInChroot(r, log, 'dpkg -i /tmp/pkg.deb')).toContain(`Setting up nginx-forge-ktls (${V})`);
      expect(lexists(site), 'sites-enabled/default after a reinstall').toBe(false);
      expect(await shInChroot(r, log, '/usr/sbin/nginx -T')).not.toContain('# configuration file /etc/nginx/sites-enabled/default:');
      symlinkSync('../sites-available/default', site);
      cpSync(twin, path.join(r, 'tmp/twin.deb'));
      expect(await shInChroot(r, log, 'dpkg -i /tmp/twin.deb')).toContain(`Setting up nginx-forge-ktls-debug (${V})`);
      expect(await shInChroot(r, log, '/usr/sbin/nginx-debug -V')).toMatch(/built with OpenSSL 3\.5\.7[\s\S]*--with-debug/);
      expect(await shInChroot(r, log, '/usr/sbin/nginx-debug -t')).toContain('test is successful');
      // the twin is not enabled by its install (it conflicts with nginx.service); the admin enables it
      // (the link `systemctl enable nginx-debug` makes), and its purge removes that link
      const wants = path.join(r, 'etc/systemd/system/multi-user.target.wants/nginx-debug.service');
      expect(lexists(wants), 'enabled by the install').toBe(false);
      await shInChroot(r, log, 'mkdir -p /etc/systemd/system/multi-user.target.wants && ln -s /lib/systemd/system/nginx-debug.service /etc/systemd/system/multi-user.target.wants/nginx-debug.service');
      expect(readFileSync(path.join(r, 'var/lib/dpkg/info/nginx-forge-ktls-debug.prerm'), 'utf8')).toMatch(/"\$1" = remove[\s\S]*deb-systemd-invoke stop 'nginx-debug\.service'/);
      await shInChroot(r, log, 'dpkg --purge nginx-forge-ktls-debug nginx-forge-ktls');
      expect(lexists(wants), 'the wants link of the purged twin').toBe(false);
      for (const p of ['usr/sbin/nginx', 'usr/sbin/nginx-debug', 'etc/nginx/nginx.conf', 'etc/nginx/sites-enabled/default', 'var/lib/nginx', 'lib/systemd/system/nginx.service']) {
        expect(lexists(path.join(r, p)), p).toBe(false);
      }
    } finally {
      removeRoot(r);
    }
  }, 15 * 60_000);

  it('passes lintian without errors (overrides are in the package, each with its reason)', async () => {
    if (!(await has('lintian'))) {
      console.warn('skipped: lintian is not installed (apt-get install lintian)');
      return;
    }
    for (const d of [deb, twin]) {
      const report = await lintian(d, log);
      console.info(`${path.basename(d)}: ${report.version}: ${report.errors.length} errors, ${report.warnings.length} warnings${report.warnings.length ? `\n  ${report.warnings.map((t) => t.line).join('\n  ')}` : ''}`);
      expect(report.errors.map((t) => t.line)).toEqual([]);
      // every override in the package is needed: none reported as unused
      expect(report.tags.filter((t) => t.tag === 'unused-override').map((t) => t.line)).toEqual([]);
    }
  }, 120_000);
});
