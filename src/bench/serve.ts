// bench serve: an nginx binary against another on loopback, each workload run for both binaries
// in the same run, interleaved (A B, B A, A B, ...) so machine load and drift hit both alike.
//   download   the kTLS article's experiment: a large file in the page cache, repeated HTTPS
//              downloads with curl, ministat statistics (N/min/max/median/avg/stddev)
//   gzip       on-the-fly gzip of a compressible file, responses per second (wrk, keep-alive)
//   handshake  full TLS handshakes per second (wrk, Connection: close, ECDSA P-256, no resumption)
//   small      small static responses per second (wrk, keep-alive)
// plus kTLS against userspace TLS (same binary), which needs a kernel with the tls ULP.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { ForgeError, UsageError } from '../errors.ts';
import { run } from '../exec.ts';
import { curl, wrk, writeWrkScript, type WrkRun } from './clients.ts';
import { warmPageCache, writeDocroot, type Docroot } from './content.ts';
import { isExecutable, kernelHasKtls, loadSample, machineInfo, nginxInfo, toolVersion, type LoadSample, type MachineInfo, type NginxInfo } from './machine.ts';
import { freePort, NginxServer, type ServerSpec } from './server.ts';
import { summarize } from './stats.ts';

export * from './workload.ts';
import { compare, type KtlsSection, type ServeSettings, type SideResult, type WorkloadResult } from './workload.ts';

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

