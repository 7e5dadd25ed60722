// Debug symbols of the real ktls build (the shared build of test/helpers/builtNginx.ts): the
// binaries carry a GNU build-id, the -debug.tar.gz beside the tarball, the <pkg>-dbgsym .debs
// (Debian's layout, lintian --pedantic clean, installed with dpkg in a throwaway root) and the
// <pkg>-debuginfo .rpm (Fedora's layout, rpmlint clean). Then what they are for: gdb reads a core
// dump of the packaged, stripped nginx and shows function names with nginx's source file:line,
// which it cannot without the symbols.
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planFromFlags } from '../src/flags/plan.ts';
import { copyRoot, minbaseRoot, removeRoot, shInChroot } from '../src/package/chroot.ts';
import { buildDebs, debFields } from '../src/package/deb.ts';
import { buildIdOf } from '../src/package/debug.ts';
import { hostDistro } from '../src/package/distro.ts';
import { lintian } from '../src/package/lintian.ts';
import { buildRpm, rpmlint, type RpmResult } from '../src/package/rpm.ts';
import { builtSummary, type SummaryJson } from './helpers/builtNginx.ts';

const work = mkdtempSync(path.join(tmpdir(), 'nf-debug-test-'));
const log = path.join(work, 'package.log');
const ctx = { component: 'nginx', stage: 'test', log };
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const MAINTAINER = 'Test Packager <test@nginx-forge.invalid>';

const freePort = () =>
  new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });

/** gdb on a binary with this debug-file-directory (set before the file loads: -iex). */
const gdb = (debugDir: string, args: string[]) =>
  execa('gdb', ['-batch', '-nx', '-iex', `set debug-file-directory ${debugDir}`, ...args], { reject: false, all: true }).then((r) => String(r.all));

