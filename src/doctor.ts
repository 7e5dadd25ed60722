// `nginx-forge doctor`: are the build, smoke-test and packaging prerequisites present?
// Each check says what it is needed for and which package provides it on Debian/Ubuntu, Alpine
// and FreeBSD. Only what a build needs decides the verdict; missing smoke-test or packaging tools
// are warnings (the build skips or reports those stages), kernel facts are information.
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { which } from './which.ts';

export type Need = 'build' | 'smoke' | 'package' | 'test' | 'kernel';
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

/** Which package provides each check's tool, per system ('' = base system, absent = not applicable). */
const PKG: Record<string, Partial<Record<Family, string>>> = {
  cc: { debian: 'build-essential', alpine: 'build-base', freebsd: '' },
  make: { debian: 'make', alpine: 'make', freebsd: '' },
  gmake: { debian: 'make', alpine: 'make', freebsd: 'gmake' },
  perl: { debian: 'perl', alpine: 'perl', freebsd: 'perl5' },
  cmake: { debian: 'cmake', alpine: 'cmake', freebsd: 'cmake' },
  patch: { debian: 'patch', alpine: 'patch', freebsd: '' },
  xz: { debian: 'xz-utils', alpine: 'xz', freebsd: '' },
  bzip2: { debian: 'bzip2', alpine: 'bzip2', freebsd: '' },
  gpgv: { debian: 'gpgv', alpine: 'gpgv', freebsd: 'gnupg' },
  'linux-tls-h': { debian: 'linux-libc-dev', alpine: 'linux-headers' },
  curl: { debian: 'curl', alpine: 'curl', freebsd: 'curl' },
  openssl: { debian: 'openssl', alpine: 'openssl', freebsd: '' },
  qemu: { debian: 'qemu-system-x86', alpine: 'qemu-system-x86_64', freebsd: 'qemu' },
  'busybox-static': { debian: 'busybox-static', alpine: 'busybox-static' },
  depmod: { debian: 'kmod', alpine: 'kmod' },
  'dpkg-deb': { debian: 'dpkg', alpine: 'dpkg', freebsd: 'dpkg' },
  rpmbuild: { debian: 'rpm', alpine: 'rpm', freebsd: 'rpm4' },
  // `nginx-forge test` (nginx's own test suite); a file missing one of these is skipped, not failed
  prove: { debian: 'perl', alpine: 'perl-utils', freebsd: 'perl5' },
  setpriv: { debian: 'util-linux', alpine: 'setpriv' },
  'TAP::Harness::Archive': { debian: 'libtap-harness-archive-perl', freebsd: 'p5-TAP-Harness-Archive' },
  'IO::Socket::SSL': { debian: 'libio-socket-ssl-perl', alpine: 'perl-io-socket-ssl', freebsd: 'p5-IO-Socket-SSL' },
  'Net::SSLeay': { debian: 'libnet-ssleay-perl', alpine: 'perl-net-ssleay', freebsd: 'p5-Net-SSLeay' },
  'Protocol::WebSocket': { debian: 'libprotocol-websocket-perl', freebsd: 'p5-Protocol-WebSocket' },
  'Cache::Memcached': { debian: 'libcache-memcached-perl', freebsd: 'p5-Cache-Memcached' },
  FCGI: { debian: 'libfcgi-perl', alpine: 'perl-fcgi', freebsd: 'p5-FCGI' },
  SCGI: { debian: 'libscgi-perl', freebsd: 'p5-SCGI' },
  GD: { debian: 'libgd-perl', alpine: 'perl-gd', freebsd: 'p5-GD' },
  memcached: { debian: 'memcached', alpine: 'memcached', freebsd: 'memcached' },
  uwsgi: { debian: 'uwsgi-core uwsgi-plugin-python3', alpine: 'uwsgi uwsgi-python3', freebsd: 'uwsgi' },
};

/** Perl modules nginx's test suite uses, and what for. */
const TEST_PERL_MODULES: [string, string][] = [
  ['TAP::Harness::Archive', 'keeping the TAP of every file (prove -a); required'],
  ['IO::Socket::SSL', 'the TLS test files (ssl*.t, h2_ssl*.t, ...)'],
  ['Net::SSLeay', 'the TLS test files (sessions, OCSP, ALPN checks)'],
  ['Protocol::WebSocket', 'the WebSocket proxy test files'],
  ['Cache::Memcached', 'the memcached test files'],
  ['FCGI', 'the FastCGI test files'],
  ['SCGI', 'the SCGI test files'],
  ['GD', 'the image_filter test files'],
];

