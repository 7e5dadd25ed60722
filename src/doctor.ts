// `nginx-forge doctor`: are the build, smoke-test and packaging prerequisites present?
// Each check says what it is needed for and which package provides it on Debian/Ubuntu, Alpine
// and FreeBSD. Only what a build needs decides the verdict; missing smoke-test or packaging tools
// are warnings (the build skips or reports those stages), kernel facts are information.
// The checks are one table (DOCTOR_CHECKS: what, how it is checked, what for, which command needs
// it, the package per system); doctor() runs the rows for this system, renderDoctor() prints them
// with what each need means when missing (NEEDS); --json prints doctor()'s report.
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { which } from './which.ts';
import { vmOf } from './smoke/vm/machines.ts';
import { hostTriple, TARGETS } from './target.ts';

export type Need = 'build' | 'cross' | 'smoke' | 'package' | 'test' | 'kernel';
export type Family = 'debian' | 'alpine' | 'freebsd';

export interface Check {
  id: string;
  title: string;
  need: Need;
  /** what it is needed for, in words */
  neededFor: string;
  ok: boolean;
  /** version, path, or why it failed */
  detail: string;
  /** package that provides it, per system ('' = part of the base system) */
  packages: Partial<Record<Family, string>>;
  /** what to do beyond installing a package (kernel settings) */
  hint?: string;
}

export interface DoctorReport {
  platform: string;
  arch: string;
  distro: { id: string; name: string; family?: Family };
  checks: Check[];
  missing: Record<Need, string[]>;
  /** one install command per system, for what is missing */
  install: Partial<Record<Family, string>>;
  /** everything a build needs is present */
  ok: boolean;
}

export interface DoctorOptions {
  /** environment to look tools up in (PATH, CC); default process.env */
  env?: Record<string, string | undefined>;
  /** default os.platform() */
  platform?: string;
  /** /proc of the kernel to describe (tests point it elsewhere) */
  procDir?: string;
  /** /etc/os-release to read */
  osRelease?: string;
}

export { which };

async function firstLine(cmd: string, args: string[], env: Record<string, string | undefined>): Promise<string | undefined> {
  try {
    const r = await execa(cmd, args, { env, extendEnv: false, reject: false, timeout: 10_000, stdin: 'ignore', all: true });
    if (r.exitCode !== 0) return undefined;
    return String(r.all ?? '').split('\n').map((l) => l.trim()).find(Boolean);
  } catch {
    return undefined;
  }
}

export { isStaticElf } from './smoke/vm/initramfs.ts';

function readOsRelease(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line);
      if (m) out[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
    }
  } catch {
    // no os-release
  }
  return out;
}

export function familyOf(platform: string, rel: Record<string, string>): Family | undefined {
  if (platform === 'freebsd') return 'freebsd';
  const ids = [rel.ID, ...(rel.ID_LIKE ?? '').split(/\s+/)].filter(Boolean);
  if (ids.some((i) => i === 'debian' || i === 'ubuntu')) return 'debian';
  if (ids.includes('alpine')) return 'alpine';
  return undefined;
}

const INSTALL: Record<Family, (pkgs: string[]) => string> = {
  debian: (p) => `apt-get install -y ${p.join(' ')}`,
  alpine: (p) => `apk add ${p.join(' ')}`,
  freebsd: (p) => `pkg install -y ${p.join(' ')}`,
};

/** What a probe sees: the environment tools are looked up in, the /proc to read, the C compiler. */
export interface ProbeContext {
  env: Record<string, string | undefined>;
  proc: string;
  /** first word of $CC (default cc) */
  cc: string;
}

export interface ProbeResult {
  ok: boolean;
  detail: string;
  /** what to do, when it depends on why the check failed (kernel settings) */
  hint?: string;
}

/** How a check is made. */
export type Probe =
  /** an executable in PATH (or one of `fallback`), with the first line of its version output; `then` checks more once it is found */
  | { tool: string | ((c: ProbeContext) => string); versionArgs: string[] | null; fallback?: string[]; then?: (found: string, c: ProbeContext) => Promise<ProbeResult> }
  /** a Perl module perl can load, with its $VERSION */
  | { perlModule: string }
  | { run: (c: ProbeContext) => Promise<ProbeResult> };

