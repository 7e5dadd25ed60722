// `nginx-forge audit` against a local HTTP server standing in for the distro archive and the
// upstream release pages: a Sources.xz index listing a planted newer nginx revision whose debian
// tarball (with a changelog) is served, and a newer OpenSSL revision that is listed but not served.
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareDebVersions, parseChangelog, parseControl, parseSources } from '../src/audit/debian.ts';
import { newestReleases } from '../src/audit/index.ts';
import { BUILTIN_RECIPES, PROJECT_ROOT } from '../src/recipes/load.ts';
import { startServer, type TestServer } from './helpers/httpServer.ts';
import { makeTarball } from './helpers/tarball.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('Debian formats', () => {
  it('compares versions as dpkg does', () => {
    const lt: [string, string][] = [
      ['1.26.3-3+deb13u9', '1.26.3-3+deb13u10'],
      ['3.5.7-1~deb13u2', '3.5.7-1~deb13u3'],
      ['3.5.7-1~deb13u3', '3.5.9-1~deb13u1'],
      ['3.5.7-1~deb13u2', '3.5.7-1'],
      ['1.0~rc1-1', '1.0-1'],
      ['1.0-1', '1.0-1+b1'],
      ['2.0-1', '1:0.1-1'],
      ['10.46-1~deb13u3', '10.48-1'],
      ['1.2a-1', '1.2b-1'],
      ['1.0', '1.0-1'],
    ];
    for (const [a, b] of lt) {
      expect(compareDebVersions(a, b), `${a} < ${b}`).toBeLessThan(0);
      expect(compareDebVersions(b, a), `${b} > ${a}`).toBeGreaterThan(0);
    }
    expect(compareDebVersions('1.26.3-3+deb13u9', '1.26.3-3+deb13u9')).toBe(0);
    expect(compareDebVersions('0:1.0-1', '1.0-1')).toBe(0);
  });

  it('reads control paragraphs with folded fields, and Sources stanzas with their sha256 list', () => {
    const text = 'Package: nginx\nVersion: 1.0-1\nChecksums-Sha256:\n ' + 'a'.repeat(64) + ' 12 nginx_1.0-1.dsc\n ' + 'b'.repeat(64) + ' 34 nginx_1.0-1.debian.tar.xz\nDirectory: pool/main/n/nginx\n\n# comment\nPackage: other\nVersion: 2\n';
    expect(parseControl(text)).toHaveLength(2);
    const [s] = parseSources(text);
    expect(s).toEqual({
      package: 'nginx',
      version: '1.0-1',
      directory: 'pool/main/n/nginx',
      files: [
        { name: 'nginx_1.0-1.dsc', sha256: 'a'.repeat(64), size: 12 },
        { name: 'nginx_1.0-1.debian.tar.xz', sha256: 'b'.repeat(64), size: 34 },
      ],
    });
  });

  it('reads changelog entries and the CVE ids each names', () => {
    const entries = parseChangelog(CHANGELOG);
    expect(entries.map((e) => [e.version, e.distributions, e.urgency, e.cves])).toEqual([
      ['1.26.3-3+deb13u12', 'trixie-security', 'high', ['CVE-2026-99999', 'CVE-2026-42055']],
      ['1.26.3-3+deb13u9', 'trixie-security', 'medium', ['CVE-2026-11111']],
    ]);
  });

  it('finds the newest release on a listing page, overall and in the pinned series', () => {
    expect(newestReleases(LISTING, 'nginx-(\\d+\\.\\d+\\.\\d+)\\.tar\\.gz', '1.26.3')).toEqual({ newest: '1.30.5', newestInSeries: '1.26.4' });
    expect(newestReleases('nothing here', 'nginx-(\\d+\\.\\d+\\.\\d+)\\.tar\\.gz', '1.26.3')).toEqual({ newest: undefined, newestInSeries: undefined });
  });
});

const CHANGELOG = `nginx (1.26.3-3+deb13u12) trixie-security; urgency=high

  * Fix a planted test vulnerability (CVE-2026-99999)
  * Re-list CVE-2026-42055 (already fixed in deb13u7)

 -- Test <test@example.invalid>  Mon, 30 Nov 2026 10:00:00 +0000

nginx (1.26.3-3+deb13u9) trixie-security; urgency=medium

  * Something before the baseline (CVE-2026-11111) must not count

 -- Test <test@example.invalid>  Tue, 15 Sep 2026 09:28:28 +0000
`;

