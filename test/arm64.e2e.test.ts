// The arm64 e2e test: the real cross build of profile ktls for aarch64-linux-gnu on this amd64
// machine (`build --profile ktls --target aarch64-linux-gnu --no-smoke`), ONE build shared by the
// tests below (test/helpers/builtNginx.ts builtCross). Cost: a cold cross build of every
// component (about 15-20 min on 2 busy cores, OpenSSL most of it), nothing when its stages are
// cached; then two configure runs of nginx for the ngx_auto_config.h comparison (about a minute).
// Needs crossbuild-essential-arm64 and qemu-user-static (ci/setup.sh).
import { execa } from 'execa';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { storePath } from '../src/fetch/store.ts';
import { server } from '../src/plan.ts';
import { loadRecipes } from '../src/recipes/load.ts';
import { resolvePlan } from '../src/recipes/resolve.ts';
import { configure } from '../src/stages/nginx.ts';
import { TARGETS } from '../src/target.ts';
import { builtCross, forge, TEST_DISTFILES, type SummaryJson } from './helpers/builtNginx.ts';
import { mirrorFlags } from './helpers/mirror.ts';
import { AARCH64_SIZES, preseededCompilerDir } from './helpers/preseeded.ts';
import type { SmokeResult } from '../src/smoke/index.ts';
import { copyRoot, GUEST_ROOT_PACKAGES, minbaseRoot, removeRoot, shInChroot } from '../src/package/chroot.ts';
import { lintian } from '../src/package/lintian.ts';
import { rpmlint } from '../src/package/rpm.ts';

const T = TARGETS['aarch64-linux-gnu']!;
let built: SummaryJson;

beforeAll(async () => {
  built = await builtCross('ktls', T.triple);
}, 60 * 60_000);