describe('debug symbols of the real build', () => {
  const plan = planFromFlags({ profile: 'ktls' });
  let s: SummaryJson & { cold: SummaryJson };
  let debs: Awaited<ReturnType<typeof buildDebs>>;
  let rpm: RpmResult;
  let ids: { nginx: string; debug: string };

  beforeAll(async () => {
    // the smoke test is not needed here (artifacts do not depend on it)
    s = await builtSummary('ktls', ['--no-smoke']);
    const root = s.binary.replace(/\/usr\/sbin\/nginx$/, '');
    const tree = {
      plan,
      root,
      variants: s.variants,
      licensesDir: path.join(path.dirname(root), 'licenses'),
      manifest: s.artifacts.find((a) => a.endsWith('manifest.json')),
      sbom: s.artifacts.find((a) => a.endsWith('sbom.cdx.json')),
      maintainer: MAINTAINER,
      log,
    };
    debs = await buildDebs({ ...tree, outDir: path.join(work, 'deb') });
    rpm = await buildRpm({ ...tree, outDir: path.join(work, 'rpm') });
    ids = { nginx: (await buildIdOf(ctx, s.binary))!, debug: (await buildIdOf(ctx, s.variants['nginx-debug']!))! };
  }, 45 * 60_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('the built binaries carry a GNU build-id (the profile links with -Wl,--build-id=sha1)', () => {
    expect(plan.configureArgs.find((a) => a.startsWith('--with-ld-opt='))).toContain('-Wl,--build-id=sha1');
    expect(ids.nginx).toMatch(/^[0-9a-f]{40}$/);
    expect(ids.debug).toMatch(/^[0-9a-f]{40}$/);
    expect(ids.debug).not.toBe(ids.nginx);
  });

  it('build --out has the symbols beside the tarball, under the build-ids, listed in SHA256SUMS', async () => {
    const archive = s.artifacts.find((a) => a.endsWith('-debug.tar.gz'))!;
    expect(path.basename(archive)).toBe('nginx-1.26.3-ktls-linux-x86_64-debug.tar.gz');
    const members = (await execa('tar', ['-tzf', archive])).stdout.split('\n');
    const top = 'nginx-1.26.3-ktls-linux-x86_64-debug/usr/lib/debug/.build-id';
    for (const id of [ids.nginx, ids.debug]) expect(members).toContain(`${top}/${id.slice(0, 2)}/${id.slice(2)}.debug`);
    const sums = readFileSync(path.join(path.dirname(archive), 'SHA256SUMS'), 'utf8');
    expect(sums).toContain(`${sha(archive)}  ${path.basename(archive)}\n`);
    // the tarball's (unstripped) nginx, once stripped, finds its symbols in the archive
    const x = path.join(work, 'archive');
    mkdirSync(x);
    await execa('tar', ['-xzf', archive, '-C', x, '--strip-components=1']);
    const stripped = path.join(work, 'nginx-stripped');
    await execa('strip', ['--strip-debug', '-o', stripped, s.binary]);
    expect(await gdb(path.join(x, 'usr/lib/debug'), ['-ex', 'info line ngx_http_process_request', stripped])).toMatch(/^Line \d+ of "src\/http\/ngx_http_request\.c"/m);
  });

  it('<pkg>-dbgsym .debs in Debian\'s layout: Section debug, Auto-Built-Package, Build-Ids, Depends on the exact version', async () => {
    const main = await debFields(debs.deb, log);
    expect(debs.dbgsym.map((d) => path.basename(d))).toEqual([
      `nginx-forge-ktls-dbgsym_${main.Version}_${main.Architecture}.deb`,
      `nginx-forge-ktls-debug-dbgsym_${main.Version}_${main.Architecture}.deb`,
    ]);
    const expected: [string, string][] = [['nginx-forge-ktls', ids.nginx], ['nginx-forge-ktls-debug', ids.debug]];
    for (const [i, [owner, id]] of expected.entries()) {
      const f = await debFields(debs.dbgsym[i]!, log);
      expect(f).toMatchObject({
        Package: `${owner}-dbgsym`,
        Source: 'nginx-forge-ktls',
        Version: main.Version,
        'Auto-Built-Package': 'debug-symbols',
        Section: 'debug',
        Priority: 'optional',
        Depends: `${owner} (= ${main.Version})`,
        'Build-Ids': id,
      });
      const list = (await execa('dpkg-deb', ['-c', debs.dbgsym[i]!])).stdout;
      const files = list.split('\n').filter((l) => !l.startsWith('d')).map((l) => l.split(/\s+/).slice(5).join(' '));
      expect(files).toEqual([`./usr/lib/debug/.build-id/${id.slice(0, 2)}/${id.slice(2)}.debug`, `./usr/share/doc/${owner}-dbgsym -> ${owner}`]);
    }
    // the packaged binary itself has no debug information left
    expect((await execa('dpkg-deb', ['--fsys-tarfile', debs.deb]).pipe('tar', ['-xO', './usr/sbin/nginx']).pipe('file', ['-'])).stdout).not.toContain('with debug_info');
  });

  it('the dbgsym .debs are lintian --pedantic clean', async () => {
    for (const d of debs.dbgsym) {
      const report = await lintian(d, log);
      console.info(`${path.basename(d)}: ${report.version}: ${report.tags.map((t) => t.line).join('; ') || 'no tags'}`);
      expect([...report.errors, ...report.warnings, ...report.tags.filter((t) => t.level === 'P')].map((t) => t.line)).toEqual([]);
    }
  }, 180_000);

  it('the <pkg>-debuginfo .rpm: Fedora\'s layout, rpmlint clean with the main packages', async () => {
    expect(path.basename(rpm.debuginfo!)).toBe('nginx-forge-ktls-debuginfo-1.26.3-1.x86_64.rpm');
    const list = (await execa('rpm', ['-qpl', rpm.debuginfo!])).stdout.split('\n');
    for (const id of [ids.nginx, ids.debug]) expect(list).toContain(`/usr/lib/debug/.build-id/${id.slice(0, 2)}/${id.slice(2)}.debug`);
    expect(list).toContain('/usr/lib/debug/usr/sbin/nginx-1.26.3-1.x86_64.debug');
    expect(list).toContain('/usr/lib/debug/usr/sbin/nginx-debug-1.26.3-1.x86_64.debug');
    expect((await execa('rpm', ['-qpl', rpm.rpm])).stdout).not.toContain('/usr/lib/debug');
    expect((await execa('rpm', ['-qp', '--provides', rpm.debuginfo!])).stdout).toContain(`debuginfo(build-id) = ${ids.nginx}`);
    // the build-id link resolves to the debug file, which gdb reads
    const x = path.join(work, 'rpmroot');
    mkdirSync(x);
    await execa('sh', ['-c', `rpm2cpio '${rpm.debuginfo}' | cpio -idm --quiet`], { cwd: x });
    expect(sha(path.join(x, `usr/lib/debug/.build-id/${ids.nginx.slice(0, 2)}/${ids.nginx.slice(2)}.debug`))).toBe(sha(path.join(x, 'usr/lib/debug/usr/sbin/nginx-1.26.3-1.x86_64.debug')));
    const l = await rpmlint([rpm.rpm, ...rpm.twins, rpm.debuginfo!], rpm.rpmlintrc, log);
    expect([...l.errors, ...l.warnings]).toEqual([]);
  }, 180_000);

  it('gdb on a core dump of the installed nginx shows function names and source lines with the dbgsym package, and not without', async () => {
    expect(process.getuid?.() === 0, 'this test needs root (debootstrap, chroot); CI runs as root').toBe(true);
    const base = await minbaseRoot(log);
    const r = await copyRoot(base.dir, log);
    let pid: number | undefined;
    try {
      cpSync(debs.deb, path.join(r, 'tmp/pkg.deb'));
      cpSync(debs.dbgsym[0]!, path.join(r, 'tmp/dbgsym.deb'));
      // Depends on exactly the package: the symbols alone do not install
      expect(await shInChroot(r, log, 'dpkg -i /tmp/dbgsym.deb; echo "exit $?"')).toMatch(/depends on nginx-forge-ktls \(= [^)]+\)[\s\S]*exit 1/);
      await shInChroot(r, log, 'dpkg -r nginx-forge-ktls-dbgsym || true; dpkg -i /tmp/pkg.deb /tmp/dbgsym.deb');
      expect(await shInChroot(r, log, "dpkg-query -W -f='${Status}' nginx-forge-ktls-dbgsym")).toBe('install ok installed');
      expect(existsSync(path.join(r, `usr/lib/debug/.build-id/${ids.nginx.slice(0, 2)}/${ids.nginx.slice(2)}.debug`))).toBe(true);

      // the installed (stripped) nginx, running; gcore writes its core as a crash would
      const run = path.join(work, 'run');
      mkdirSync(run);
      writeFileSync(
        path.join(run, 'nginx.conf'),
        `daemon off; master_process off; user root root; pid ${run}/nginx.pid; error_log ${run}/error.log;\nevents { }\nhttp { access_log off;\n` +
          ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${run}/${t};\n`).join('') +
          `  server { listen 127.0.0.1:${await freePort()}; }\n}\n`,
      );
      const nginx = execa(path.join(r, 'usr/sbin/nginx'), ['-p', run, '-c', path.join(run, 'nginx.conf')], { reject: false });
      pid = nginx.pid!;
      for (let i = 0; i < 100 && !existsSync(path.join(run, 'nginx.pid')) && nginx.exitCode === null; i++) await new Promise((res) => setTimeout(res, 100));
      expect(nginx.exitCode, `nginx exited: ${readFileSync(path.join(run, 'error.log'), 'utf8')}`).toBeNull();
      const core = path.join(work, 'core');
      await execa('gcore', ['-o', core, String(pid)]);
      process.kill(pid, 'SIGKILL');
      await nginx;
      pid = undefined;
      const corefile = `${core}.${nginx.pid}`;

      const bt = await gdb(path.join(r, 'usr/lib/debug'), ['-ex', 'bt', path.join(r, 'usr/sbin/nginx'), corefile]);
      console.info(bt.split('\n').filter((l) => l.startsWith('#')).join('\n'));
      expect(bt).toMatch(/#\d+ .* in ngx_process_events_and_timers \(cycle=.*\) at src\/event\/ngx_event\.c:\d+/);
      expect(bt).toMatch(/#\d+ .* in main \(.*\) at src\/core\/nginx\.c:\d+/);
      const line = await gdb(path.join(r, 'usr/lib/debug'), ['-ex', 'info line ngx_http_process_request', path.join(r, 'usr/sbin/nginx')]);
      expect(line).toMatch(/^Line \d+ of "src\/http\/ngx_http_request\.c" starts at address/m);

      // without the dbgsym package: names from the symbol table only, no source files or lines
      await shInChroot(r, log, 'dpkg -r nginx-forge-ktls-dbgsym');
      const bare = await gdb(path.join(r, 'usr/lib/debug'), ['-ex', 'bt', path.join(r, 'usr/sbin/nginx'), corefile]);
      expect(bare).toMatch(/in ngx_process_events_and_timers \(\)/);
      expect(bare).not.toMatch(/ at src\//);
      expect(await gdb(path.join(r, 'usr/lib/debug'), ['-ex', 'info line ngx_http_process_request', path.join(r, 'usr/sbin/nginx')])).toMatch(/No line number information available/);
    } finally {
      if (pid) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      removeRoot(r);
    }
  }, 300_000);

  it('the packages are for the build host\'s distribution: ~debNNu1 in the version', async () => {
    const d = hostDistro();
    const f = await debFields(debs.deb, log);
    if (d?.id === 'debian') expect(f.Version).toBe(`1.26.3-1~deb${d.version}u1`);
    else expect(f.Version).toMatch(/^1\.26\.3-1/);
  });
});