const LISTING = '<a href="nginx-1.26.3.tar.gz">nginx-1.26.3.tar.gz</a> <a href="nginx-1.26.4.tar.gz">x</a> <a href="nginx-1.30.5.tar.gz">x</a> nginx-1.29.0.tar.gz';

/** One Sources stanza of a Debian archive index. */
const stanza = (pkg: string, version: string, dir: string, files: { name: string; body: Buffer }[]) =>
  [`Package: ${pkg}`, `Version: ${version}`, 'Checksums-Sha256:', ...files.map((f) => ` ${sha(f.body)} ${f.body.length} ${f.name}`), `Directory: ${dir}`, ''].join('\n');

/** Serve a Sources.xz index of these stanzas at suitePath. */
async function serveSources(server: TestServer, suitePath: string, stanzas: string[]) {
  const xz = await execa('xz', ['-c'], { input: stanzas.join('\n'), encoding: 'buffer' });
  server.on(suitePath, { kind: 'bytes', body: Buffer.from(xz.stdout as Uint8Array) });
}

describe('nginx-forge audit (local archive)', () => {
  let server: TestServer;
  let tmp: string;
  let recipes: string;

  const serveIndex = (suitePath: string, stanzas: string[]) => serveSources(server, suitePath, stanzas);

  beforeAll(async () => {
    server = await startServer();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'nf-audit-'));
    recipes = path.join(tmp, 'recipes');
    cpSync(BUILTIN_RECIPES, recipes, { recursive: true });
    // upstream listings → the local server (nginx: a page; the others: 404)
    for (const name of ['nginx', 'openssl', 'pcre2', 'zlib-ng', 'jemalloc']) {
      const f = path.join(recipes, 'components', `${name}.json`);
      const j = JSON.parse(readFileSync(f, 'utf8'));
      j.watch.upstream.url = `${server.url}/upstream/${name}/`;
      writeFileSync(f, JSON.stringify(j, null, 2));
    }
    server.on('/upstream/nginx/', { kind: 'bytes', body: Buffer.from(LISTING), contentType: 'text/html' });
    server.on('/upstream/openssl/', { kind: 'status', status: 404 });
  });
  afterAll(async () => {
    await server.close();
    await rm(tmp, { recursive: true, force: true });
  });

  const audit = (args: string[]) =>
    execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), 'audit', '--recipes', recipes, '--archive', `${server.url}/debian`, '--distdir', path.join(tmp, 'distfiles'), '--timeout', '5', ...args], {
      reject: false,
      env: { CI: '1', NGINX_FORGE_HOME: path.join(tmp, 'home') },
    });

  it('flags a planted newer nginx revision whose changelog names an unapplied CVE: exit 8', async () => {
    const tarball = await makeTarball(path.join(tmp, 'nginx_1.26.3-3+deb13u12.debian.tar.xz'), [
      { name: 'debian', type: 'dir' },
      { name: 'debian/changelog', type: 'file', data: CHANGELOG },
    ], 'xz');
    const body = readFileSync(tarball);
    server.on(`/debian/pool/main/n/nginx/${encodeURIComponent('nginx_1.26.3-3+deb13u12.debian.tar.xz')}`, { kind: 'bytes', body });
    const dsc = Buffer.from('dsc\n');
    await serveIndex('/debian/dists/trixie/main/source/Sources.xz', [
      stanza('nginx', '1.26.3-3+deb13u9', 'pool/main/n/nginx', [{ name: 'nginx_1.26.3-3+deb13u9.debian.tar.xz', body: Buffer.from('old') }]),
      stanza('nginx', '1.26.3-3+deb13u12', 'pool/main/n/nginx', [{ name: 'nginx_1.26.3-3+deb13u12.dsc', body: dsc }, { name: 'nginx_1.26.3-3+deb13u12.debian.tar.xz', body }]),
      stanza('openssl', '3.5.9-1~deb13u1', 'pool/main/o/openssl', [{ name: 'openssl_3.5.9-1~deb13u1.debian.tar.xz', body: Buffer.from('not served') }]),
      stanza('jemalloc', '5.3.0-3', 'pool/main/j/jemalloc', [{ name: 'jemalloc_5.3.0-3.dsc', body: dsc }]),
    ]);
    // trixie-security: no index on this server (404)
    const r = await audit(['--json']);
    expect(r.exitCode, r.stderr).toBe(8);
    const j = JSON.parse(r.stdout);
    expect(j.pending).toEqual([{ component: 'nginx', cve: 'CVE-2026-99999', revision: '1.26.3-3+deb13u12', suite: 'trixie' }]);
    const nginx = j.components.find((c: any) => c.name === 'nginx');
    expect(nginx.upstream).toMatchObject({ status: 'ok', newest: '1.30.5', newestInSeries: '1.26.4' });
    expect(nginx.distro.baseline).toBe('1.26.3-3+deb13u9');
    expect(nginx.distro.newest).toEqual({ version: '1.26.3-3+deb13u12', suite: 'trixie' });
    const rev = nginx.distro.newer[0];
    expect(rev).toMatchObject({ version: '1.26.3-3+deb13u12', status: 'read', resolved: ['CVE-2026-42055'], pending: ['CVE-2026-99999'] });
    // the baseline's own entry does not count
    expect(rev.cves).not.toContain('CVE-2026-11111');
    // an unreachable index or listing is reported as such, never as up to date
    expect(nginx.distro.suites.find((s: any) => s.suite === 'trixie-security')).toMatchObject({ status: 'unreachable' });
    expect(j.components.find((c: any) => c.name === 'openssl').upstream).toMatchObject({ status: 'unreachable', reason: 'HTTP 404' });
    expect(j.listedUnreachable).toEqual([expect.objectContaining({ component: 'openssl', revision: '3.5.9-1~deb13u1', suite: 'trixie' })]);
    // the debian tarball was verified against the index's sha256 and kept in the distfiles store
    expect(readFileSync(path.join(tmp, 'distfiles', sha(body), 'nginx_1.26.3-3+deb13u12.debian.tar.xz')).equals(body)).toBe(true);

    const text = await audit([]);
    expect(text.exitCode).toBe(8);
    expect(text.stdout).toContain('1.26.3-3+deb13u12 (trixie): changelog names CVE-2026-42055, CVE-2026-99999; already resolved: CVE-2026-42055; NOT APPLIED: CVE-2026-99999');
    expect(text.stdout).toContain('PENDING: 1 security fix(es) available but not applied:');
    // the archives were --archive's, not the apt sources' (the header said "from apt sources")
    expect(text.stdout).toContain(`archives (from --archive): main ${server.url}/debian;`);
    expect(text.stdout).toMatch(/openssl.*\n(.*\n)*.*3\.5\.9-1~deb13u1 \(trixie\): listed but unreachable/);
    expect(text.stdout).toMatch(/upstream  UNREACHABLE .*\/upstream\/openssl\/: HTTP 404 \(not known to be up to date\)/);
  }, 60_000);

  it('exits 0 when the newer revision only names CVEs the profile already resolves', async () => {
    const log = CHANGELOG.replace('Fix a planted test vulnerability (CVE-2026-99999)', 'Rebuild');
    const tarball = await makeTarball(path.join(tmp, 'nginx_1.26.3-3+deb13u13.debian.tar.xz'), [{ name: 'debian/changelog', type: 'file', data: log.replace('deb13u12', 'deb13u13') }], 'xz');
    const body = readFileSync(tarball);
    server.on(`/debian/pool/main/n/nginx/${encodeURIComponent('nginx_1.26.3-3+deb13u13.debian.tar.xz')}`, { kind: 'bytes', body });
    await serveIndex('/debian/dists/trixie/main/source/Sources.xz', [stanza('nginx', '1.26.3-3+deb13u13', 'pool/main/n/nginx', [{ name: 'nginx_1.26.3-3+deb13u13.debian.tar.xz', body }])]);
    const r = await audit(['--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.pending).toEqual([]);
    expect(j.components.find((c: any) => c.name === 'nginx').distro.newer[0]).toMatchObject({ status: 'read', resolved: ['CVE-2026-42055'], pending: [] });
  }, 60_000);
});