describe('arm64: cross-built on amd64', () => {
  it('ends with an AArch64 ELF (readelf -h), nginx and nginx-debug', async () => {
    for (const b of [built.binary, built.variants['nginx-debug']!]) {
      const h = await execa('readelf', ['-h', b]);
      expect(h.stdout, b).toMatch(/^\s*Machine:\s+AArch64$/m);
      expect(h.stdout).toMatch(/^\s*Class:\s+ELF64$/m);
    }
    // verify ran in the build (it is a dependency of the artifacts) and passed
    expect(built.stages.find((s) => s.id === 'verify')?.status).toMatch(/^(built|cached)$/);
  });

  it('verify passes under qemu-user: nginx -V, nginx -t, kTLS in the OpenSSL linked in, the libraries static, jemalloc', async () => {
    const r = await forge(['verify', '--profile', 'ktls', '--target', T.triple, built.binary]);
    expect(r.exitCode, String(r.stdout) + String(r.stderr)).toBe(0);
    const out = String(r.stdout);
    for (const check of ['ELF machine (readelf -h)', 'nginx version', 'configure arguments', 'kTLS in the OpenSSL linked in (nm: ktls_*)', 'zlib-ng string in the binary', 'nginx -t', 'jemalloc (MALLOC_CONF=stats_print:true nginx -t)']) {
      expect(out, check).toContain(check);
    }
    // jemalloc built with --with-lg-page=16 (its recipe's cross data): 64 KiB pages, so the binary also runs on 64 KiB-page kernels
    const dir = mkdtempSync(path.join(os.tmpdir(), 'forge-arm64-t-'));
    mkdirSync(path.join(dir, 'logs'));
    writeFileSync(path.join(dir, 'nginx.conf'), 'events {}\nhttp {}\n');
    const stats = await execa(T.qemu, ['-L', T.sysroot, built.binary, '-t', '-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', path.join(dir, 'logs/error.log')], { all: true, env: { MALLOC_CONF: 'stats_print:true' } });
    expect(stats.all).toMatch(/^Page size: 65536$/m);
    const v = await execa(T.qemu, ['-L', T.sysroot, built.binary, '-V'], { all: true });
    expect(v.all).toMatch(/--crossbuild=Linux::aarch64 --with-cc=aarch64-linux-gnu-gcc/);
    expect(v.all).toMatch(/built with OpenSSL 3\.5\.7/);
  });

  it('the same binary checked against the amd64 plan is a clear architecture error', async () => {
    const r = await forge(['verify', '--profile', 'ktls', '--target', 'x86_64-linux-gnu', built.binary]);
    expect(r.exitCode).not.toBe(0);
    expect(String(r.stdout) + String(r.stderr)).toMatch(/ELF machine \(readelf -h\)[\s\S]*AArch64: the binary is for another machine than the plan's target/);
  });
});

describe("arm64: nginx's configure answers (qemu-user against pre-seeded answers)", () => {
  it('objs/ngx_auto_config.h is the same both ways', async () => {
    const plan = resolvePlan(loadRecipes(), 'ktls', { target: T.triple });
    const nginx = server(plan);
    // the sources into the test's distfiles store (a cached build did not need them)
    const f = await forge(['fetch', '--profile', 'ktls', ...mirrorFlags()]);
    expect(f.exitCode, String(f.stderr)).toBe(0);
    const tarball = storePath(TEST_DISTFILES, nginx.artifacts[0]!);
    // what decides the run-time answers: the size and byte-order tests, and the feature tests nginx
    // runs (epoll, eventfd, sendfile, file AIO, threads, atomics); no library trees needed
    const args = ['--crossbuild=Linux::aarch64', `--with-cc=${T.triple}-gcc`, '--with-threads', '--with-file-aio', '--with-http_v2_module', '--without-http_rewrite_module', '--without-http_gzip_module'];
    const header = async (how: 'qemu' | 'preseeded') => {
      const ws = mkdtempSync(path.join(os.tmpdir(), `forge-arm64-${how}-`));
      await execa('tar', ['-xzf', tarball, '-C', ws]);
      const src = path.join(ws, nginx.topdir);
      const log = path.join(ws, 'configure.log');
      const env = { LC_ALL: 'C', PATH: process.env.PATH! };
      if (how === 'qemu') {
        // the product's own configure step, as a cross build runs it
        await configure({ ...plan, configureArgs: args, components: [nginx] }, { ws, src, env, jobs: [], log: () => log });
      } else {
        const bin = preseededCompilerDir(path.join(ws, '.preseeded'), T, AARCH64_SIZES, env.PATH);
        await execa('./configure', args, { cwd: src, env: { ...env, PATH: `${bin}:${env.PATH}` } });
      }
      return readFileSync(path.join(src, 'objs', 'ngx_auto_config.h'), 'utf8');
    };
    const viaQemu = await header('qemu');
    const preseeded = await header('preseeded');
    // the answers a run gives, present (a failed run under qemu would leave them out or stop configure)
    for (const m of ['NGX_PTR_SIZE  8', 'NGX_SIG_ATOMIC_T_SIZE  4', 'NGX_TIME_T_SIZE  8', 'NGX_HAVE_LITTLE_ENDIAN  1', 'NGX_HAVE_EPOLL  1', 'NGX_HAVE_FILE_AIO  1']) expect(viaQemu).toContain(`#define ${m}`);
    expect(viaQemu.split('\n')).toEqual(preseeded.split('\n'));
  }, 10 * 60_000);
});

// The kTLS proof on arm64: both binaries of the shared cross build in ONE boot of Debian's arm64
// kernel under qemu-system-aarch64 (TCG, virt, -cpu max), chrooted into an arm64 Debian root
// (debootstrap --foreign + qemu-user-static; cached, ~10 min the first time on 2 cores). The
// build itself ran with --no-smoke, so this is the only arm64 VM boot of the suite (~2-3 min).
describe('arm64: the kTLS smoke test in an arm64 VM', () => {
  let results: SmokeResult[];
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'forge-arm64-smoke-'));
    const { runSmokeBatch } = await import('../src/smoke/index.ts');
    const { smokeGuestRoot } = await import('../src/package/chroot.ts');
    results = await runSmokeBatch([{ nginx: built.binary }, { nginx: built.variants['nginx-debug']! }], {
      target: T,
      guestRoot: () => smokeGuestRoot(T, path.join(dir, 'guest-root.log')),
      logDir: path.join(dir, 'logs'),
      distdir: TEST_DISTFILES,
      onLog: (l) => process.stderr.write(`arm64-smoke: ${l}\n`),
    });
  }, 45 * 60_000);

  it('booted the arm64 kernel once, with the tls ULP, and both binaries PASS with the kernel counters moving', () => {
    expect(results).toHaveLength(2);
    for (const r of results) {
      expect(r.mode).toBe('vm');
      expect(r.env.kernel).toBe('6.1.0-56-arm64');
      expect(r.env.kernelTls).toBe(true);
      expect(r.verdict, r.reason).toBe('PASS');
      expect(r.proofs.ktls_counters).toMatchObject({ ok: true });
      expect(r.proofs.body).toMatchObject({ ok: true });
      for (const p of ['pcre_jit', 'jemalloc']) expect(r.proofs[p], p).toMatchObject({ ok: true });
      const d = r.ciphers.find((c) => c.suite === 'TLS_AES_128_GCM_SHA256')!;
      expect(d.tlsTxDelta).toBeGreaterThanOrEqual(1);
      // the HTTP/3 client is the host's Perl: not tried in the arm64 root, and said so
      expect(r.proofs.http3?.detail ?? '').toMatch(/arm64 guest root has no Perl with CryptX/);
    }
    expect(readFileSync(path.join(dir, 'logs', 'console.log'), 'utf8').match(/Power down/g)?.length).toBe(1);
  });

  it("nginx-debug's log proves it from nginx's side: BIO_get_ktls_send and SSL_sendfile", () => {
    const r = results[1]!;
    expect(r.env.debug).toBe(true);
    expect(r.proofs.ktls_log).toMatchObject({ ok: true });
    const d = r.ciphers.find((c) => c.suite === 'TLS_AES_128_GCM_SHA256')!;
    expect(d).toMatchObject({ ktls: true, ktlsSendLine: true, bodyOk: true });
    expect(d.sslSendfileBytes).toBeGreaterThan(0);
  });
});

