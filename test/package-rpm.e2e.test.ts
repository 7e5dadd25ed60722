// The .rpm of the real ktls build (test/helpers/builtNginx.ts: the shared build of this test run).
// Built with rpmbuild, checked with rpmlint (findings filtered only in the package's own
// rpmlintrc, each with its reason), and installed for real: `rpm --root` into a throwaway copy
// of the debootstrap minbase root (cached in the stage cache, as for the .deb test), %pre creating
// the user, then `nginx -V` and `nginx -t` of the shipped configuration inside it (chroot).
// --nodeps: the root is Debian, whose libc is not in the rpm database; rpm -V proves the files.
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planFromFlags } from '../src/flags/plan.ts';
import type { BuildPlan } from '../src/plan.ts';
import { copyRoot, minbaseRoot, removeRoot, shInChroot } from '../src/package/chroot.ts';
import { buildRpm, rpmlint, type RpmResult } from '../src/package/rpm.ts';
import { builtSummary } from './helpers/builtNginx.ts';

const work = mkdtempSync(path.join(tmpdir(), 'nf-rpm-test-'));
const log = path.join(work, 'package.log');
afterAll(() => rmSync(work, { recursive: true, force: true }));
const lexists = (f: string) => lstatSync(f, { throwIfNoEntry: false }) !== undefined;
const rpmq = (args: string[]) => execa('rpm', args, { reject: false, all: true, env: { LC_ALL: 'C' } });