export type System = 'linux' | 'freebsd';

/** One row of the table of checks. */
export interface CheckRow {
  id: string;
  title: string;
  /** which command needs it: only `build` decides the verdict (NEEDS says what each means when missing) */
  need: Need;
  /** what it is needed for, in words */
  neededFor: string;
  /** the systems it is checked on (default both; 'linux' is every system but FreeBSD) */
  on?: System;
  probe: Probe;
  /** the fix: the package that provides it, per system ('' = base system, absent = not applicable) */
  packages: Partial<Record<Family, string>>;
}

const tool = (cmd: string | ((c: ProbeContext) => string), versionArgs: string[] | null = ['--version']): Probe => ({ tool: cmd, versionArgs });
const perlModule = (mod: string): Probe => ({ perlModule: mod });

/**
 * Every check, in the order they are reported: build prerequisites first, then the smoke test's,
 * nginx's test suite's, packaging's, and kernel facts last.
 */
export const DOCTOR_CHECKS: readonly CheckRow[] = [
  // ---- build: a missing one fails `doctor` and stops `build` before it compiles anything
  { id: 'cc', title: 'C compiler', need: 'build', neededFor: 'compiling OpenSSL, PCRE2, zlib-ng, jemalloc and nginx', probe: tool((c) => c.cc), packages: { debian: 'build-essential', alpine: 'build-base', freebsd: '' } },
  { id: 'make', title: 'make', need: 'build', on: 'linux', neededFor: 'building every component', probe: tool('make'), packages: { debian: 'make', alpine: 'make', freebsd: '' } },
  { id: 'gmake', title: 'gmake', need: 'build', on: 'freebsd', neededFor: 'jemalloc\'s and OpenSSL\'s GNU makefiles', probe: tool('gmake'), packages: { debian: 'make', alpine: 'make', freebsd: 'gmake' } },
  { id: 'perl', title: 'perl', need: 'build', neededFor: 'OpenSSL\'s Configure', probe: tool('perl', ['-e', 'print "perl $^V\\n"']), packages: { debian: 'perl', alpine: 'perl', freebsd: 'perl5' } },
  { id: 'cmake', title: 'cmake', need: 'build', neededFor: 'zlib-ng (built with CMake)', probe: tool('cmake'), packages: { debian: 'cmake', alpine: 'cmake', freebsd: 'cmake' } },
  { id: 'autoconf', title: 'autoconf', need: 'build', neededFor: 'jemalloc 5.3.1: its source is a git-tag archive without configure, which autoconf generates (recipe versions.<v>.bootstrap)', probe: tool('autoconf'), packages: { debian: 'autoconf', alpine: 'autoconf', freebsd: 'autoconf' } },
  { id: 'patch', title: 'patch', need: 'build', neededFor: 'applying the security patch set and project patches', probe: tool('patch'), packages: { debian: 'patch', alpine: 'patch', freebsd: '' } },
  { id: 'xz', title: 'xz', need: 'build', neededFor: '.tar.xz sources (zlib-ng repack, Debian patch set)', probe: tool('xz'), packages: { debian: 'xz-utils', alpine: 'xz', freebsd: '' } },
  { id: 'bzip2', title: 'bzip2', need: 'build', neededFor: '.tar.bz2 sources (jemalloc)', probe: tool('bzip2', null), packages: { debian: 'bzip2', alpine: 'bzip2', freebsd: '' } },
  { id: 'gpgv', title: 'gpgv', need: 'build', neededFor: 'checking release signatures (nginx .asc)', probe: tool('gpgv'), packages: { debian: 'gpgv', alpine: 'gpgv', freebsd: 'gnupg' } },
  { id: 'linux-tls-h', title: 'kernel headers (linux/tls.h)', need: 'build', on: 'linux', neededFor: 'OpenSSL\'s kTLS code (enable-ktls) is compiled against them', probe: { run: linuxTlsHeader }, packages: { debian: 'linux-libc-dev', alpine: 'linux-headers' } },
  // ---- cross: `build --target <triple>` for another machine than this one (src/target.ts), one row per tool per target
  ...Object.values(TARGETS)
    .filter((t) => t.triple !== hostTriple())
    .flatMap((t): CheckRow[] => [
      { id: `${t.triple}-gcc`, title: `${t.triple}-gcc`, need: 'cross', on: 'linux', neededFor: `--target ${t.triple}: the cross compiler, binutils and ${t.debArch} libc every component is built with`, probe: tool(`${t.triple}-gcc`), packages: { debian: t.crossPackages[0]! } },
      {
        id: `${t.triple}-libcrypt`,
        title: `libcrypt (${t.debArch})`,
        need: 'cross',
        on: 'linux',
        neededFor: `--target ${t.triple}: nginx links the target's libcrypt (auth_basic); Debian ships it only as a multiarch package`,
        probe: { run: async () => (existsSync(`/usr/lib/${t.triple}/libcrypt.so`) ? { ok: true, detail: `/usr/lib/${t.triple}/libcrypt.so` } : { ok: false, detail: `no /usr/lib/${t.triple}/libcrypt.so` }) },
        packages: { debian: `libcrypt-dev:${t.debArch}` },
      },
      { id: t.qemu, title: t.qemu, need: 'cross', on: 'linux', neededFor: `--target ${t.triple}: runs nginx's configure test programs and verify's nginx -V / -t on this machine`, probe: tool(t.qemu), packages: { debian: 'qemu-user-static' } },
      { id: vmOf(t).qemu, title: vmOf(t).qemu, need: 'cross', on: 'linux', neededFor: `--target ${t.triple}: the smoke test's ${t.cpu} VM (without --no-smoke; its guest root is made with debootstrap)`, probe: tool(vmOf(t).qemu), packages: { debian: vmOf(t).qemuPackage } },
    ]),
  // ---- smoke: `build` skips or reports the smoke test without them
  { id: 'curl', title: 'curl', need: 'smoke', on: 'linux', neededFor: 'the smoke test\'s TLS client', probe: tool('curl'), packages: { debian: 'curl', alpine: 'curl', freebsd: 'curl' } },
  { id: 'openssl', title: 'openssl', need: 'smoke', on: 'linux', neededFor: 'the smoke test\'s certificates', probe: tool('openssl', ['version']), packages: { debian: 'openssl', alpine: 'openssl', freebsd: '' } },
  { id: 'qemu', title: 'qemu-system-x86_64', need: 'smoke', on: 'linux', neededFor: 'the smoke test VM (used when the host kernel lacks kTLS)', probe: tool('qemu-system-x86_64'), packages: { debian: 'qemu-system-x86', alpine: 'qemu-system-x86_64', freebsd: 'qemu' } },
  { id: 'busybox-static', title: 'busybox (static)', need: 'smoke', on: 'linux', neededFor: 'the smoke test VM\'s initramfs', probe: { run: staticBusyboxProbe }, packages: { debian: 'busybox-static', alpine: 'busybox-static' } },
  { id: 'depmod', title: 'depmod/modinfo (kmod)', need: 'smoke', on: 'linux', neededFor: 'indexing the VM\'s kernel modules', probe: { tool: 'depmod', versionArgs: null, fallback: ['/usr/sbin/depmod', '/sbin/depmod'] }, packages: { debian: 'kmod', alpine: 'kmod' } },
  // ---- test: `nginx-forge test` (nginx's test suite); a file missing one of these is skipped, not failed
  { id: 'prove', title: 'prove (Perl)', need: 'test', neededFor: "running nginx's test suite", probe: tool('prove'), packages: { debian: 'perl', alpine: 'perl-utils', freebsd: 'perl5' } },
  { id: 'TAP::Harness::Archive', title: 'Perl TAP::Harness::Archive', need: 'test', neededFor: 'keeping the TAP of every file (prove -a); required', probe: perlModule('TAP::Harness::Archive'), packages: { debian: 'libtap-harness-archive-perl', freebsd: 'p5-TAP-Harness-Archive' } },
  { id: 'IO::Socket::SSL', title: 'Perl IO::Socket::SSL', need: 'test', neededFor: 'the TLS test files (ssl*.t, h2_ssl*.t, ...)', probe: perlModule('IO::Socket::SSL'), packages: { debian: 'libio-socket-ssl-perl', alpine: 'perl-io-socket-ssl', freebsd: 'p5-IO-Socket-SSL' } },
  { id: 'Net::SSLeay', title: 'Perl Net::SSLeay', need: 'test', neededFor: 'the TLS test files (sessions, OCSP, ALPN checks)', probe: perlModule('Net::SSLeay'), packages: { debian: 'libnet-ssleay-perl', alpine: 'perl-net-ssleay', freebsd: 'p5-Net-SSLeay' } },
  { id: 'Protocol::WebSocket', title: 'Perl Protocol::WebSocket', need: 'test', neededFor: 'the WebSocket proxy test files', probe: perlModule('Protocol::WebSocket'), packages: { debian: 'libprotocol-websocket-perl', freebsd: 'p5-Protocol-WebSocket' } },
  { id: 'Cache::Memcached', title: 'Perl Cache::Memcached', need: 'test', neededFor: 'the memcached test files', probe: perlModule('Cache::Memcached'), packages: { debian: 'libcache-memcached-perl', freebsd: 'p5-Cache-Memcached' } },
  { id: 'FCGI', title: 'Perl FCGI', need: 'test', neededFor: 'the FastCGI test files', probe: perlModule('FCGI'), packages: { debian: 'libfcgi-perl', alpine: 'perl-fcgi', freebsd: 'p5-FCGI' } },
  { id: 'SCGI', title: 'Perl SCGI', need: 'test', neededFor: 'the SCGI test files', probe: perlModule('SCGI'), packages: { debian: 'libscgi-perl', freebsd: 'p5-SCGI' } },
  { id: 'GD', title: 'Perl GD', need: 'test', neededFor: 'the image_filter test files', probe: perlModule('GD'), packages: { debian: 'libgd-perl', alpine: 'perl-gd', freebsd: 'p5-GD' } },
  { id: 'CryptX', title: 'Perl CryptX', need: 'test', neededFor: 'the HTTP/3 and QUIC test files (h3_*.t, quic_*.t: the suite\'s own QUIC client)', probe: perlModule('CryptX'), packages: { debian: 'libcryptx-perl', freebsd: 'p5-CryptX' } },
  { id: 'memcached', title: 'memcached', need: 'test', neededFor: 'the memcached test files start one', probe: tool('memcached', ['-V']), packages: { debian: 'memcached', alpine: 'memcached', freebsd: 'memcached' } },
  { id: 'uwsgi', title: 'uwsgi (python3 plugin)', need: 'test', neededFor: 'the uwsgi test files start one with a Python app', probe: { tool: 'uwsgi', versionArgs: null, then: uwsgiPython3 }, packages: { debian: 'uwsgi-core uwsgi-plugin-python3', alpine: 'uwsgi uwsgi-python3', freebsd: 'uwsgi' } },
  { id: 'setpriv', title: 'setpriv', need: 'test', on: 'linux', neededFor: 'running the test suite as nobody when started as root', probe: tool('setpriv'), packages: { debian: 'util-linux', alpine: 'setpriv' } },
  // ---- package: `nginx-forge package`
  { id: 'dpkg-deb', title: 'dpkg-deb', need: 'package', on: 'linux', neededFor: 'building the .deb, and unpacking the smoke VM\'s kernel package', probe: tool('dpkg-deb'), packages: { debian: 'dpkg', alpine: 'dpkg', freebsd: 'dpkg' } },
  { id: 'rpmbuild', title: 'rpmbuild', need: 'package', on: 'linux', neededFor: 'building the .rpm (package --format rpm)', probe: tool('rpmbuild'), packages: { debian: 'rpm', alpine: 'rpm', freebsd: 'rpm4' } },
  // ---- kernel: information (the hint says what to do)
  { id: 'tls-ulp', title: 'kernel TLS (tls ULP)', need: 'kernel', on: 'linux', neededFor: 'running the kTLS smoke test on the host instead of in a VM', probe: { run: tlsUlp }, packages: {} },
  { id: 'ktls-sysctl', title: 'kernel TLS (kern.ipc.tls.enable)', need: 'kernel', on: 'freebsd', neededFor: 'OpenSSL handing TLS records to the kernel (ktls(4))', probe: { run: ktlsSysctl }, packages: {} },
  { id: 'ktls-ocf', title: 'kernel TLS software backend (ktls_ocf)', need: 'kernel', on: 'freebsd', neededFor: 'kTLS encryption in software (OCF) when the NIC does not offload it', probe: { run: ktlsOcf }, packages: {} },
];

