// The ktls-brotli profile for real: ngx_brotli as a dynamic module (with libbrotli built by the
// CMake builder) and echo-nginx-module static. The shared build (test/helpers/builtNginx.ts) runs
// verify and the smoke test (which must prove Content-Encoding: br and brotli_static); then the
// module's own .deb is installed next to the main one in a minbase chroot and nginx -t loads it.
import { execa } from 'execa';
import { cpSync, existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { planFromFlags } from '../src/flags/plan.ts';
import { copyRoot, minbaseRoot, removeRoot, shInChroot } from '../src/package/chroot.ts';
import { buildDeb, debFields, debPackageName, debVersion } from '../src/package/deb.ts';
import { lintian } from '../src/package/lintian.ts';
import { buildModuleDebs, ENABLED_INCLUDE } from '../src/package/modules.ts';
import { builtSummary, forge } from './helpers/builtNginx.ts';

const work = mkdtempSync(path.join(tmpdir(), 'nf-modules-e2e-'));
const log = path.join(work, 'package.log');

describe('ktls-brotli: modules built, verified, smoke-tested and packaged', () => {
  const plan = planFromFlags({ profile: 'ktls-brotli' });

  it('builds: verify and the smoke test (with the brotli proof) pass; the tarball and manifest carry the module', async () => {
    const s = await builtSummary('ktls-brotli');
    const status = Object.fromEntries(s.stages.map((x) => [x.id, x.status]));
    expect(status['library:brotli']).not.toBe('skipped');
    expect(status.verify).not.toBe('skipped');
    expect(status.smoke).not.toBe('skipped');
    const manifest = JSON.parse(readFileSync(s.artifacts.find((a) => a.endsWith('manifest.json'))!, 'utf8'));
    expect(manifest.modules.map((m: { name: string; link: string }) => [m.name, m.link])).toEqual([
      ['ngx-brotli', 'dynamic'],
      ['ngx-echo', 'static'],
    ]);
    expect(manifest.modules[0].objects.map((o: { path: string }) => o.path)).toEqual(['modules/ngx_http_brotli_filter_module.so', 'modules/ngx_http_brotli_static_module.so']);
    const tarball = s.artifacts.find((a) => a.endsWith('.tar.gz'))!;
    const list = (await execa('tar', ['tzf', tarball])).stdout;
    expect(list).toMatch(/\/modules\/ngx_http_brotli_filter_module\.so$/m);
    const sbom = JSON.parse(readFileSync(s.artifacts.find((a) => a.endsWith('sbom.cdx.json'))!, 'utf8'));
    const mod = sbom.components.find((c: { name: string }) => c.name === 'ngx-brotli');
    expect(mod.properties).toContainEqual({ name: 'nginx-forge:module:link', value: 'dynamic' });
    expect(sbom.dependencies.find((d: { ref: string }) => d.ref === 'component:ngx-brotli').dependsOn).toContain('component:brotli');
  }, 60 * 60_000);

  it('nginx-forge verify names every module check and they pass', async () => {
    const s = await builtSummary('ktls-brotli');
    const r = await forge(['verify', s.binary, '--profile', 'ktls-brotli', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const checks = JSON.parse(String(r.stdout)).checks as { check: string; ok: boolean }[];
    const mod = checks.filter((c) => c.check.startsWith('module '));
    expect(mod.map((c) => c.check)).toEqual(
      expect.arrayContaining([
        'module ngx_brotli (ngx-brotli, dynamic) in nginx -V',
        'module ngx_brotli (ngx-brotli, dynamic): ngx_http_brotli_filter_module.so installed',
        'module ngx_brotli (ngx-brotli, dynamic): ngx_http_brotli_filter_module.so links libbrotlienc/libbrotlicommon statically',
        'module echo-nginx-module (ngx-echo, static) in nginx -V',
      ]),
    );
    expect(mod.some((c) => c.check.startsWith('module ngx_brotli (ngx-brotli, dynamic): nginx -t with load_module'))).toBe(true);
    expect(mod.filter((c) => !c.ok)).toEqual([]);
  }, 10 * 60_000);

  it('the module .deb depends on the exact nginx package, installs next to it in a chroot and nginx -t loads it; lintian finds no error', async () => {
    expect(process.getuid?.(), 'this test needs root (debootstrap, chroot, dpkg)').toBe(0);
    // the install trees only, as `nginx-forge package` runs the build (the first test proves the smoke test)
    const s = await builtSummary('ktls-brotli', ['--no-smoke']);
    const root = s.binary.replace(/\/usr\/sbin\/nginx$/, '');
    const licensesDir = path.join(path.dirname(root), 'licenses');
    const manifest = s.artifacts.find((a) => a.endsWith('manifest.json'));
    const out = path.join(work, 'out');
    const deb = await buildDeb({ plan, root, licensesDir, manifest, variants: s.variants, outDir: out, log, maintainer: 'Test Packager <test@nginx-forge.invalid>' });
    const [mdeb, ...rest] = await buildModuleDebs({
      plan,
      root,
      licensesDir,
      manifest,
      outDir: out,
      log,
      maintainer: 'Test Packager <test@nginx-forge.invalid>',
      nginxPackage: debPackageName(plan),
      nginxVersion: debVersion(plan),
      arch: /_([^_]+)\.deb$/.exec(deb)![1]!,
    });
    expect(rest).toEqual([]);
    expect(path.basename(mdeb!)).toMatch(/^nginx-forge-ktls-brotli-mod-http-brotli_1\.0\.0~rc-1(~deb\d+u1)?_\w+\.deb$/);
    const f = await debFields(mdeb!, log);
    expect(f.Depends).toMatch(/^nginx-forge-ktls-brotli \(= 1\.26\.3-1(~deb\d+u1)?\), libc6/);
    // the main package no longer carries the .so
    const mainList = (await execa('dpkg-deb', ['-c', deb])).stdout;
    expect(mainList).not.toContain('ngx_http_brotli_filter_module.so');
    expect(mainList).toContain('./etc/nginx/modules-enabled/');

    const report = await lintian(mdeb!, log);
    console.info(`lintian (module package): ${report.errors.length} errors, ${report.warnings.length} warnings${report.warnings.length ? `\n  ${report.warnings.map((t) => t.line).join('\n  ')}` : ''}`);
    expect(report.errors.map((t) => t.line)).toEqual([]);

    const base = await minbaseRoot(log);
    const r = await copyRoot(base.dir, log);
    try {
      cpSync(deb, path.join(r, 'tmp/nginx.deb'));
      cpSync(mdeb!, path.join(r, 'tmp/mod.deb'));
      const install = await shInChroot(r, log, 'dpkg -i /tmp/nginx.deb /tmp/mod.deb');
      expect(install).toMatch(/Setting up nginx-forge-ktls-brotli-mod-http-brotli \(1\.0\.0~rc-1(~deb\d+u1)?\)/);
      const link = path.join(r, 'etc/nginx/modules-enabled/50-mod-http-brotli.conf');
      expect(readlinkSync(link)).toBe('/usr/share/nginx/modules-available/mod-http-brotli.conf');
      // the shipped nginx.conf includes modules-enabled/ once, in the main context
      expect(readFileSync(path.join(r, 'etc/nginx/nginx.conf'), 'utf8').split('\n').filter((l) => l.trim() === ENABLED_INCLUDE)).toHaveLength(1);
      const t = await shInChroot(r, log, '/usr/sbin/nginx -T 2>&1');
      expect(t).toContain('test is successful');
      expect(t).toContain('load_module /usr/lib/nginx/modules/ngx_http_brotli_filter_module.so;');
      // brotli directives are known once the module is loaded
      await shInChroot(r, log, "sed -i 's/^http {/http {\\n    brotli on;\\n    brotli_static on;/' /etc/nginx/nginx.conf");
      expect(await shInChroot(r, log, '/usr/sbin/nginx -t 2>&1')).toContain('test is successful');
      // the admin's choice holds, as with Debian's libnginx-mod-* (dh_nginx): disabled stays disabled on
      // reinstall and across remove + install ...
      const lexists = (f: string) => lstatSync(f, { throwIfNoEntry: false }) !== undefined;
      rmSync(link);
      await shInChroot(r, log, 'dpkg -i /tmp/mod.deb');
      expect(lexists(link), 'disabled, reinstalled').toBe(false);
      await shInChroot(r, log, 'dpkg -r nginx-forge-ktls-brotli-mod-http-brotli && dpkg -i /tmp/mod.deb');
      expect(lexists(link), 'disabled, removed, installed').toBe(false);
      // ... and enabled stays enabled: removed, nginx does not load the missing .so; installed, it is back
      symlinkSync('/usr/share/nginx/modules-available/mod-http-brotli.conf', link);
      await shInChroot(r, log, 'dpkg -r nginx-forge-ktls-brotli-mod-http-brotli');
      expect(lexists(link), 'removed').toBe(false);
      await shInChroot(r, log, "sed -i '/brotli/d' /etc/nginx/nginx.conf");
      expect(await shInChroot(r, log, '/usr/sbin/nginx -t 2>&1')).toContain('test is successful');
      await shInChroot(r, log, 'dpkg -i /tmp/mod.deb');
      expect(readlinkSync(link), 'enabled, removed, installed').toBe('/usr/share/nginx/modules-available/mod-http-brotli.conf');
      await shInChroot(r, log, 'dpkg --purge nginx-forge-ktls-brotli-mod-http-brotli');
      expect(lexists(link)).toBe(false);
      expect(lexists(`${link}.removed`)).toBe(false);
      expect(existsSync(path.join(r, 'usr/lib/nginx/modules/ngx_http_brotli_filter_module.so'))).toBe(false);
    } finally {
      removeRoot(r);
    }
  }, 20 * 60_000);
});
