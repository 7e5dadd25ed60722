// bench serve: an nginx binary against another on loopback, each workload run for both binaries
// in the same run, interleaved (A B, B A, A B, ...) so machine load and drift hit both alike.
// The workloads are rows of one table (WORKLOADS: what each checks, the client invocation, what
// is measured), run by one loop (runWorkloads); plus kTLS against userspace TLS (same binary),
// which needs a kernel with the tls ULP (or a QEMU guest).
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ForgeError, UsageError } from '../errors.ts';
import { run } from '../exec.ts';
import { curl, wrk, writeWrkScript } from './clients.ts';
import { writeDocroot, type Docroot } from './content.ts';
import { isExecutable, kernelHasKtls, loadSample, machineInfo, nginxInfo, toolVersion, type LoadSample, type MachineInfo, type NginxInfo } from './machine.ts';
import { freePort, NginxServer, type ServerSpec } from './server.ts';
import { summarize } from './stats.ts';

export * from './workload.ts';
export { cpuDelta, humanBytes, interleave, runWorkload, runWorkloads, WORKLOADS, type Invocation, type ServeClients, type Side, type WorkloadRow, type WorkloadRun } from './serve-table.ts';
import { humanBytes, interleave, runWorkloads, WORKLOADS, type Side, type WorkloadRun } from './serve-table.ts';
import { compare, type KtlsSection, type ServeSettings, type WorkloadResult } from './workload.ts';

export const SERVE_SCHEMA = 'nginx-forge/bench-serve@1';

export const FULL: ServeSettings = {
  bigBytes: 1 << 30,
  downloads: 10,
  downloadMaxSeconds: 120,
  textBytes: 1 << 20,
  gzipLevel: 6,
  brotliLevel: 6,
  rounds: 5,
  wrkSeconds: 5,
  workers: 1,
  tls13Cipher: 'TLS_AES_256_GCM_SHA384',
  conns: { gzip: 4, handshake: 16, small: 32 },
};

export const QUICK: ServeSettings = {
  ...FULL,
  bigBytes: 1 << 20,
  downloads: 3,
  downloadMaxSeconds: 20,
  textBytes: 64 << 10,
  rounds: 2,
  wrkSeconds: 1,
};

export interface ServeResult {
  schema: typeof SERVE_SCHEMA;
  startedAt: string;
  finishedAt: string;
  seconds: number;
  quick: boolean;
  /** how to reproduce */
  command: string;
  machine: MachineInfo;
  load: { before: LoadSample; after: LoadSample; samples: LoadSample[] };
  settings: ServeSettings;
  binaries: { candidate: NginxInfo & { label: string }; baseline?: NginxInfo & { label: string } };
  workloads: WorkloadResult[];
  ktls: KtlsSection;
  warnings: string[];
}

export interface ServeOptions {
  nginx: string;
  vs?: string;
  quick?: boolean;
  settings?: Partial<ServeSettings>;
  /** scratch parent (default: os.tmpdir()); everything under it is removed at the end */
  scratchRoot?: string;
  /** progress lines (default: none) */
  progress?: (line: string) => void;
  command?: string;
  signal?: AbortSignal;
}

const MiB = 1024 * 1024;

function label(info: NginxInfo): string {
  const ssl = info.opensslVersion ? `OpenSSL ${info.opensslVersion}` : info.openssl.split(' (')[0];
  return `${info.version}, ${ssl}, ${info.zlib.split(' (')[0]}${info.jemalloc ? ', jemalloc' : ''}`;
}

function ktlsDirective(info: NginxInfo, want: 'on' | 'off'): ServerSpec['ktls'] {
  const major = Number(info.opensslVersion?.split('.')[0] ?? 0);
  return major >= 3 ? want : 'unset';
}

function versionAtLeast(nginxVersion: string, want: [number, number, number]): boolean {
  const m = /(\d+)\.(\d+)\.(\d+)/.exec(nginxVersion);
  if (!m) return false;
  const v = [Number(m[1]), Number(m[2]), Number(m[3])];
  for (let i = 0; i < 3; i++) if (v[i] !== want[i]) return v[i]! > want[i]!;
  return true;
}

