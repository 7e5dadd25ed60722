import { staticBusybox } from '../src/smoke/vm/initramfs.ts';
import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checksFor, doctor, DOCTOR_CHECKS, isStaticElf, NEEDS, renderDoctor, which, type Family } from '../src/doctor.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const TOOLS = ['cc', 'make', 'perl', 'cmake', 'autoconf', 'patch', 'xz', 'bzip2', 'gpgv', 'curl', 'openssl', 'qemu-system-x86_64', 'depmod', 'dpkg-deb', 'rpmbuild', 'modprobe', 'gmake', 'prove', 'setpriv', 'memcached', 'uwsgi'];
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A PATH directory with the host's tools, minus some. */
function pathWithout(...drop: string[]): string {
  const d = mkdtempSync(path.join(tmpdir(), 'nf-doctor-path-'));
  dirs.push(d);
  for (const t of TOOLS) {
    if (drop.includes(t)) continue;
    const real = which(t, process.env);
    if (real) symlinkSync(real, path.join(d, t));
  }
  return d;
}

describe('doctor', () => {
  it('finds the tools this machine has, and says what each is for', async () => {
    const r = await doctor();
    const cc = r.checks.find((c) => c.id === 'cc')!;
    expect(cc.ok).toBe(true);
    expect(cc.detail).toContain('/');
    for (const c of r.checks) {
      expect(c.neededFor.length, c.id).toBeGreaterThan(5);
      if (c.need !== 'kernel') expect(c.packages.debian, c.id).toBeTruthy();
    }
    for (const id of ['cc', 'make', 'perl', 'cmake', 'autoconf', 'patch', 'xz', 'bzip2', 'gpgv', 'linux-tls-h', 'qemu', 'busybox-static', 'dpkg-deb', 'tls-ulp']) {
      expect(r.checks.map((c) => c.id)).toContain(id);
    }
    // this project's machines run ci/setup.sh, which installs every build prerequisite
    expect(r.missing.build).toEqual([]);
    expect(r.ok).toBe(true);
    expect(renderDoctor(r)).toContain('Everything a build needs is present.');
  });

  it('reports a build tool missing from PATH with the install command for each system', async () => {
    const r = await doctor({ env: { PATH: pathWithout('cmake') } });
    const cmake = r.checks.find((c) => c.id === 'cmake')!;
    expect(cmake.ok).toBe(false);
    expect(cmake.detail).toContain('not found');
    expect(r.missing.build).toEqual(['cmake']);
    expect(r.ok).toBe(false);
    expect(r.install.debian).toBe('apt-get install -y cmake');
    expect(r.install.alpine).toBe('apk add cmake');
    const text = renderDoctor(r);
    expect(text).toMatch(/MISSING\s+cmake\s+build: zlib-ng/);
    expect(text).toContain('Missing for a build: cmake.');
    expect(text).toContain('apt-get install -y cmake');
  });

  it('treats missing smoke-test tools as a warning, not a failure', async () => {
    const r = await doctor({ env: { PATH: pathWithout('curl', 'qemu-system-x86_64') } });
    expect(r.ok).toBe(true);
    expect(r.missing.smoke).toEqual(['curl', 'qemu']);
    expect(r.install.debian).toBe('apt-get install -y curl qemu-system-x86');
    expect(renderDoctor(r)).toContain('Warning: the smoke test cannot run without: curl, qemu-system-x86_64');
  });

  it('the CLI exits 7 when a build tool is missing and 0 when only smoke tools are (--json for scripts)', async () => {
    const cli = (PATH: string) =>
      execa(process.execPath, [path.join(ROOT, 'bin/nginx-forge.mjs'), 'doctor', '--json'], { env: { PATH, HOME: process.env.HOME }, extendEnv: false, reject: false, cwd: ROOT });
    const bad = await cli(pathWithout('perl'));
    expect(bad.exitCode).toBe(7);
    const j = JSON.parse(bad.stdout);
    expect(j.ok).toBe(false);
    expect(j.missing.build).toEqual(['perl']);
    // without perl, nginx's test suite lacks its Perl modules too (they are listed after perl)
    expect(j.install.debian).toMatch(/^apt-get install -y perl( lib[a-z-]+-perl)+$/);
    expect(j.install.freebsd).toMatch(/^pkg install -y perl5( p5-[A-Za-z-]+)+$/);
    expect(j.missing.test).toContain('TAP::Harness::Archive');
    const warn = await cli(pathWithout('dpkg-deb'));
    expect(warn.exitCode).toBe(0);
    expect(JSON.parse(warn.stdout).missing.package).toEqual(['dpkg-deb']);
  }, 60_000);

  it("checks what nginx's test suite uses under the need 'test' (a warning, not a failure)", async () => {
    const all = await doctor();
    const ids = all.checks.filter((c) => c.need === 'test').map((c) => c.id);
    expect(ids).toEqual(expect.arrayContaining(['prove', 'TAP::Harness::Archive', 'IO::Socket::SSL', 'Net::SSLeay', 'Protocol::WebSocket', 'Cache::Memcached', 'FCGI', 'SCGI', 'GD', 'CryptX', 'memcached', 'uwsgi', 'setpriv']));
    const r = await doctor({ env: { PATH: pathWithout('memcached', 'uwsgi') } });
    expect(r.ok).toBe(true);
    expect(r.missing.test).toEqual(['memcached', 'uwsgi']);
    expect(r.install.debian).toBe('apt-get install -y memcached uwsgi-core uwsgi-plugin-python3');
    expect(renderDoctor(r)).toContain("Warning: `nginx-forge test` (nginx's test suite) needs: memcached, uwsgi (python3 plugin)");
  });

  it('reads the kernel\'s ULP list: tls present, or a hint about modprobe / the VM', async () => {
    const proc = mkdtempSync(path.join(tmpdir(), 'nf-proc-'));
    dirs.push(proc);
    mkdirSync(path.join(proc, 'sys/net/ipv4'), { recursive: true });
    writeFileSync(path.join(proc, 'sys/net/ipv4/tcp_available_ulp'), 'espintcp mptcp tls\n');
    const yes = (await doctor({ procDir: proc })).checks.find((c) => c.id === 'tls-ulp')!;
    expect(yes.ok).toBe(true);
    writeFileSync(path.join(proc, 'sys/net/ipv4/tcp_available_ulp'), 'mptcp\n');
    const no = (await doctor({ procDir: proc })).checks.find((c) => c.id === 'tls-ulp')!;
    expect(no.ok).toBe(false);
    expect(no.need).toBe('kernel');
    expect(no.hint).toMatch(/modprobe tls|QEMU VM/);
  });

  it('on FreeBSD: gmake, and the kTLS sysctl / ktls_ocf hints', async () => {
    const r = await doctor({ platform: 'freebsd', env: { PATH: pathWithout('gmake') } });
    expect(r.missing.build).toContain('gmake');
    expect(r.install.freebsd).toContain('gmake');
    const sysctl = r.checks.find((c) => c.id === 'ktls-sysctl')!;
    expect(sysctl.need).toBe('kernel');
    if (!sysctl.ok) expect(sysctl.hint).toContain('sysctl kern.ipc.tls.enable=1');
    expect(r.checks.find((c) => c.id === 'ktls-ocf')).toBeDefined();
    expect(renderDoctor(r)).toContain('pkg install -y');
  });

  it('tells a static ELF from a dynamic one, and finds the static busybox the VM uses (installed by ci/setup.sh)', async () => {
    expect(isStaticElf(readFileSync(process.execPath))).toBe(false);
    expect(isStaticElf(Buffer.from('#!/bin/sh\n'))).toBe(false);
    const found = staticBusybox();
    expect(found.path, 'busybox-static is installed by ci/setup.sh').toBeDefined();
    expect(isStaticElf(readFileSync(found.path!))).toBe(true);
    // doctor reports exactly what the VM will use
    const r = await doctor();
    expect(r.checks.find((c) => c.id === 'busybox-static')).toMatchObject({ ok: true, detail: `${found.path} (statically linked)` });
  });
});

