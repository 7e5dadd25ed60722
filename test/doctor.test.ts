import { staticBusybox } from '../src/smoke/vm/initramfs.ts';
import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { doctor, isStaticElf, renderDoctor, which } from '../src/doctor.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const TOOLS = ['cc', 'make', 'perl', 'cmake', 'patch', 'xz', 'bzip2', 'gpgv', 'curl', 'openssl', 'qemu-system-x86_64', 'depmod', 'dpkg-deb', 'rpmbuild', 'modprobe', 'gmake', 'prove', 'setpriv', 'memcached', 'uwsgi'];
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
    for (const id of ['cc', 'make', 'perl', 'cmake', 'patch', 'xz', 'bzip2', 'gpgv', 'linux-tls-h', 'qemu', 'busybox-static', 'dpkg-deb', 'tls-ulp']) {
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
    expect(ids).toEqual(expect.arrayContaining(['prove', 'TAP::Harness::Archive', 'IO::Socket::SSL', 'Net::SSLeay', 'Protocol::WebSocket', 'Cache::Memcached', 'FCGI', 'SCGI', 'GD', 'memcached', 'uwsgi', 'setpriv']));
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