describe('audit: Debian testing and unstable as a proxy for upstream releases', () => {
  let server: TestServer;
  let tmp: string;

  const serveIndex = (suitePath: string, stanzas: string[]) => serveSources(server, suitePath, stanzas);

  beforeAll(async () => {
    server = await startServer();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'nf-audit-dev-'));
  });
  afterAll(async () => {
    await server.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('reads the upstream version a Debian version packages', async () => {
    const { debianUpstreamVersion } = await import('../src/audit/index.ts');
    expect(debianUpstreamVersion('1:5.3.1-1')).toBe('5.3.1');
    expect(debianUpstreamVersion('2.2.4+dfsg-1')).toBe('2.2.4');
    expect(debianUpstreamVersion('1.0.0~rc-2')).toBe('1.0.0~rc');
    expect(debianUpstreamVersion('3.6.5-1~exp1')).toBe('3.6.5');
    expect(debianUpstreamVersion('1.30.6')).toBe('1.30.6');
  });

  it('lists each newer upstream version there and says whether this machine can fetch its orig tarball', async () => {
    const orig = (name: string) => ({ name, body: Buffer.from(`orig of ${name}\n`) });
    const jemalloc = orig('jemalloc_5.4.0.orig.tar.gz'); // a made-up release newer than the pin (5.3.1)
    const openssl = orig('openssl_3.6.5.orig.tar.gz');
    const nginx = orig('nginx_1.30.6.orig.tar.gz');
    const dsc = (n: string) => ({ name: n, body: Buffer.from('dsc\n') });
    // served: jemalloc's and openssl's orig tarballs; nginx's is listed but not on this mirror (404)
    server.on('/debian/pool/main/j/jemalloc/jemalloc_5.4.0.orig.tar.gz', { kind: 'bytes', body: jemalloc.body });
    server.on('/debian/pool/main/o/openssl/openssl_3.6.5.orig.tar.gz', { kind: 'bytes', body: openssl.body });
    await serveIndex('/debian/dists/testing/main/source/Sources.xz', [
      stanza('openssl', '3.6.5-1', 'pool/main/o/openssl', [dsc('openssl_3.6.5-1.dsc'), openssl]),
      stanza('pcre2', '10.48-1', 'pool/main/p/pcre2', [dsc('pcre2_10.48-1.dsc'), orig('pcre2_10.48.orig.tar.bz2')]),
      stanza('pcre2', '10.48+dfsg-1', 'pool/main/p/pcre2', [dsc('pcre2_10.48+dfsg-1.dsc'), orig('pcre2_10.48+dfsg.orig.tar.bz2')]),
      stanza('jemalloc', '5.3.1-2', 'pool/main/j/jemalloc', [dsc('jemalloc_5.3.1-2.dsc'), orig('jemalloc_5.3.1.orig.tar.gz')]),
    ]);
    await serveIndex('/debian/dists/unstable/main/source/Sources.xz', [
      stanza('openssl', '3.6.5-1', 'pool/main/o/openssl', [dsc('openssl_3.6.5-1.dsc'), openssl]),
      stanza('jemalloc', '5.4.0-1', 'pool/main/j/jemalloc', [dsc('jemalloc_5.4.0-1.dsc'), jemalloc]),
      stanza('nginx', '1.30.6-1', 'pool/main/n/nginx', [dsc('nginx_1.30.6-1.dsc'), nginx]),
      stanza('nginx', '1.30.5-2', 'pool/main/n/nginx', [dsc('nginx_1.30.5-2.dsc')]),
    ]);
    const audit = (args: string[]) =>
      execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), 'audit', '--archive', `${server.url}/debian`, '--distdir', path.join(tmp, 'distfiles'), '--timeout', '5', ...args], {
        reject: false,
        env: { CI: '1', NGINX_FORGE_HOME: path.join(tmp, 'home') },
      });
    const r = await audit(['--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    const dev = (name: string) => j.components.find((c: any) => c.name === name).development;
    expect(dev('jemalloc').suites).toEqual([
      { suite: 'testing', status: 'ok', url: `${server.url}/debian/dists/testing/main/source/Sources.xz`, newest: '5.3.1-2' },
      { suite: 'unstable', status: 'ok', url: `${server.url}/debian/dists/unstable/main/source/Sources.xz`, newest: '5.4.0-1' },
    ]);
    expect(dev('jemalloc').newer).toEqual([
      { version: '5.4.0', debVersion: '5.4.0-1', suite: 'unstable', file: 'jemalloc_5.4.0.orig.tar.gz', url: `${server.url}/debian/pool/main/j/jemalloc/jemalloc_5.4.0.orig.tar.gz`, fetchable: true },
    ]);
    expect(dev('openssl').newer).toMatchObject([{ version: '3.6.5', debVersion: '3.6.5-1', fetchable: true }]);
    // newest first; a version without an orig tarball in the index cannot be fetched
    expect(dev('nginx').newer).toMatchObject([
      { version: '1.30.6', suite: 'unstable', fetchable: false, reason: 'HTTP 404' },
      { version: '1.30.5', fetchable: false, reason: 'the index names no orig tarball' },
    ]);
    // the pinned version (pcre2 10.48, jemalloc 5.3.1 in testing) and a repack of it (10.48+dfsg) are not newer
    expect(dev('pcre2').newer).toEqual([]);
    expect(j.newerReleases).toEqual([
      { component: 'nginx', version: '1.30.6', suite: 'unstable', fetchable: false },
      { component: 'nginx', version: '1.30.5', suite: 'unstable', fetchable: false },
      { component: 'openssl', version: '3.6.5', suite: 'testing', fetchable: true },
      { component: 'jemalloc', version: '5.4.0', suite: 'unstable', fetchable: true },
    ]);
    // asked with HEAD: nothing downloaded
    const heads = server.requests.filter((q) => q.path.includes('/pool/') && q.path.includes('.orig.'));
    expect(heads.length).toBeGreaterThan(0);
    for (const q of heads) expect(q.method).toBe('HEAD');

    const text = await audit([]);
    expect(text.stdout).toContain(`  release   5.4.0 newer than the pin (5.4.0-1 in unstable): fetchable here (${server.url}/debian/pool/main/j/jemalloc/jemalloc_5.4.0.orig.tar.gz)`);
    expect(text.stdout).toContain('  release   1.30.6 newer than the pin (1.30.6-1 in unstable): NOT fetchable here: HTTP 404');
    expect(text.stdout).toContain('newer upstream releases (Debian testing/unstable): fetchable here: openssl 3.6.5, jemalloc 5.4.0; not fetchable here: nginx 1.30.6, nginx 1.30.5');
  }, 60_000);
});