/** Run `fnFor(side)` for both sides `rounds` times, alternating which goes first (ABBA...). */
export async function interleave<S extends string>(sides: S[], rounds: number, fn: (side: S, round: number) => Promise<void>): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    for (const s of order) await fn(s, r);
  }
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
    if (!brotli) say('candidate has no brotli module: no brotli workload');
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
    const tlsUrl = (side: string, p: string) => `https://127.0.0.1:${srv[side]!.spec.tlsPort}${p}`;
    const plainUrl = (side: string, p: string) => `http://127.0.0.1:${srv[side]!.spec.plainPort}${p}`;
    const checkAbort = () => {
      if (o.signal?.aborted) throw new ForgeError('benchmark interrupted', { exitCode: 130 });
    };

    const workloads: WorkloadResult[] = [];
    const newSides = () => Object.fromEntries(sides.map((s) => [s, { samples: [] as number[], runs: [] as WrkRun[], checks: {} as Record<string, string | number | boolean> }]));

    // ---- (a) the article's experiment: large HTTPS downloads with curl
    {
      const data = newSides();
      warmPageCache(doc.big.path);
      for (const side of sides) {
        const probe = path.join(scratch, `${side}.probe`);
        await curl({ url: tlsUrl(side, '/probe'), maxSeconds: 10, output: probe, tls13Ciphers: settings.tls13Cipher });
        data[side]!.checks.tls = readFileSync(probe, 'utf8').trim();
        // one unmeasured download each: warms nginx, curl and the page cache
        await curl({ url: tlsUrl(side, doc.big.url), maxSeconds: settings.downloadMaxSeconds, tls13Ciphers: settings.tls13Cipher });
      }
      let k = 0;
      await interleave(sides, settings.downloads, async (side) => {
        checkAbort();
        const r = await curl({ url: tlsUrl(side, doc.big.url), maxSeconds: settings.downloadMaxSeconds, tls13Ciphers: settings.tls13Cipher });
        if (r.bytes !== doc.big.bytes) throw new ForgeError(`${side}: downloaded ${r.bytes} bytes of ${doc.big.bytes}`);
        data[side]!.samples.push(r.bytesPerSec / MiB);
        say(`download ${++k}/${settings.downloads * sides.length} ${side}: ${(r.bytesPerSec / MiB).toFixed(1)} MiB/s`);
      });
      workloads.push(compare({
        id: 'download',
        title: `HTTPS download of a ${humanBytes(doc.big.bytes)} file in page cache`,
        unit: 'MiB/s',
        method: `curl -k --http1.1 --tls13-ciphers ${settings.tls13Cipher} -o /dev/null, %{speed_download}; ${settings.downloads} downloads per binary, interleaved, after one unmeasured download each`,
        baseline: infoB ? side(data.baseline!) : undefined,
        candidate: side(data.candidate!),
        notes: [],
      }));
      loads.push(loadSample());
    }

    // ---- (b) gzip on the fly: check the encoding and the decoded bytes first
    {
      const data = newSides();
      for (const side of sides) {
        const gz = path.join(scratch, `${side}.gz`);
        const r = await curl({ url: plainUrl(side, doc.text.url), maxSeconds: 30, headers: ['Accept-Encoding: gzip'], output: gz });
        if (!/^content-encoding:\s*gzip/im.test(r.headers)) throw new ForgeError(`${side}: ${doc.text.url} was not gzip-encoded:\n${r.headers}`);
        const plain = gunzipSync(readFileSync(gz));
        const sha = createHash('sha256').update(plain).digest('hex');
        if (sha !== doc.text.sha256) throw new ForgeError(`${side}: gzip response does not decode to the served file`);
        data[side]!.checks.compressedBytes = r.bytes;
        data[side]!.checks.compressionRatio = Math.round((doc.text.bytes / r.bytes) * 100) / 100;
      }
      await interleave(sides, settings.rounds, async (side, round) => {
        checkAbort();
        const w = await wrk({ url: plainUrl(side, doc.text.url), seconds: settings.wrkSeconds, threads: 1, connections: settings.conns.gzip, headers: ['Accept-Encoding: gzip'], script });
        data[side]!.runs.push(w);
        data[side]!.samples.push(w.rps);
        say(`gzip round ${round + 1}/${settings.rounds} ${side}: ${w.rps.toFixed(0)} req/s`);
      });
      const notes: string[] = [];
      if (infoB) {
        const a = data.candidate!.checks.compressedBytes as number;
        const b = data.baseline!.checks.compressedBytes as number;
        notes.push(`compressed size at level ${settings.gzipLevel}: candidate ${a} bytes, baseline ${b} bytes (${fmtSigned(((a - b) / b) * 100)}%); zlib forks trade ratio for speed`);
      }
      workloads.push(compare({
        id: 'gzip',
        title: `gzip (level ${settings.gzipLevel}) of a ${humanBytes(doc.text.bytes)} compressible file`,
        unit: 'req/s',
        method: `wrk -t1 -c${settings.conns.gzip} -d${settings.wrkSeconds}s -H 'Accept-Encoding: gzip', plain HTTP keep-alive; ${settings.rounds} runs per binary, interleaved`,
        baseline: infoB ? side(data.baseline!) : undefined,
        candidate: side(data.candidate!),
        notes,
      }));
      loads.push(loadSample());
    }

    // ---- (b2) brotli against gzip: the candidate binary, the same file, both on the fly
    if (brotli) {
      const enc = { baseline: { token: 'gzip', url: doc.text.url, decode: gunzipSync, level: settings.gzipLevel }, candidate: { token: 'br', url: doc.text.url.replace(/^\/gz\//, '/br/'), decode: brotliDecompressSync, level: settings.brotliLevel } } as const;
      const data = { baseline: { samples: [] as number[], runs: [] as WrkRun[], checks: {} as Record<string, string | number | boolean> }, candidate: { samples: [] as number[], runs: [] as WrkRun[], checks: {} as Record<string, string | number | boolean> } };
      for (const k of ['baseline', 'candidate'] as const) {
        const e = enc[k];
        const file = path.join(scratch, `enc.${e.token}`);
        const r = await curl({ url: plainUrl('candidate', e.url), maxSeconds: 30, headers: [`Accept-Encoding: ${e.token}`], output: file });
        if (!new RegExp(`^content-encoding:\\s*${e.token}\\b`, 'im').test(r.headers)) throw new ForgeError(`candidate: ${e.url} was not ${e.token}-encoded:\n${r.headers}`);
        const sha = createHash('sha256').update(e.decode(readFileSync(file))).digest('hex');
        if (sha !== doc.text.sha256) throw new ForgeError(`candidate: the ${e.token} response does not decode to the served file`);
        data[k].checks = { encoding: e.token, level: e.level, compressedBytes: r.bytes, compressionRatio: Math.round((doc.text.bytes / r.bytes) * 100) / 100 };
      }
      await interleave(['baseline', 'candidate'] as const, settings.rounds, async (k, round) => {
        checkAbort();
        const e = enc[k];
        const w = await wrk({ url: plainUrl('candidate', e.url), seconds: settings.wrkSeconds, threads: 1, connections: settings.conns.gzip, headers: [`Accept-Encoding: ${e.token}`], script });
        data[k].runs.push(w);
        data[k].samples.push(w.rps);
        say(`brotli/gzip round ${round + 1}/${settings.rounds} ${e.token}: ${w.rps.toFixed(0)} req/s`);
      });
      const br = data.candidate.checks.compressedBytes as number;
      const gz = data.baseline.checks.compressedBytes as number;
      workloads.push(compare({
        id: 'brotli',
        title: `brotli (level ${settings.brotliLevel}) against gzip (level ${settings.gzipLevel}) of the same ${humanBytes(doc.text.bytes)} compressible file, candidate binary`,
        unit: 'req/s',
        method: `wrk -t1 -c${settings.conns.gzip} -d${settings.wrkSeconds}s -H 'Accept-Encoding: br' on /br/ (brotli on) vs -H 'Accept-Encoding: gzip' on /gz/ (gzip on), plain HTTP keep-alive, the candidate binary; ${settings.rounds} runs each, interleaved; baseline = gzip`,
        baseline: side(data.baseline),
        candidate: side(data.candidate),
        notes: [`compressed size: brotli ${br} bytes (ratio ${data.candidate.checks.compressionRatio}), gzip ${gz} bytes (ratio ${data.baseline.checks.compressionRatio}): brotli ${fmtSigned(((br - gz) / gz) * 100)}%`],
      }));
      loads.push(loadSample());
    }

    // ---- (c) full TLS handshakes: a new connection per request, no session resumption
    {
      const data = newSides();
      for (const side of sides) {
        const probe = path.join(scratch, `${side}.hs.probe`);
        await curl({ url: tlsUrl(side, '/probe'), maxSeconds: 10, output: probe });
        data[side]!.checks.tls = readFileSync(probe, 'utf8').trim();
      }
      await interleave(sides, settings.rounds, async (side, round) => {
        checkAbort();
        const w = await wrk({ url: tlsUrl(side, doc.small.url), seconds: settings.wrkSeconds, threads: 1, connections: settings.conns.handshake, headers: ['Connection: close'], script });
        data[side]!.runs.push(w);
        data[side]!.samples.push(w.rps);
        say(`handshake round ${round + 1}/${settings.rounds} ${side}: ${w.rps.toFixed(0)}/s`);
      });
      workloads.push(compare({
        id: 'handshake',
        title: 'TLS handshakes (ECDSA P-256, no resumption)',
        unit: 'handshakes/s',
        method: `wrk -t1 -c${settings.conns.handshake} -d${settings.wrkSeconds}s -H 'Connection: close' on ${doc.small.url}; ssl_session_cache off, ssl_session_tickets off; ${settings.rounds} runs per binary, interleaved`,
        baseline: infoB ? side(data.baseline!) : undefined,
        candidate: side(data.candidate!),
        notes: [],
      }));
      loads.push(loadSample());
    }

    // ---- (d) small static files, keep-alive
    {
      const data = newSides();
      await interleave(sides, settings.rounds, async (side, round) => {
        checkAbort();
        const w = await wrk({ url: plainUrl(side, doc.small.url), seconds: settings.wrkSeconds, threads: 1, connections: settings.conns.small, script });
        data[side]!.runs.push(w);
        data[side]!.samples.push(w.rps);
        say(`small round ${round + 1}/${settings.rounds} ${side}: ${w.rps.toFixed(0)} req/s`);
      });
      workloads.push(compare({
        id: 'small',
        title: `small static file (${doc.small.bytes} bytes), keep-alive`,
        unit: 'req/s',
        method: `wrk -t1 -c${settings.conns.small} -d${settings.wrkSeconds}s, plain HTTP keep-alive; ${settings.rounds} runs per binary, interleaved`,
        baseline: infoB ? side(data.baseline!) : undefined,
        candidate: side(data.candidate!),
        notes: [],
      }));
      loads.push(loadSample());
    }

    for (const w of workloads) {
      for (const s of sides) {
        const sr = s === 'candidate' ? w.candidate : w.baseline;
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

function side(d: { samples: number[]; runs: WrkRun[]; checks: Record<string, string | number | boolean> }): SideResult {
  return {
    samples: d.samples,
    summary: summarize(d.samples),
    runs: d.runs.length ? d.runs : undefined,
    checks: Object.keys(d.checks).length ? d.checks : undefined,
  };
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

export function humanBytes(n: number): string {
  if (n >= 1 << 30 && n % (1 << 30) === 0) return `${n / (1 << 30)} GiB`;
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1 << 10 && n % (1 << 10) === 0) return `${n / (1 << 10)} KiB`;
  return `${n} bytes`;
}

function fmtSigned(p: number): string {
  const r = Math.round(p * 10) / 10;
  return `${r > 0 ? '+' : ''}${r.toFixed(1)}`;
}