type Spec = Omit<Check, 'ok' | 'detail'> & { run: () => Promise<{ ok: boolean; detail: string; hint?: string }> };

export async function doctor(opts: DoctorOptions = {}): Promise<DoctorReport> {
  const env = opts.env ?? process.env;
  const platform = opts.platform ?? os.platform();
  const proc = opts.procDir ?? '/proc';
  const rel = readOsRelease(opts.osRelease ?? '/etc/os-release');
  const family = familyOf(platform, rel);

  const tool = (cmd: string, versionArgs: string[] | null = ['--version']) => async () => {
    const p = which(cmd, env);
    if (!p) return { ok: false, detail: `${cmd}: not found in PATH` };
    const v = versionArgs ? await firstLine(p, versionArgs, env) : undefined;
    const short = v && v.length > 60 ? `${v.slice(0, 57)}...` : v;
    return { ok: true, detail: short ? `${p} (${short})` : p };
  };
  const ccCmd = (env.CC ?? 'cc').split(/\s+/)[0]!;
  const perlModule = (mod: string) => async () => {
    const perl = which('perl', env);
    if (!perl) return { ok: false, detail: 'perl: not found in PATH' };
    const r = await execa(perl, [`-M${mod}`, '-e', `print $${mod}::VERSION // ''`], { env, extendEnv: false, reject: false, timeout: 20_000, stdin: 'ignore' }).catch(() => undefined);
    return r?.exitCode === 0 ? { ok: true, detail: `${mod} ${String(r.stdout).trim() || '(no version)'}` } : { ok: false, detail: `${mod}: not installed` };
  };
  // nginx's test suite: `nginx-forge test`
  const testSuite: Spec[] = [
    { id: 'prove', title: 'prove (Perl)', need: 'test', neededFor: "running nginx's test suite", packages: PKG['prove'] ?? {}, run: tool('prove', ['--version']) },
    ...TEST_PERL_MODULES.map(([mod, what]): Spec => ({ id: mod, title: `Perl ${mod}`, need: 'test', neededFor: what, packages: PKG[mod] ?? {}, run: perlModule(mod) })),
    { id: 'memcached', title: 'memcached', need: 'test', neededFor: 'the memcached test files start one', packages: PKG['memcached'] ?? {}, run: tool('memcached', ['-V']) },
    {
      id: 'uwsgi',
      title: 'uwsgi (python3 plugin)',
      need: 'test',
      neededFor: 'the uwsgi test files start one with a Python app',
      packages: PKG['uwsgi'] ?? {},
      run: async () => {
        const p = which('uwsgi', env);
        if (!p) return { ok: false, detail: 'uwsgi: not found in PATH' };
        const plugin = ['/usr/lib/uwsgi/plugins/python3_plugin.so', '/usr/lib/uwsgi/python3_plugin.so', '/usr/local/lib/uwsgi/python3_plugin.so'].find((x) => existsSync(x));
        return plugin ? { ok: true, detail: `${p}, ${plugin}` } : { ok: false, detail: `${p}, but no python3 plugin` };
      },
    },
  ];

  // the same tools on every system
  const common: Spec[] = [
    { id: 'perl', title: 'perl', need: 'build', neededFor: 'OpenSSL\'s Configure', packages: PKG['perl'] ?? {}, run: tool('perl', ['-e', 'print "perl $^V\\n"']) },
    { id: 'cmake', title: 'cmake', need: 'build', neededFor: 'zlib-ng (built with CMake)', packages: PKG['cmake'] ?? {}, run: tool('cmake') },
    { id: 'patch', title: 'patch', need: 'build', neededFor: 'applying the security patch set and project patches', packages: PKG['patch'] ?? {}, run: tool('patch') },
    { id: 'xz', title: 'xz', need: 'build', neededFor: '.tar.xz sources (zlib-ng repack, Debian patch set)', packages: PKG['xz'] ?? {}, run: tool('xz') },
    { id: 'bzip2', title: 'bzip2', need: 'build', neededFor: '.tar.bz2 sources (jemalloc)', packages: PKG['bzip2'] ?? {}, run: tool('bzip2', null) },
    { id: 'gpgv', title: 'gpgv', need: 'build', neededFor: 'checking release signatures (nginx .asc)', packages: PKG['gpgv'] ?? {}, run: tool('gpgv', ['--version']) },
  ];

  const linux: Spec[] = [
    { id: 'cc', title: 'C compiler', need: 'build', neededFor: 'compiling OpenSSL, PCRE2, zlib-ng, jemalloc and nginx', packages: PKG['cc'] ?? {}, run: tool(ccCmd) },
    { id: 'make', title: 'make', need: 'build', neededFor: 'building every component', packages: PKG['make'] ?? {}, run: tool('make') },
    ...common,
    {
      id: 'linux-tls-h',
      title: 'kernel headers (linux/tls.h)',
      need: 'build',
      neededFor: 'OpenSSL\'s kTLS code (enable-ktls) is compiled against them',
      packages: PKG['linux-tls-h']!,
      run: async () => {
        const cc = which(ccCmd, env);
        if (cc) {
          try {
            const r = await execa(cc, ['-E', '-x', 'c', '-'], { input: '#include <linux/tls.h>\nTLS_CIPHER_AES_GCM_256 TLS_CIPHER_CHACHA20_POLY1305\n', env, extendEnv: false, reject: false, timeout: 20_000 });
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
      },
    },
    { id: 'curl', title: 'curl', need: 'smoke', neededFor: 'the smoke test\'s TLS client', packages: PKG['curl'] ?? {}, run: tool('curl') },
    { id: 'openssl', title: 'openssl', need: 'smoke', neededFor: 'the smoke test\'s certificates', packages: PKG['openssl'] ?? {}, run: tool('openssl', ['version']) },
    { id: 'qemu', title: 'qemu-system-x86_64', need: 'smoke', neededFor: 'the smoke test VM (used when the host kernel lacks kTLS)', packages: PKG['qemu'] ?? {}, run: tool('qemu-system-x86_64') },
    {
      id: 'busybox-static',
      title: 'busybox (static)',
      need: 'smoke',
      neededFor: 'the smoke test VM\'s initramfs',
      packages: PKG['busybox-static']!,
      run: async () => {
        const { staticBusybox } = await import('./smoke/vm/initramfs.ts');
        const found = staticBusybox();
        if (found.path) return { ok: true, detail: `${found.path} (statically linked)` };
        return { ok: false, detail: found.dynamic.length ? `${found.dynamic.join(', ')}: dynamically linked` : 'no busybox binary' };
      },
    },
    { id: 'depmod', title: 'depmod/modinfo (kmod)', need: 'smoke', neededFor: 'indexing the VM\'s kernel modules', packages: PKG['depmod'] ?? {}, run: async () => {
      const p = which('depmod', env) ?? ['/usr/sbin/depmod', '/sbin/depmod'].find((x) => existsSync(x));
      return p ? { ok: true, detail: p } : { ok: false, detail: 'depmod: not found' };
    } },
    ...testSuite,
    { id: 'setpriv', title: 'setpriv', need: 'test', neededFor: 'running the test suite as nobody when started as root', packages: PKG['setpriv'] ?? {}, run: tool('setpriv', ['--version']) },
    { id: 'dpkg-deb', title: 'dpkg-deb', need: 'package', neededFor: 'building the .deb, and unpacking the smoke VM\'s kernel package', packages: PKG['dpkg-deb'] ?? {}, run: tool('dpkg-deb') },
    { id: 'rpmbuild', title: 'rpmbuild', need: 'package', neededFor: 'building the .rpm (package --format rpm)', packages: PKG['rpmbuild'] ?? {}, run: tool('rpmbuild') },
    {
      id: 'tls-ulp',
      title: 'kernel TLS (tls ULP)',
      need: 'kernel',
      neededFor: 'running the kTLS smoke test on the host instead of in a VM',
      packages: {},
      run: async () => {
        let ulp = '';
        try {
          ulp = readFileSync(path.join(proc, 'sys/net/ipv4/tcp_available_ulp'), 'utf8').trim();
        } catch {
          return { ok: false, detail: 'cannot read tcp_available_ulp (not Linux, or /proc not mounted)', hint: 'the smoke test will use a QEMU VM' };
        }
        if (ulp.split(/\s+/).includes('tls')) return { ok: true, detail: `available ULPs: ${ulp}` };
        const modprobe = which('modprobe', env) ?? ['/usr/sbin/modprobe', '/sbin/modprobe'].find((x) => existsSync(x));
        if (modprobe) {
          const r = await execa(modprobe, ['-n', '-q', 'tls'], { env, extendEnv: false, reject: false, timeout: 10_000 });
          if (r.exitCode === 0) return { ok: false, detail: `available ULPs: ${ulp || '(none)'}; the tls module is installed but not loaded`, hint: '`modprobe tls` (as root) adds it; until then the smoke test uses a QEMU VM' };
        }
        return { ok: false, detail: `available ULPs: ${ulp || '(none)'}; this kernel has no tls module`, hint: 'the smoke test runs in a QEMU VM with a kTLS-capable kernel (qemu-system-x86_64, busybox-static)' };
      },
    },
  ];

  const freebsd: Spec[] = [
    { id: 'cc', title: 'C compiler', need: 'build', neededFor: 'compiling every component', packages: PKG['cc'] ?? {}, run: tool(ccCmd) },
    { id: 'gmake', title: 'gmake', need: 'build', neededFor: 'jemalloc\'s and OpenSSL\'s GNU makefiles', packages: PKG['gmake'] ?? {}, run: tool('gmake') },
    ...common,
    ...testSuite,
    {
      id: 'ktls-sysctl',
      title: 'kernel TLS (kern.ipc.tls.enable)',
      need: 'kernel',
      neededFor: 'OpenSSL handing TLS records to the kernel (ktls(4))',
      packages: {},
      run: async () => {
        const v = await firstLine('sysctl', ['-n', 'kern.ipc.tls.enable'], env);
        if (v === '1') return { ok: true, detail: 'kern.ipc.tls.enable=1' };
        return { ok: false, detail: v === undefined ? 'kern.ipc.tls.enable: no such sysctl (kernel without options KERN_TLS)' : `kern.ipc.tls.enable=${v}`, hint: '`sysctl kern.ipc.tls.enable=1` (and add it to /etc/sysctl.conf)' };
      },
    },
    {
      id: 'ktls-ocf',
      title: 'kernel TLS software backend (ktls_ocf)',
      need: 'kernel',
      neededFor: 'kTLS encryption in software (OCF) when the NIC does not offload it',
      packages: {},
      run: async () => {
        if (!existsSync('/boot/kernel/ktls_ocf.ko')) return { ok: true, detail: 'no ktls_ocf.ko module to load (the backend is built into the kernel, or unavailable)' };
        const r = await execa('kldstat', ['-q', '-n', 'ktls_ocf'], { reject: false, timeout: 10_000 }).catch(() => ({ exitCode: 1 }));
        return r.exitCode === 0 ? { ok: true, detail: 'ktls_ocf loaded' } : { ok: false, detail: 'ktls_ocf.ko is not loaded', hint: '`kldload ktls_ocf` (and ktls_ocf_load="YES" in /boot/loader.conf)' };
      },
    },
  ];

  const specs = platform === 'freebsd' ? freebsd : linux;
  const checks: Check[] = await Promise.all(
    specs.map(async ({ run, ...s }) => {
      const r = await run();
      return { ...s, ok: r.ok, detail: r.detail, ...(r.hint ? { hint: r.hint } : {}) };
    }),
  );
  const missing = { build: [], smoke: [], package: [], test: [], kernel: [] } as Record<Need, string[]>;
  for (const c of checks) if (!c.ok) missing[c.need].push(c.id);
  const install: Partial<Record<Family, string>> = {};
  const toInstall = checks.filter((c) => !c.ok && c.need !== 'kernel');
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

const NEED_WORDS: Record<Need, string> = {
  build: 'build',
  smoke: 'smoke test',
  package: 'packaging',
  test: 'test suite',
  kernel: 'kernel',
};

/** The human report: a table, then what is missing and how to install it. */
export function renderDoctor(r: DoctorReport): string {
  const status = (c: Check) => (c.ok ? 'ok' : c.need === 'build' ? 'MISSING' : c.need === 'kernel' ? 'note' : 'missing');
  const rows = r.checks.map((c) => [status(c), c.title, `${NEED_WORDS[c.need]}: ${c.neededFor}`, c.detail]);
  const w = [0, 1].map((i) => Math.max(...rows.map((x) => x[i]!.length)));
  const lines = [`nginx-forge doctor: ${r.distro.name} (${r.platform} ${r.arch})`, ''];
  for (const [s, t, n, d] of rows) lines.push(`  ${s!.padEnd(w[0]!)}  ${t!.padEnd(w[1]!)}  ${n}\n  ${' '.repeat(w[0]!)}  ${' '.repeat(w[1]!)}    ${d}`);
  lines.push('');
  const names = (ids: string[]) => ids.map((id) => r.checks.find((c) => c.id === id)!.title).join(', ');
  if (r.missing.build.length) lines.push(`Missing for a build: ${names(r.missing.build)}.`);
  else lines.push('Everything a build needs is present.');
  if (r.missing.smoke.length) lines.push(`Warning: the smoke test cannot run without: ${names(r.missing.smoke)} (build with --no-smoke, or install them).`);
  if (r.missing.package.length) lines.push(`Warning: packaging (.deb, .rpm) needs: ${names(r.missing.package)}.`);
  if (r.missing.test.length) lines.push(`Warning: \`nginx-forge test\` (nginx's test suite) needs: ${names(r.missing.test)} (files that need a missing Perl module or daemon are skipped).`);
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