async function builtTree() {
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

/** A throwaway copy of the minbase root with an rpm database and `rpmFile` installed (--nodeps). */
async function installedRoot(rpmFile: string): Promise<string> {
  expect(process.getuid?.() === 0, 'this test needs root (debootstrap, chroot); CI runs as root').toBe(true);
  const base = await minbaseRoot(log);
  const root = await copyRoot(base.dir, log);
  try {
    expect((await rpmq(['--root', root, '--initdb'])).exitCode).toBe(0);
    const install = await rpmq(['--root', root, '-i', '--nodeps', rpmFile]);
    expect(install.exitCode, install.all).toBe(0);
    return root;
  } catch (e) {
    removeRoot(root);
    throw e;
  }
}

describe('.rpm of the real build', () => {
  let plan: BuildPlan;
  let r: RpmResult;
  let tree: Awaited<ReturnType<typeof builtTree>>;

  beforeAll(async () => {
    plan = planFromFlags({ profile: 'ktls' });
    tree = await builtTree();
    r = await buildRpm({ plan, ...tree, outDir: path.join(work, 'out'), log, maintainer: 'Test Packager <test@nginx-forge.invalid>' });
  }, 45 * 60_000);

  it('carries the same content as the .deb: binary, %config(noreplace) configuration, unit, logrotate, docs, licenses', async () => {
    expect(path.basename(r.rpm)).toBe('nginx-forge-ktls-1.26.3-1.x86_64.rpm');
    const q = await rpmq(['-qp', '--qf', '%{NAME} %{VERSION} %{RELEASE} %{PACKAGER}\\n', r.rpm]);
    expect(q.stdout.trim()).toBe('nginx-forge-ktls 1.26.3 1 Test Packager <test@nginx-forge.invalid>');
    const files = (await rpmq(['-qpl', r.rpm])).stdout.split('\n');
    for (const f of [
      '/usr/sbin/nginx',
      '/etc/nginx/nginx.conf',
      '/etc/nginx/conf.d/ktls.conf',
      '/etc/nginx/sites-available/example-tls',
      '/etc/nginx/sites-available/default',
      '/etc/nginx/sites-enabled',
      '/etc/nginx/snippets/tls.conf',
      '/etc/nginx/mime.types',
      '/etc/logrotate.d/nginx',
      '/usr/lib/systemd/system/nginx.service',
      '/usr/share/doc/nginx-forge-ktls/sbom.cdx.json',
      '/usr/share/doc/nginx-forge-ktls/manifest.json',
      '/usr/share/licenses/nginx-forge-ktls/openssl/LICENSE.txt',
      '/var/lib/nginx',
      '/var/log/nginx',
    ]) {
      expect(files, f).toContain(f);
    }
    expect(files.some((f) => f.endsWith('.default') || f.startsWith('/run'))).toBe(false);
    // the default site's link is made by %post on a first install, not shipped (it would come back on every upgrade)
    expect(files).not.toContain('/etc/nginx/sites-enabled/default');
    expect((await rpmq(['-qpc', r.rpm])).stdout.split('\n')).toContain('/etc/nginx/sites-available/default');
    const configs = (await rpmq(['-qpc', r.rpm])).stdout.trim().split('\n');
    expect(configs).toContain('/etc/nginx/nginx.conf');
    expect(configs).toContain('/etc/logrotate.d/nginx');
    // noreplace: rpm's file flags carry RPMFILE_NOREPLACE (16) with RPMFILE_CONFIG (1)
    const flags = (await rpmq(['-qp', '--qf', '[%{FILENAMES} %{FILEFLAGS}\\n]', r.rpm])).stdout;
    expect(Number(/^\/etc\/nginx\/nginx\.conf (\d+)$/m.exec(flags)![1]) & 17).toBe(17);
    const scripts = (await rpmq(['-qp', '--scripts', r.rpm])).stdout;
    expect(scripts).toMatch(/preinstall scriptlet[\s\S]*useradd -r -g nginx/);
    // RPM's own unit: no start-stop-daemon there, QUIT through kill(1)
    const unit = (await execa('sh', ['-c', `rpm2cpio ${r.rpm} | cpio -i --quiet --to-stdout ./usr/lib/systemd/system/nginx.service`])).stdout;
    expect(unit).not.toContain('start-stop-daemon');
    expect(unit).toMatch(/^ExecStop=\/bin\/kill -s QUIT \$MAINPID$/m);
  });

  it('the nginx-debug twin is a sub-package: its binary and unit, requiring exactly this nginx', async () => {
    expect(r.twins.map((t) => path.basename(t))).toEqual(['nginx-forge-ktls-debug-1.26.3-1.x86_64.rpm']);
    const files = (await rpmq(['-qpl', r.twins[0]!])).stdout.trim().split('\n');
    expect(files).toEqual(['/usr/lib/systemd/system/nginx-debug.service', '/usr/sbin/nginx-debug']);
    expect((await rpmq(['-qpR', r.twins[0]!])).stdout).toMatch(/^nginx-forge-ktls = 1\.26\.3-1$/m);
    expect((await rpmq(['-qpl', r.rpm])).stdout).not.toContain('nginx-debug');
    // its own scriptlets (%systemd_post/%systemd_preun as they expand): preset on install, stopped and
    // disabled on erase (its wants link goes), restarted on upgrade if it runs
    const scripts = (await rpmq(['-qp', '--scripts', r.twins[0]!])).stdout;
    expect(scripts).toMatch(/postinstall scriptlet[\s\S]*systemctl --no-reload preset nginx-debug\.service/);
    expect(scripts).toMatch(/preuninstall scriptlet[\s\S]*if \[ \$1 -eq 0 \][\s\S]*systemctl --no-reload disable --now nginx-debug\.service/);
    expect(scripts).toMatch(/postuninstall scriptlet[\s\S]*systemctl try-restart nginx-debug\.service/);
    const unit = (await execa('sh', ['-c', `rpm2cpio ${r.twins[0]} | cpio -i --quiet --to-stdout ./usr/lib/systemd/system/nginx-debug.service`])).stdout;
    expect(unit).toMatch(/^ExecStop=\/bin\/kill -s QUIT \$MAINPID$/m);
  });

  it('is rpmlint clean with its own filter file, and every filter is used', async () => {
    const l = await rpmlint([r.rpm, ...r.twins, ...(r.debuginfo ? [r.debuginfo] : [])], r.rpmlintrc, log);
    console.info(`rpmlint ${l.version}: ${l.errors.length} errors, ${l.warnings.length} warnings`);
    // an unused filter is an rpmlint error (unused-rpmlintrc-filter), so this also checks the filters
    expect([...l.errors, ...l.warnings]).toEqual([]);
    expect(l.lines.join('\n')).toMatch(/0 errors, 0 warnings/);
  }, 120_000);

  it('is reproducible: the same inputs give the same bytes', async () => {
    const again = await buildRpm({ plan, ...tree, outDir: path.join(work, 'out2'), log, maintainer: 'Test Packager <test@nginx-forge.invalid>' });
    const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
    expect(sha(again.rpm)).toBe(sha(r.rpm));
    expect(sha(again.twins[0]!)).toBe(sha(r.twins[0]!));
  }, 120_000);

  it('installs with rpm --root into a throwaway root: %pre makes the user, nginx -V and nginx -t pass, erase cleans up', async () => {
    const root = await installedRoot(r.rpm);
    try {
      expect(await shInChroot(root, log, 'getent passwd nginx')).toMatch(/^nginx:x:\d+:\d+:nginx web server:\/var\/lib\/nginx:\/sbin\/nologin$/m);
      const verify = await rpmq(['--root', root, '-V', '--nodeps', 'nginx-forge-ktls']);
      expect(verify.exitCode, verify.all).toBe(0);
      expect(await shInChroot(root, log, '/usr/sbin/nginx -V')).toMatch(/nginx version: nginx\/1\.26\.3[\s\S]*built with OpenSSL 3\.5\.7[\s\S]*--conf-path=\/etc\/nginx\/nginx\.conf/);
      const t = await shInChroot(root, log, '/usr/sbin/nginx -t');
      expect(t).toContain('/etc/nginx/nginx.conf syntax is ok');
      expect(t).toContain('test is successful');
      // the shipped configuration as nginx reads it: kTLS on at http level, the sites included
      const dump = await shInChroot(root, log, '/usr/sbin/nginx -T');
      expect(dump).toContain('# configuration file /etc/nginx/conf.d/ktls.conf:');
      expect(dump).toContain('# configuration file /etc/nginx/sites-enabled/default:');
      expect(dump).not.toContain('# configuration file /etc/nginx/sites-available/example-tls:');
      // the example TLS server passes too once enabled with an ECDSA certificate in place
      await shInChroot(
        root,
        log,
        'mkdir -p /etc/nginx/ssl && cd /etc/nginx/ssl && ln -s ../sites-available/example-tls ../sites-enabled/example-tls',
      );
      await execa('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=example.com', '-days', '2',
        '-keyout', path.join(root, 'etc/nginx/ssl/example.com.ecdsa.key'), '-out', path.join(root, 'etc/nginx/ssl/example.com.ecdsa.crt')]);
      expect(await shInChroot(root, log, '/usr/sbin/nginx -t')).toContain('test is successful');
      // the twin: --with-debug where the production binary has none, same configuration
      expect(await shInChroot(root, log, '/usr/sbin/nginx -V')).not.toContain('--with-debug');
      const twin = await rpmq(['--root', root, '-i', '--nodeps', r.twins[0]!]);
      expect(twin.exitCode, twin.all).toBe(0);
      expect(await shInChroot(root, log, '/usr/sbin/nginx-debug -V')).toContain('--with-debug');
      expect(await shInChroot(root, log, '/usr/sbin/nginx-debug -t')).toContain('test is successful');
      expect((await rpmq(['--root', root, '-e', '--nodeps', 'nginx-forge-ktls-debug'])).exitCode).toBe(0);
      // %post linked the default site on the first install; the admin removes it and a reinstall keeps it removed
      const site = path.join(root, 'etc/nginx/sites-enabled/default');
      expect(readlinkSync(site)).toBe('../sites-available/default');
      rmSync(site);
      const again = await rpmq(['--root', root, '-U', '--replacepkgs', '--nodeps', r.rpm]);
      expect(again.exitCode, again.all).toBe(0);
      expect(lexists(site), 'sites-enabled/default after a reinstall').toBe(false);
      expect(await shInChroot(root, log, '/usr/sbin/nginx -T')).not.toContain('# configuration file /etc/nginx/sites-enabled/default:');
      // re-enabled by the admin: erase removes the link (as %post makes it); the admin's own (example-tls) stays
      symlinkSync('../sites-available/default', site);
      const erase = await rpmq(['--root', root, '-e', '--nodeps', 'nginx-forge-ktls']);
      expect(erase.exitCode, erase.all).toBe(0);
      for (const p of ['usr/sbin/nginx', 'usr/lib/systemd/system/nginx.service', 'etc/nginx/nginx.conf', 'etc/nginx/sites-enabled/default']) expect(lexists(path.join(root, p)), p).toBe(false);
      expect(lexists(path.join(root, 'etc/nginx/sites-enabled/example-tls'))).toBe(true);
    } finally {
      removeRoot(root);
    }
  }, 15 * 60_000);
});