describe('doctor: the table of checks', () => {
  const LINUX = ['cc', 'make', 'perl', 'cmake', 'autoconf', 'patch', 'xz', 'bzip2', 'gpgv', 'linux-tls-h', 'aarch64-linux-gnu-gcc', 'aarch64-linux-gnu-libcrypt', 'qemu-aarch64-static',
  'qemu-system-aarch64', 'curl', 'openssl', 'qemu', 'busybox-static', 'depmod', 'prove', 'TAP::Harness::Archive', 'IO::Socket::SSL', 'Net::SSLeay', 'Protocol::WebSocket', 'Cache::Memcached', 'FCGI', 'SCGI', 'GD', 'CryptX', 'memcached', 'uwsgi', 'setpriv', 'dpkg-deb', 'rpmbuild', 'tls-ulp'];
  const FREEBSD = ['cc', 'gmake', 'perl', 'cmake', 'autoconf', 'patch', 'xz', 'bzip2', 'gpgv', 'prove', 'TAP::Harness::Archive', 'IO::Socket::SSL', 'Net::SSLeay', 'Protocol::WebSocket', 'Cache::Memcached', 'FCGI', 'SCGI', 'GD', 'CryptX', 'memcached', 'uwsgi', 'ktls-sysctl', 'ktls-ocf'];

  it('checks every row for its system, in table order, and reports each', async () => {
    expect(checksFor('linux').map((c) => c.id)).toEqual(LINUX);
    expect(checksFor('freebsd').map((c) => c.id)).toEqual(FREEBSD);
    // every row is checked somewhere; other systems get the Linux rows
    expect(new Set([...LINUX, ...FREEBSD])).toEqual(new Set(DOCTOR_CHECKS.map((c) => c.id)));
    expect(checksFor('darwin').map((c) => c.id)).toEqual(LINUX);
    expect((await doctor()).checks.map((c) => c.id)).toEqual(LINUX);
  });

  for (const platform of ['linux', 'freebsd']) {
    it(`${platform}: with a PATH holding no tools, every check that looks a tool up in PATH is missing, with its packages in the install commands`, async () => {
      const empty = mkdtempSync(path.join(tmpdir(), 'nf-doctor-empty-'));
      dirs.push(empty);
      const r = await doctor({ platform, env: { PATH: empty } });
      const text = renderDoctor(r);
      const inPath = checksFor(platform).filter((row) => 'perlModule' in row.probe || ('tool' in row.probe && !row.probe.fallback));
      expect(inPath.length).toBeGreaterThan(15);
      for (const row of inPath) {
        const c = r.checks.find((x) => x.id === row.id)!;
        expect(c.ok, row.id).toBe(false);
        expect(c.detail, row.id).toMatch('perlModule' in row.probe ? /^perl: not found in PATH$/ : / not found in PATH$/);
        expect(r.missing[row.need], row.id).toContain(row.id);
        // the fix: its package, for every system that has one; a cross build's tools are not in
        // the install commands of this machine's own needs (its note line names them)
        for (const f of ['debian', 'alpine', 'freebsd'] as Family[]) {
          for (const pkg of (row.packages[f] ?? '').split(' ').filter(Boolean)) {
            if (row.need === 'cross') expect(r.install[f]?.split(' ') ?? [], `${row.id} ${f}`).not.toContain(pkg);
            else expect(r.install[f]!.split(' '), `${row.id} ${f}`).toContain(pkg);
          }
        }
        if (row.need === 'cross') for (const pkg of (row.packages.debian ?? '').split(' ').filter(Boolean)) expect(text, row.id).toContain(pkg);
        // the table line says it is missing and what for; the summary line of its need names it
        expect(text, row.id).toContain(`${NEEDS[row.need].missingStatus.padEnd(7)}  ${row.title.padEnd(Math.max(...r.checks.map((x) => x.title.length)))}  ${NEEDS[row.need].words}: ${row.neededFor}\n`);
        const titles = r.missing[row.need].map((id) => r.checks.find((x) => x.id === id)!.title);
        expect(titles, row.id).toContain(row.title);
        expect(text, row.id).toContain(`${NEEDS[row.need].missing!(titles.join(', '))}\n`);
      }
      expect(r.ok).toBe(false);
      expect(text).toContain('Missing for a build: C compiler, ');
      expect(text).not.toContain(NEEDS.build.present);
    });
  }

  it("a kernel check's hint is rendered as a note", async () => {
    const proc = mkdtempSync(path.join(tmpdir(), 'nf-proc-'));
    dirs.push(proc);
    const r = await doctor({ procDir: proc });
    expect(r.checks.find((c) => c.id === 'tls-ulp')).toMatchObject({ ok: false, need: 'kernel', hint: 'the smoke test will use a QEMU VM' });
    expect(r.missing.kernel).toEqual(['tls-ulp']);
    expect(r.ok).toBe(true);
    expect(renderDoctor(r)).toMatch(/^ {2}note +kernel TLS \(tls ULP\) +kernel: running the kTLS smoke test/m);
    expect(renderDoctor(r)).toContain('Note (kernel TLS (tls ULP)): the smoke test will use a QEMU VM.');
  });
});