async function linuxTlsHeader(c: ProbeContext): Promise<ProbeResult> {
  const cc = which(c.cc, c.env);
  if (cc) {
    try {
      const r = await execa(cc, ['-E', '-x', 'c', '-'], { input: '#include <linux/tls.h>\nTLS_CIPHER_AES_GCM_256 TLS_CIPHER_CHACHA20_POLY1305\n', env: c.env, extendEnv: false, reject: false, timeout: 20_000 });
      if (r.exitCode !== 0) return { ok: false, detail: 'linux/tls.h: not found by the compiler' };
      const last = String(r.stdout).trim().split('\n').pop() ?? '';
      const chacha = !/TLS_CIPHER_CHACHA20_POLY1305/.test(last);
      return { ok: true, detail: `linux/tls.h found${chacha ? ' (AES-GCM and ChaCha20-Poly1305)' : ' (AES-GCM; headers too old for ChaCha20-Poly1305 kTLS)'}` };
    } catch {
      // fall through to the file check
    }
  }
  const f = ['/usr/include/linux/tls.h'].find((p) => existsSync(p));
  return f ? { ok: true, detail: f } : { ok: false, detail: 'linux/tls.h: not found in /usr/include' };
}

async function staticBusyboxProbe(): Promise<ProbeResult> {
  const { staticBusybox } = await import('./smoke/vm/initramfs.ts');
  const found = staticBusybox();
  if (found.path) return { ok: true, detail: `${found.path} (statically linked)` };
  return { ok: false, detail: found.dynamic.length ? `${found.dynamic.join(', ')}: dynamically linked` : 'no busybox binary' };
}

