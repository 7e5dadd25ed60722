// `nginx-forge package` through the CLI, as a user runs it after `nginx-forge build`: the .deb
// reuses the shared real build of this test run (test/helpers/builtNginx.ts), so every build
// stage is a cache hit and only the .deb is made.
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { builtSummary, forge } from './helpers/builtNginx.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const work = mkdtempSync(path.join(tmpdir(), 'nf-pkgcmd-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('package --format deb', () => {
  it('reuses the cached build (install, verify and artifacts stages, no smoke test), makes the .deb, joins SHA256SUMS', async () => {
    const built = await builtSummary('ktls');
    const out = path.join(work, 'dist');
    const r = await forge(['package', '--format', 'deb', '--profile', 'ktls', '--out', out, '--json']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const j = JSON.parse(String(r.stdout));
    expect(j.planHash).toBe(built.planHash);
    const status = Object.fromEntries(j.stages.map((x: { id: string; status: string }) => [x.id, x.status]));
    expect(status.smoke).toBe('skipped');
    for (const id of ['install:nginx', 'verify', 'artifacts']) expect(status[id], id).toBe('cached');
    expect(Object.values(status)).not.toContain('built');
    // the version names the build host's distribution (package/distro.ts): 1.26.3-1~deb12u1 on Debian 12
    expect(path.basename(j.deb)).toMatch(/^nginx-forge-ktls_1\.26\.3-1(~deb\d+u1)?_.+\.deb$/);
    // and the debug symbols come beside it, in SHA256SUMS too
    expect(j.dbgsym.map((d: string) => path.basename(d))).toEqual([path.basename(j.deb).replace('nginx-forge-ktls_', 'nginx-forge-ktls-dbgsym_'), path.basename(j.deb).replace('nginx-forge-ktls_', 'nginx-forge-ktls-debug-dbgsym_')]);
    expect(existsSync(j.deb)).toBe(true);
    const sums = readFileSync(path.join(out, 'SHA256SUMS'), 'utf8');
    for (const f of ['manifest.json', 'sbom.cdx.json', path.basename(j.deb), ...j.dbgsym.map((d: string) => path.basename(d))]) expect(sums, f).toMatch(new RegExp(`^[0-9a-f]{64}  ${f.replace(/[.+]/g, '\\$&')}$`, 'm'));
    expect(sums).toMatch(/^[0-9a-f]{64} {2}nginx-1\.26\.3-ktls-linux-[a-z0-9_]+\.tar\.gz$/m);
    await execa('sha256sum', ['--check', '--quiet', 'SHA256SUMS'], { cwd: out });
    const files = (await execa('dpkg-deb', ['-c', j.deb])).stdout;
    expect(files).toContain('./usr/share/doc/nginx-forge-ktls/sbom.cdx.json');
  }, 45 * 60_000);
});

describe('package --format rpm', () => {
  it('reuses the cached build, makes the .rpm with its spec and rpmlint filters beside it, joins SHA256SUMS', async () => {
    const built = await builtSummary('ktls');
    const out = path.join(work, 'dist-rpm');
    const r = await forge(['package', '--format', 'rpm', '--profile', 'ktls', '--out', out, '--json']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const j = JSON.parse(String(r.stdout));
    expect(j.planHash).toBe(built.planHash);
    expect(j.stages.map((x: { status: string }) => x.status)).not.toContain('built');
    expect(path.basename(j.rpm)).toMatch(/^nginx-forge-ktls-1\.26\.3-1\.[a-z0-9_]+\.rpm$/);
    for (const f of ['nginx-forge-ktls.spec', 'nginx-forge-ktls.rpmlintrc']) expect(existsSync(path.join(out, f)), f).toBe(true);
    await execa('sha256sum', ['--check', '--quiet', 'SHA256SUMS'], { cwd: out });
    expect(readFileSync(path.join(out, 'SHA256SUMS'), 'utf8')).toContain(`  ${path.basename(j.rpm)}`);
  }, 45 * 60_000);
});

describe('package --format freebsd-port', () => {
  it('writes the port from the plan alone (no build), JSON for scripts', async () => {
    const out = path.join(work, 'port-out');
    const r = await execa(process.execPath, [path.join(ROOT, 'bin/nginx-forge.mjs'), 'package', '--format', 'freebsd-port', '--profile', 'userspace', '--out', out, '--distdir', path.join(work, 'empty-store'), '--json'], { cwd: ROOT });
    const j = JSON.parse(r.stdout);
    expect(j.dir).toBe(path.join(out, 'freebsd-port', 'nginx-forge-userspace'));
    for (const f of ['Makefile', 'distinfo', 'pkg-plist', 'pkg-descr', 'files/nginx.in', 'files/pkg-message.in']) {
      expect(existsSync(path.join(j.dir, f)), f).toBe(true);
    }
    expect(readFileSync(path.join(j.dir, 'Makefile'), 'utf8')).toContain('PKGNAMESUFFIX=\t-forge-userspace');
    // every distfile has its SIZE from the recipes: nothing to warn about, no store needed
    expect(j.warnings).toEqual([]);
    expect(readFileSync(path.join(j.dir, 'distinfo'), 'utf8')).toContain('SIZE (node-yarnpkg_4.1.0+dfsg.orig-zlib-ng.tar.xz) = 342508');
  }, 60_000);
});