/**
 * Brotli in a binary: compiled in (--add-module=…brotli…), or dynamic (--add-dynamic-module=…brotli…)
 * with its .so files under the modules path of the root the binary sits in (an install tree, a
 * tarball's modules/ beside sbin/, or the system). undefined: the binary has no brotli.
 */
export function brotliSupport(info: NginxInfo): { load: string[] } | undefined {
  const args = info.configureArgs.split(/\s+/);
  if (args.some((a) => /^--add-module=.*brotli/.test(a))) return { load: [] };
  if (!args.some((a) => /^--add-dynamic-module=.*brotli/.test(a))) return undefined;
  const arg = (k: string) => args.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
  const mp = arg('modules-path') ?? `${arg('prefix') ?? '/usr/local/nginx'}/modules`;
  const sbin = arg('sbin-path');
  const abs = path.resolve(info.path);
  const dirs = [...(sbin && abs.endsWith(sbin) ? [path.join(abs.slice(0, abs.length - sbin.length), mp)] : []), path.join(path.dirname(path.dirname(abs)), 'modules'), mp];
  const names = ['ngx_http_brotli_filter_module.so', 'ngx_http_brotli_static_module.so'];
  const dir = dirs.find((d) => names.every((n) => existsSync(path.join(d, n))));
  return dir ? { load: names.map((n) => path.join(dir, n)) } : undefined;
}

function tlsStat(): Record<string, number> {
  try {
    const out: Record<string, number> = {};
    for (const line of readFileSync('/proc/net/tls_stat', 'utf8').split('\n')) {
      const m = /^(\w+)\s+(\d+)/.exec(line);
      if (m) out[m[1]!] = Number(m[2]);
    }
    return out;
  } catch {
    return {};
  }
}