async function uwsgiPython3(p: string): Promise<ProbeResult> {
  const plugin = ['/usr/lib/uwsgi/plugins/python3_plugin.so', '/usr/lib/uwsgi/python3_plugin.so', '/usr/local/lib/uwsgi/python3_plugin.so'].find((x) => existsSync(x));
  return plugin ? { ok: true, detail: `${p}, ${plugin}` } : { ok: false, detail: `${p}, but no python3 plugin` };
}

async function tlsUlp(c: ProbeContext): Promise<ProbeResult> {
  let ulp = '';
  try {
    ulp = readFileSync(path.join(c.proc, 'sys/net/ipv4/tcp_available_ulp'), 'utf8').trim();
  } catch {
    return { ok: false, detail: 'cannot read tcp_available_ulp (not Linux, or /proc not mounted)', hint: 'the smoke test will use a QEMU VM' };
  }
  if (ulp.split(/\s+/).includes('tls')) return { ok: true, detail: `available ULPs: ${ulp}` };
  const modprobe = which('modprobe', c.env) ?? ['/usr/sbin/modprobe', '/sbin/modprobe'].find((x) => existsSync(x));
  if (modprobe) {
    const r = await execa(modprobe, ['-n', '-q', 'tls'], { env: c.env, extendEnv: false, reject: false, timeout: 10_000 });
    if (r.exitCode === 0) return { ok: false, detail: `available ULPs: ${ulp || '(none)'}; the tls module is installed but not loaded`, hint: '`modprobe tls` (as root) adds it; until then the smoke test uses a QEMU VM' };
  }
  return { ok: false, detail: `available ULPs: ${ulp || '(none)'}; this kernel has no tls module`, hint: 'the smoke test runs in a QEMU VM with a kTLS-capable kernel (qemu-system-x86_64, busybox-static)' };
}

