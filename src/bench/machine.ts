// Describe the machine and the binaries a benchmark ran on, so a result file stands on its own.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseNginxV } from '../nginxv.ts';

export interface LoadSample {
  at: string;
  /** 1, 5 and 15 minute load averages */
  loadavg: [number, number, number];
  /** `uptime` as printed (includes the load averages), when the tool exists */
  uptime?: string;
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memBytes: number;
  kernel: string;
  os: string;
  /** kernel TLS ULP available (`tls` in /proc/sys/net/ipv4/tcp_available_ulp) */
  ktlsUlp: boolean;
  tools: Record<string, string>;
}

export function loadSample(): LoadSample {
  const [a, b, c] = os.loadavg();
  let uptime: string | undefined;
  try {
    uptime = execFileSync('uptime', [], { encoding: 'utf8', timeout: 5000 }).trim();
  } catch {
    uptime = undefined;
  }
  return { at: new Date().toISOString(), loadavg: [round2(a!), round2(b!), round2(c!)], uptime };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

export function kernelHasKtls(): boolean {
  try {
    return readFileSync('/proc/sys/net/ipv4/tcp_available_ulp', 'utf8').split(/\s+/).includes('tls');
  } catch {
    return false;
  }
}

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (m) return m[1]!;
  } catch {
    /* not Linux */
  }
  return `${os.type()} ${os.release()}`;
}

/** First line of `<tool> <versionFlag>` (stdout or stderr), or undefined when the tool is missing. */
export function toolVersion(tool: string, args: string[] = ['--version']): string | undefined {
  const r = spawnSync(tool, args, { encoding: 'utf8', timeout: 5000 });
  if (r.error) return undefined;
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  return text.split('\n')[0]?.trim() || undefined;
}

export function machineInfo(tools: string[] = ['wrk', 'curl', 'openssl']): MachineInfo {
  const cpus = os.cpus();
  const versions: Record<string, string> = {};
  const args: Record<string, string[]> = { wrk: ['-v'], openssl: ['version'] };
  for (const t of tools) {
    const v = toolVersion(t, args[t] ?? ['--version']);
    if (v) versions[t] = v;
  }
  versions.node = process.version;
  return {
    cpuModel: cpus[0]?.model?.trim() || 'unknown',
    cores: cpus.length,
    memBytes: os.totalmem(),
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    os: osName(),
    ktlsUlp: kernelHasKtls(),
    tools: versions,
  };
}

export interface NginxInfo {
  path: string;
  /** full `nginx -V` output */
  V: string;
  version: string;
  /** "built with OpenSSL 3.5.7 9 Jun 2026" (+ "running with" when different) */
  openssl: string;
  /** major.minor.patch of the OpenSSL it was built with, e.g. "3.5.7" */
  opensslVersion?: string;
  configureArgs: string;
  /** best effort: which zlib the binary uses (zlib-ng linked in statically, or the shared libz) */
  zlib: string;
  /** jemalloc linked in (static symbols or shared library) */
  jemalloc: boolean;
}

export function nginxInfo(bin: string): NginxInfo {
  const r = spawnSync(bin, ['-V'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) throw r.error;
  const V = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  const v = parseNginxV(V);
  const tls = v.tls;
  const openssl = tls ? `${tls.builtText}${tls.runningText ? ` (running with ${tls.runningText})` : ''}` : 'unknown';
  const opensslVersion = tls?.library === 'OpenSSL' ? /^\d+\.\d+\.\d+/.exec(tls.built ?? '')?.[0] : undefined;
  return { path: bin, V, version: v.product ?? 'unknown', openssl, opensslVersion, configureArgs: v.configureLine, ...libs(bin) };
}

function libs(bin: string): { zlib: string; jemalloc: boolean } {
  let zlib = 'unknown';
  let jemalloc = false;
  const ldd = spawnSync('ldd', [bin], { encoding: 'utf8', timeout: 10_000 });
  const shared = ldd.error ? '' : (ldd.stdout ?? '');
  if (/libz\.so/.test(shared)) zlib = 'zlib (shared libz)';
  if (/libjemalloc/.test(shared)) jemalloc = true;
  try {
    // zlib-ng in compat mode reports its version as "1.3.1.zlib-ng"; jemalloc leaves its name in strings
    const bytes = readFileSync(bin);
    const m = /(\d+\.\d+\.\d+(?:\.\d+)?\.zlib-ng)/.exec(bytes.toString('latin1'));
    zlib = zlibVerdict(m?.[1], /libz\.so/.test(shared), zlib);
    if (bytes.includes('<jemalloc>')) jemalloc = true;
  } catch {
    /* unreadable binary: keep what ldd said */
  }
  return { zlib, jemalloc };
}

/**
 * Which zlib runs. The zlib-ng version string only proves zlib-ng's *header* was compiled in
 * (ZLIB_VERSION); when the binary also needs the shared libz, the linker took the system zlib
 * and zlib-ng's code is not in the binary at all.
 */
export function zlibVerdict(zlibNgString: string | undefined, sharedLibz: boolean, fallback = 'unknown'): string {
  if (zlibNgString && sharedLibz) return `zlib (shared libz; zlib-ng ${zlibNgString} headers compiled in, but its library not linked)`;
  if (zlibNgString) return `zlib-ng (${zlibNgString}, static)`;
  if (sharedLibz) return 'zlib (shared libz)';
  return fallback;
}

export { isExecutable } from '../which.ts';