export async function benchServe(o: ServeOptions): Promise<ServeResult> {
  const quick = Boolean(o.quick);
  const settings: ServeSettings = { ...(quick ? QUICK : FULL), ...o.settings };
  const say = o.progress ?? (() => {});
  const warnings: string[] = [];
  for (const [flag, bin] of [['<nginx>', o.nginx], ['--vs', o.vs]] as const) {
    if (bin !== undefined && !isExecutable(bin)) throw new UsageError(`${flag} ${bin}: not an executable file`);
  }
  const t0 = Date.now();
  const startedAt = new Date().toISOString();
  const before = loadSample();
  const machine = machineInfo();
  const infoA = nginxInfo(o.nginx);
  const infoB = o.vs ? nginxInfo(o.vs) : undefined;
  const sides: ('candidate' | 'baseline')[] = infoB ? ['candidate', 'baseline'] : ['candidate'];
  const info = { candidate: infoA, baseline: infoB };
  const loads: LoadSample[] = [before];
  if (before.loadavg[0] > machine.cores * 0.5) {
    warnings.push(`machine busy at start: load average ${before.loadavg.join(', ')} on ${machine.cores} cores; ratios are measured interleaved, absolute numbers are low`);
  }

  const scratch = mkdtempSync(path.join(o.scratchRoot ?? os.tmpdir(), 'nginx-forge-bench-'));
  // nginx workers run as an unprivileged user when started as root: the tree must be readable
  chmodSync(scratch, 0o755);
  const servers: NginxServer[] = [];
  const log = path.join(scratch, 'bench.log');
  try {
    // ---- fixtures: ECDSA P-256 certificate, docroot, wrk hook
    say(`scratch ${scratch}`);
    const cert = path.join(scratch, 'cert.pem');
    const key = path.join(scratch, 'key.pem');
    await run({ component: 'bench', stage: 'certificate', log }, 'openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ]);
    say(`writing ${(settings.bigBytes / MiB).toFixed(0)} MiB download file and ${(settings.textBytes / 1024).toFixed(0)} KiB text`);
    const doc: Docroot = writeDocroot(path.join(scratch, 'www'), settings.bigBytes, settings.textBytes);
    const script = writeWrkScript(path.join(scratch, 'report.lua'));

    const brotli = brotliSupport(infoA);
    // ---- servers: both binaries run side by side (an idle nginx costs nothing)
    const srv: Record<string, NginxServer> = {};
    for (const side of sides) {
      const i = info[side]!;
      const dir = path.join(scratch, side);
      mkdirSync(dir, { recursive: true });
      const s = new NginxServer({
        bin: i.path, dir, docroot: doc.dir, cert, key,
        tlsPort: await freePort(), plainPort: await freePort(),
        ktls: ktlsDirective(i, 'on'), gzipLevel: settings.gzipLevel, workers: settings.workers,
        earlyErrorLog: versionAtLeast(i.version, [1, 19, 5]),
        ...(side === 'candidate' && brotli ? { loadModules: brotli.load, brotliLevel: settings.brotliLevel } : {}),
      });
      await s.start();
      servers.push(s);
      srv[side] = s;
      say(`${side}: ${i.path} listening on 127.0.0.1:${s.spec.tlsPort} (TLS) and :${s.spec.plainPort}`);
    }
    const tlsUrl = (side: Side, p: string) => `https://127.0.0.1:${srv[side]!.spec.tlsPort}${p}`;
    const plainUrl = (side: Side, p: string) => `http://127.0.0.1:${srv[side]!.spec.plainPort}${p}`;
    const checkAbort = () => {
      if (o.signal?.aborted) throw new ForgeError('benchmark interrupted', { exitCode: 130 });
    };

    const ctx: WorkloadRun = { settings, sides, doc, scratch, script, brotli: Boolean(brotli), tlsUrl, plainUrl, clients: { curl, wrk }, say, checkAbort, serverCpu: (side) => srv[side]!.workerCpu() };
    const workloads = await runWorkloads(ctx, WORKLOADS, () => loads.push(loadSample()));

    for (const w of workloads) {
      for (const s of ['candidate', 'baseline'] as const) {
        const sr = w[s];
        const errs = (sr?.runs ?? []).reduce((n, r) => n + r.errors.connect + r.errors.read + r.errors.write + r.errors.status + r.errors.timeout, 0);
        if (errs > 0) warnings.push(`${w.id}: ${s} had ${errs} wrk socket/status errors`);
      }
    }

    // ---- kTLS vs userspace TLS, same binary
    const ktls = await ktlsSection({ settings, infoA, doc, scratch, cert, key, servers, say, tlsUrl: (p, port) => `https://127.0.0.1:${port}${p}`, mainKtlsServer: srv.candidate!, quick, signal: o.signal });

    for (const s of servers) {
      const alerts = s.alerts();
      if (alerts.length) warnings.push(`${s.spec.bin}: ${alerts.length} alert/crit lines in its error log, e.g. ${alerts[0]}`);
    }

    const after = loadSample();
    loads.push(after);
    return {
      schema: SERVE_SCHEMA,
      startedAt,
      finishedAt: new Date().toISOString(),
      seconds: Math.round((Date.now() - t0) / 100) / 10,
      quick,
      command: o.command ?? `nginx-forge bench serve ${o.nginx}${o.vs ? ` --vs ${o.vs}` : ''}${quick ? ' --quick' : ''}`,
      machine,
      load: { before, after, samples: loads },
      settings,
      binaries: {
        candidate: { ...infoA, label: label(infoA) },
        baseline: infoB ? { ...infoB, label: label(infoB) } : undefined,
      },
      workloads,
      ktls,
      warnings,
    };
  } finally {
    for (const s of servers) await s.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function ktlsSection(c: {
  settings: ServeSettings;
  infoA: NginxInfo;
  doc: Docroot;
  scratch: string;
  cert: string;
  key: string;
  servers: NginxServer[];
  say: (l: string) => void;
  tlsUrl: (p: string, port: number) => string;
  mainKtlsServer: NginxServer;
  quick: boolean;
  signal?: AbortSignal;
}): Promise<KtlsSection> {
  if (ktlsDirective(c.infoA, 'on') === 'unset') {
    return { measured: false, reason: `${c.infoA.path} is built with ${c.infoA.openssl}; kTLS needs OpenSSL 3.0 or later` };
  }
  if (!kernelHasKtls()) {
    const why =
      'not measurable on this host: kernel lacks tls ULP (no "tls" in /proc/sys/net/ipv4/tcp_available_ulp), ' +
      'so OpenSSL falls back to userspace TLS with or without "ssl_conf_command Options KTLS" and on vs off would measure the same code path';
    const vmMode = process.env.NGINX_FORGE_BENCH_VM ?? 'auto';
    if (c.quick) return { measured: false, reason: `${why}; the QEMU guest run is skipped with --quick` };
    if (vmMode === 'never') return { measured: false, reason: `${why}; the QEMU guest run is off (NGINX_FORGE_BENCH_VM=never)` };
    if (!toolVersion('qemu-system-x86_64', ['--version'])) return { measured: false, reason: `${why}; qemu-system-x86_64 is not installed for the guest run` };
    try {
      const { ktlsInVm } = await import('./ktls-vm.ts');
      const r = await ktlsInVm({ info: c.infoA, settings: c.settings, hostDir: c.scratch, say: c.say, signal: c.signal });
      return r.measured
        ? { ...r, reason: `${why}; measured in the QEMU guest instead: emulated (QEMU TCG), not comparable to native${r.reason ? `; ${r.reason}` : ''}` }
        : { ...r, reason: `${why}; in the QEMU guest: ${r.reason}` };
    } catch (e) {
      if (c.signal?.aborted) throw e;
      const msg = ((e as Error).message ?? String(e)).split('\n').slice(0, 3).join(' / ');
      return { measured: false, reason: `${why}; the QEMU guest run failed: ${msg}` };
    }
  }
  // same binary twice: Options KTLS (already running as the candidate) and Options -KTLS
  const dir = path.join(c.scratch, 'userspace');
  mkdirSync(dir, { recursive: true });
  const off = new NginxServer({ ...c.mainKtlsServer.spec, dir, ktls: 'off', tlsPort: await freePort(), plainPort: await freePort() });
  await off.start();
  c.servers.push(off);
  const ports = { ktls: c.mainKtlsServer.spec.tlsPort, userspace: off.spec.tlsPort };
  const samples: Record<'ktls' | 'userspace', number[]> = { ktls: [], userspace: [] };
  const stat0 = tlsStat();
  await interleave(['ktls', 'userspace'] as const, c.settings.downloads, async (s) => {
    const r = await curl({ url: c.tlsUrl(c.doc.big.url, ports[s]), maxSeconds: c.settings.downloadMaxSeconds, tls13Ciphers: c.settings.tls13Cipher });
    samples[s].push(r.bytesPerSec / MiB);
    c.say(`ktls download ${s}: ${(r.bytesPerSec / MiB).toFixed(1)} MiB/s`);
  });
  const stat1 = tlsStat();
  const evidence: Record<string, number> = {};
  for (const k of ['TlsTxSw', 'TlsTxDevice', 'TlsRxSw', 'TlsRxDevice']) evidence[`${k}Delta`] = (stat1[k] ?? 0) - (stat0[k] ?? 0);
  const used = (evidence.TlsTxSwDelta ?? 0) + (evidence.TlsTxDeviceDelta ?? 0) > 0;
  const w = compare({
    id: 'ktls-download',
    title: `kTLS vs userspace TLS, same binary, ${humanBytes(c.doc.big.bytes)} HTTPS download`,
    unit: 'MiB/s',
    method: 'the article\'s experiment: baseline ssl_conf_command Options -KTLS, candidate Options KTLS; interleaved',
    baseline: { samples: samples.userspace, summary: summarize(samples.userspace) },
    candidate: { samples: samples.ktls, summary: summarize(samples.ktls) },
    notes: [used ? 'kernel TLS was used: /proc/net/tls_stat TX counters grew during the kTLS downloads' : 'WARNING: /proc/net/tls_stat did not move: OpenSSL fell back to userspace TLS (missing crypto modules?)'],
  });
  return { measured: used, mode: 'native', workload: w, evidence, reason: used ? undefined : 'kTLS was not engaged (tls_stat unchanged)' };
}