async function ktlsSysctl(c: ProbeContext): Promise<ProbeResult> {
  const v = await firstLine('sysctl', ['-n', 'kern.ipc.tls.enable'], c.env);
  if (v === '1') return { ok: true, detail: 'kern.ipc.tls.enable=1' };
  return { ok: false, detail: v === undefined ? 'kern.ipc.tls.enable: no such sysctl (kernel without options KERN_TLS)' : `kern.ipc.tls.enable=${v}`, hint: '`sysctl kern.ipc.tls.enable=1` (and add it to /etc/sysctl.conf)' };
}

async function ktlsOcf(): Promise<ProbeResult> {
  if (!existsSync('/boot/kernel/ktls_ocf.ko')) return { ok: true, detail: 'no ktls_ocf.ko module to load (the backend is built into the kernel, or unavailable)' };
  const r = await execa('kldstat', ['-q', '-n', 'ktls_ocf'], { reject: false, timeout: 10_000 }).catch(() => ({ exitCode: 1 }));
  return r.exitCode === 0 ? { ok: true, detail: 'ktls_ocf loaded' } : { ok: false, detail: 'ktls_ocf.ko is not loaded', hint: '`kldload ktls_ocf` (and ktls_ocf_load="YES" in /boot/loader.conf)' };
}