// ktls-brotli: the dynamic module ships in the main .rpm (stripped as the module .deb strips it)
// and is loaded as the .deb loads it: a load_module snippet in /usr/share/nginx/modules-available,
// linked into /etc/nginx/modules-enabled by %post on a first install. The shared build without
// its smoke test (a package needs the install trees only, as `nginx-forge package` runs it).
describe('.rpm of the ktls-brotli build: the module loads, and stays as the admin left it', () => {
  let r: RpmResult;

  beforeAll(async () => {
    const s = await builtSummary('ktls-brotli', ['--no-smoke']);
    const root = s.binary.replace(/\/usr\/sbin\/nginx$/, '');
    r = await buildRpm({
      plan: planFromFlags({ profile: 'ktls-brotli' }),
      root,
      variants: s.variants,
      licensesDir: path.join(path.dirname(root), 'licenses'),
      manifest: s.artifacts.find((a) => a.endsWith('manifest.json')),
      sbom: s.artifacts.find((a) => a.endsWith('sbom.cdx.json')),
      outDir: path.join(work, 'out-brotli'),
      log,
      maintainer: 'Test Packager <test@nginx-forge.invalid>',
    });
  }, 45 * 60_000);

  it('ships the .so files stripped with their load_module snippet, and is rpmlint clean with its own filter file', async () => {
    const files = (await rpmq(['-qpl', r.rpm])).stdout.split('\n');
    expect(files).toContain('/usr/share/nginx/modules-available/mod-http-brotli.conf');
    expect(files).not.toContain('/etc/nginx/modules-enabled/50-mod-http-brotli.conf');
    const x = path.join(work, 'x-brotli');
    await execa('sh', ['-c', `mkdir -p ${x} && cd ${x} && rpm2cpio ${r.rpm} | cpio -idm --quiet`]);
    for (const so of ['ngx_http_brotli_filter_module.so', 'ngx_http_brotli_static_module.so']) {
      const sections = (await execa('readelf', ['-S', '-W', path.join(x, 'usr/lib/nginx/modules', so)])).stdout;
      expect(sections, so).not.toMatch(/\.debug_(info|line|str)/);
      expect(readFileSync(path.join(x, 'usr/share/nginx/modules-available/mod-http-brotli.conf'), 'utf8')).toContain(`load_module /usr/lib/nginx/modules/${so};`);
    }
    const l = await rpmlint([r.rpm, ...r.twins, ...(r.debuginfo ? [r.debuginfo] : [])], r.rpmlintrc, log);
    console.info(`rpmlint ${l.version} (ktls-brotli): ${l.errors.length} errors, ${l.warnings.length} warnings`);
    expect([...l.errors, ...l.warnings]).toEqual([]);
  }, 120_000);

  it('installed, nginx -t passes with brotli on; a module the admin disabled stays disabled on reinstall; erase removes its link', async () => {
    const root = await installedRoot(r.rpm);
    try {
      const link = path.join(root, 'etc/nginx/modules-enabled/50-mod-http-brotli.conf');
      expect(readlinkSync(link)).toBe('/usr/share/nginx/modules-available/mod-http-brotli.conf');
      await shInChroot(root, log, "sed -i 's/^http {/http {\\n    brotli on;\\n    brotli_static on;/' /etc/nginx/nginx.conf");
      expect(await shInChroot(root, log, '/usr/sbin/nginx -t')).toContain('test is successful');
      // disabled by the admin: nginx no longer knows the directive, and a reinstall keeps it that way
      rmSync(link);
      const disabled = await execa('chroot', [root, '/usr/sbin/nginx', '-t'], { reject: false, all: true });
      expect(disabled.all).toContain('unknown directive "brotli"');
      const again = await rpmq(['--root', root, '-U', '--replacepkgs', '--nodeps', r.rpm]);
      expect(again.exitCode, again.all).toBe(0);
      expect(lexists(link), 'modules-enabled link after a reinstall').toBe(false);
      // enabled again by the admin; erase removes the link (the .so it loads is gone) and the directory
      symlinkSync('/usr/share/nginx/modules-available/mod-http-brotli.conf', link);
      const erase = await rpmq(['--root', root, '-e', '--nodeps', 'nginx-forge-ktls-brotli']);
      expect(erase.exitCode, erase.all).toBe(0);
      expect(lexists(link)).toBe(false);
      expect(lexists(path.join(root, 'etc/nginx/modules-enabled'))).toBe(false);
    } finally {
      removeRoot(root);
    }
  }, 15 * 60_000);
});