// The packages of the shared cross build (`package --target aarch64-linux-gnu`: every build stage
// a cache hit, only the packages made), installed for real: the arm64 .deb by dpkg in a copy of
// the cached arm64 root the smoke VM uses (the same GUEST_ROOT_PACKAGES, so no second debootstrap;
// its binaries, dpkg and the maintainer scripts included, run under qemu-user through binfmt_misc).
describe('arm64: packaged (.deb arm64, .rpm aarch64), installed in an arm64 root', () => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'forge-arm64-pkg-'));
  const log = path.join(work, 'package.log');
  let deb: { deb: string; twins: string[]; dbgsym: string[] };
  let rpm: { rpm: string; twins: string[]; dbgsym: string[] };
  beforeAll(async () => {
    const pkg = async (format: 'deb' | 'rpm') => {
      const r = await forge(['package', '--format', format, '--profile', 'ktls', '--target', T.triple, '--out', path.join(work, format), '--json']);
      expect(r.exitCode, String(r.stderr)).toBe(0);
      const j = JSON.parse(String(r.stdout));
      expect(j.planHash).toBe(built.planHash);
      expect(j.stages.map((x: { status: string }) => x.status)).not.toContain('built');
      return j;
    };
    deb = await pkg('deb');
    rpm = await pkg('rpm');
  }, 20 * 60_000);

  it('the arm64 .deb installs with dpkg in the arm64 root: maintainer scripts run, nginx -V and nginx -t pass (twin too)', async () => {
    expect(path.basename(deb.deb)).toMatch(/^nginx-forge-ktls_1\.26\.3-1(~deb\d+u1)?_arm64\.deb$/);
    const base = await minbaseRoot(log, undefined, { arch: T.debArch, include: GUEST_ROOT_PACKAGES });
    console.info(`arm64 root: ${base.cached ? 'cached' : 'made'} (debootstrap took ${base.seconds.toFixed(0)} s)`);
    const r = await copyRoot(base.dir, log);
    try {
      expect(await shInChroot(r, log, 'dpkg --print-architecture')).toBe('arm64');
      cpSync(deb.deb, path.join(r, 'tmp/pkg.deb'));
      cpSync(deb.twins[0]!, path.join(r, 'tmp/twin.deb'));
      // every Depends is in the root already (libc6, adduser): dpkg -i alone, no apt-get
      expect(await shInChroot(r, log, 'dpkg -i /tmp/pkg.deb')).toMatch(/Setting up nginx-forge-ktls \(1\.26\.3-1/);
      expect(await shInChroot(r, log, "dpkg-query -W -f='${Status} ${Architecture}' nginx-forge-ktls")).toBe('install ok installed arm64');
      expect(await shInChroot(r, log, 'getent passwd nginx')).toMatch(/^nginx:x:\d+:\d+::\/nonexistent:/);
      expect((await execa('readelf', ['-h', path.join(r, 'usr/sbin/nginx')])).stdout).toMatch(/^\s*Machine:\s+AArch64$/m);
      expect(await shInChroot(r, log, '/usr/sbin/nginx -V')).toMatch(/nginx version: nginx\/1\.26\.3[\s\S]*built with OpenSSL 3\.5\.7[\s\S]*--conf-path=\/etc\/nginx\/nginx\.conf/);
      // the shipped configuration (kTLS on, the default site linked by postinst), as nginx reads it
      const t = await shInChroot(r, log, '/usr/sbin/nginx -t');
      expect(t).toContain('syntax is ok');
      expect(t).toContain('test is successful');
      expect(await shInChroot(r, log, '/usr/sbin/nginx -T')).toContain('# configuration file /etc/nginx/conf.d/ktls.conf:');
      expect(await shInChroot(r, log, 'dpkg -i /tmp/twin.deb')).toMatch(/Setting up nginx-forge-ktls-debug \(1\.26\.3-1/);
      expect(await shInChroot(r, log, '/usr/sbin/nginx-debug -t')).toContain('test is successful');
    } finally {
      removeRoot(r);
    }
  }, 15 * 60_000);

  it('the arm64 .debs pass lintian without errors, every override used', async () => {
    for (const d of [deb.deb, ...deb.twins]) {
      const report = await lintian(d, log);
      console.info(`${path.basename(d)}: ${report.version}: ${report.errors.length} errors, ${report.warnings.length} warnings${report.warnings.length ? `\n  ${report.warnings.map((x) => x.line).join('\n  ')}` : ''}`);
      expect(report.errors.map((x) => x.line)).toEqual([]);
      expect(report.tags.filter((x) => x.tag === 'unused-override').map((x) => x.line)).toEqual([]);
    }
  }, 5 * 60_000);

  it('the aarch64 .rpms are rpmlint clean with their own filter file, every filter used', async () => {
    expect(path.basename(rpm.rpm)).toBe('nginx-forge-ktls-1.26.3-1.aarch64.rpm');
    const l = await rpmlint([rpm.rpm, ...rpm.twins, ...rpm.dbgsym], path.join(work, 'rpm', 'nginx-forge-ktls.rpmlintrc'), log);
    console.info(`rpmlint ${l.version}: ${l.errors.length} errors, ${l.warnings.length} warnings`);
    expect([...l.errors, ...l.warnings]).toEqual([]);
    expect(l.lines.join('\n')).toMatch(/0 errors, 0 warnings/);
  }, 5 * 60_000);
});