/** Run one probe; a tool's detail is its path and the first line of its version output. */
export async function runProbe(probe: Probe, c: ProbeContext): Promise<ProbeResult> {
  if ('run' in probe) return probe.run(c);
  if ('perlModule' in probe) {
    const mod = probe.perlModule;
    const perl = which('perl', c.env);
    if (!perl) return { ok: false, detail: 'perl: not found in PATH' };
    const r = await execa(perl, [`-M${mod}`, '-e', `print $${mod}::VERSION // ''`], { env: c.env, extendEnv: false, reject: false, timeout: 20_000, stdin: 'ignore' }).catch(() => undefined);
    return r?.exitCode === 0 ? { ok: true, detail: `${mod} ${String(r.stdout).trim() || '(no version)'}` } : { ok: false, detail: `${mod}: not installed` };
  }
  const cmd = typeof probe.tool === 'function' ? probe.tool(c) : probe.tool;
  const p = which(cmd, c.env) ?? probe.fallback?.find((x) => existsSync(x));
  if (!p) return { ok: false, detail: `${cmd}: not found${probe.fallback ? '' : ' in PATH'}` };
  if (probe.then) return probe.then(p, c);
  const v = probe.versionArgs ? await firstLine(p, probe.versionArgs, c.env) : undefined;
  const short = v && v.length > 60 ? `${v.slice(0, 57)}...` : v;
  return { ok: true, detail: short ? `${p} (${short})` : p };
}

/** The rows checked on `platform`, in table order. */
export function checksFor(platform: string): CheckRow[] {
  const system: System = platform === 'freebsd' ? 'freebsd' : 'linux';
  return DOCTOR_CHECKS.filter((row) => !row.on || row.on === system);
}

export async function doctor(opts: DoctorOptions = {}): Promise<DoctorReport> {
  const env = opts.env ?? process.env;
  const platform = opts.platform ?? os.platform();
  const rel = readOsRelease(opts.osRelease ?? '/etc/os-release');
  const family = familyOf(platform, rel);
  const ctx: ProbeContext = { env, proc: opts.procDir ?? '/proc', cc: (env.CC ?? 'cc').split(/\s+/)[0]! };

  const checks: Check[] = await Promise.all(
    checksFor(platform).map(async ({ probe, on: _on, ...s }) => {
      const r = await runProbe(probe, ctx);
      return { ...s, ok: r.ok, detail: r.detail, ...(r.hint ? { hint: r.hint } : {}) };
    }),
  );
  const missing = { build: [], cross: [], smoke: [], package: [], test: [], kernel: [] } as Record<Need, string[]>;
  for (const c of checks) if (!c.ok) missing[c.need].push(c.id);
  const install: Partial<Record<Family, string>> = {};
  const toInstall = checks.filter((c) => !c.ok && c.need !== 'kernel' && c.need !== 'cross');
  for (const f of ['debian', 'alpine', 'freebsd'] as Family[]) {
    const pkgs = [...new Set(toInstall.map((c) => c.packages[f]).filter((p): p is string => Boolean(p)))];
    if (pkgs.length) install[f] = INSTALL[f](pkgs);
  }
  return {
    platform,
    arch: os.arch(),
    distro: { id: rel.ID ?? platform, name: rel.PRETTY_NAME ?? rel.NAME ?? platform, ...(family ? { family } : {}) },
    checks,
    missing,
    install,
    ok: missing.build.length === 0,
  };
}