describe('audit --read-patches (refreshing a pin)', () => {
  it('finds CVE ids in file names, DEP-3 headers and changelog lines, not in "Add test for CVE-…" names', async () => {
    const { cvesOfPatch } = await import('../src/audit/patches.ts');
    const diff = '--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b CVE-2026-00000\n';
    expect(cvesOfPatch('CVE-2026-42946.1.patch', `From: x\n\n${diff}`)).toEqual({ cves: ['CVE-2026-42946'], sources: ['file name'] });
    expect(cvesOfPatch('Fix-it.patch', `Subject: fix\n\nFixes CVE-2026-18798\n---\n${diff}`).cves).toEqual(['CVE-2026-18798']);
    expect(cvesOfPatch('Up.patch', `Bug-Debian-Security: https://security-tracker.debian.org/tracker/CVE-2026-42055\n\n${diff}`).cves).toEqual(['CVE-2026-42055']);
    expect(cvesOfPatch('Add-test-for-CVE-2026-63072.patch', `Subject: Add test for CVE-2026-63072\n---\n${diff}`).cves).toEqual([]);
    const changelog = 'nginx (1.0-2) unstable; urgency=high\n\n  * d/p/quiet.patch add, fixes CVE-2026-12345\n\n -- A <a@b.c>  Mon, 30 Nov 2026 10:00:00 +0000\n';
    expect(cvesOfPatch('quiet.patch', `Subject: q\n---\n${diff}`, changelog)).toEqual({ cves: ['CVE-2026-12345'], sources: ['changelog 1.0-2'] });
  });

  it('compares an archive series with the pinned patch set and drafts the recipe entries', async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'nf-read-patches-'));
    try {
      const recipes = path.join(tmp, 'recipes');
      cpSync(BUILTIN_RECIPES, recipes, { recursive: true });
      const pinned = JSON.parse(readFileSync(path.join(recipes, 'components/nginx.json'), 'utf8')).versions['1.26.3'].patchSets[0];
      const diff = '--- a/README\n+++ b/README\n@@ -1 +1 @@\n-a\n+b\n';
      const newPatch = `Subject: Fix a thing\nBug-Debian-Security: https://security-tracker.debian.org/tracker/CVE-2026-77777\n---\n${diff}`;
      const members = [
        { name: 'debian/changelog', type: 'file' as const, data: 'nginx (1.26.3-3+deb13u12) trixie-security; urgency=high\n\n  * new fix\n\n -- A <a@b.c>  Mon, 30 Nov 2026 10:00:00 +0000\n' },
        { name: 'debian/patches/series', type: 'file' as const, data: `${pinned.excluded[0].file}\nCVE-2025-53859.patch\nnew-fix.patch\n` },
        { name: `debian/patches/${pinned.excluded[0].file}`, type: 'file' as const, data: `From: Debian Nginx Team <x@y.z>\n---\n${diff}` },
        { name: 'debian/patches/CVE-2025-53859.patch', type: 'file' as const, data: `Description: changed bytes\n---\n${diff}` },
        { name: 'debian/patches/new-fix.patch', type: 'file' as const, data: newPatch },
      ];
      const archive = await makeTarball(path.join(tmp, 'nginx_1.26.3-3+deb13u12.debian.tar.xz'), members, 'xz');
      const r = await execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), 'audit', '--recipes', recipes, '--read-patches', archive, '--json'], { reject: false });
      expect(r.exitCode, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.comparedWith).toBe('nginx nginx-debian-security (nginx_1.26.3-3+deb13u9.debian.tar.xz)');
      expect(j.patches.map((p: any) => [p.file, p.cves, p.packaging])).toEqual([
        [pinned.excluded[0].file, [], true],
        ['CVE-2025-53859.patch', ['CVE-2025-53859'], false],
        ['new-fix.patch', ['CVE-2026-77777'], false],
      ]);
      expect(j.patches[2].sha256).toBe(sha(Buffer.from(newPatch)));
      expect(j.differences).toContain('new-fix.patch: in the series, neither applied nor excluded by the recipe (names CVE-2026-77777)');
      expect(j.differences).toContainEqual(expect.stringMatching(/^CVE-2025-53859\.patch: sha256 [0-9a-f]{64}, the recipe pins f32c99fac9148d6d/));
      expect(j.differences).toContain('CVE-2026-1642.patch: applied by the recipe, not in this series');
      const text = await execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), 'audit', '--recipes', recipes, '--read-patches', archive], { reject: false });
      expect(text.stdout).toContain(`{ "file": "new-fix.patch", "sha256": "${sha(Buffer.from(newPatch))}", "cves": ["CVE-2026-77777"] }`);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }, 60_000);

  it('an archive whose file name names no source package says so (it printed "source package undefined")', async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'nf-read-patches-'));
    try {
      const archive = await makeTarball(
        path.join(tmp, 'downloaded.tar.xz'),
        [
          { name: 'debian/patches/series', type: 'file', data: 'a.patch\n' },
          { name: 'debian/patches/a.patch', type: 'file', data: 'Subject: a\n---\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n' },
        ],
        'xz',
      );
      const r = await execa('node', [path.join(PROJECT_ROOT, 'bin/nginx-forge.mjs'), 'audit', '--read-patches', archive], { reject: false });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).not.toMatch(/undefined/);
      expect(r.stdout).toContain('not compared with a pinned patch set: the file name downloaded.tar.xz names no source package (a Debian file is named <source>_<version>.debian.tar.*)');
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }, 60_000);
});