/** What each need means: its words in the table, the status of a missing check, the summary line of what is missing. */
export const NEEDS: Record<Need, { words: string; missingStatus: string; missing?: (names: string) => string; present?: string }> = {
  build: { words: 'build', missingStatus: 'MISSING', missing: (n) => `Missing for a build: ${n}.`, present: 'Everything a build needs is present.' },
  cross: {
    words: 'cross build',
    missingStatus: 'missing',
    missing: (n) => {
      const others = Object.values(TARGETS).filter((t) => t.triple !== hostTriple());
      const arches = others.map((t) => t.debArch);
      const pkgs = [...new Set(others.flatMap((t) => [...t.crossPackages, `libcrypt-dev:${t.debArch}`, vmOf(t).qemuPackage]))];
      return `Note: a cross build (build --target ${others.map((t) => t.triple).join(' or ')}) needs: ${n}; on Debian/Ubuntu: ${arches.map((a) => `dpkg --add-architecture ${a} && `).join('')}apt-get update && apt-get install ${pkgs.join(' ')}.`;
    },
  },
  smoke: { words: 'smoke test', missingStatus: 'missing', missing: (n) => `Warning: the smoke test cannot run without: ${n} (build with --no-smoke, or install them).` },
  package: { words: 'packaging', missingStatus: 'missing', missing: (n) => `Warning: packaging (.deb, .rpm) needs: ${n}.` },
  test: { words: 'test suite', missingStatus: 'missing', missing: (n) => `Warning: \`nginx-forge test\` (nginx's test suite) needs: ${n} (files that need a missing Perl module or daemon are skipped).` },
  // kernel facts are notes: their hints say what to do
  kernel: { words: 'kernel', missingStatus: 'note' },
};

/** The human report: a table, then what is missing and how to install it. */
export function renderDoctor(r: DoctorReport): string {
  const status = (c: Check) => (c.ok ? 'ok' : NEEDS[c.need].missingStatus);
  const rows = r.checks.map((c) => [status(c), c.title, `${NEEDS[c.need].words}: ${c.neededFor}`, c.detail]);
  const w = [0, 1].map((i) => Math.max(...rows.map((x) => x[i]!.length)));
  const lines = [`nginx-forge doctor: ${r.distro.name} (${r.platform} ${r.arch})`, ''];
  for (const [s, t, n, d] of rows) lines.push(`  ${s!.padEnd(w[0]!)}  ${t!.padEnd(w[1]!)}  ${n}\n  ${' '.repeat(w[0]!)}  ${' '.repeat(w[1]!)}    ${d}`);
  lines.push('');
  const names = (ids: string[]) => ids.map((id) => r.checks.find((c) => c.id === id)!.title).join(', ');
  for (const need of Object.keys(NEEDS) as Need[]) {
    const n = NEEDS[need];
    if (r.missing[need].length && n.missing) lines.push(n.missing(names(r.missing[need])));
    else if (!r.missing[need].length && n.present) lines.push(n.present);
  }
  for (const c of r.checks.filter((x) => !x.ok && x.hint)) lines.push(`Note (${c.title}): ${c.hint}.`);
  const families = (['debian', 'alpine', 'freebsd'] as Family[]).filter((f) => r.install[f]);
  if (families.length) {
    lines.push('', 'Install what is missing:');
    const label: Record<Family, string> = { debian: 'Debian/Ubuntu', alpine: 'Alpine', freebsd: 'FreeBSD' };
    const order = r.distro.family ? [r.distro.family, ...families.filter((f) => f !== r.distro.family)] : families;
    for (const f of order) if (r.install[f]) lines.push(`  ${label[f].padEnd(13)}  ${r.install[f]}${f === r.distro.family ? '   (this system)' : ''}`);
  }
  return `${lines.join('\n')}\n`;
}
