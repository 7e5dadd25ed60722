// kTLS smoke test: serve a file of random bytes over TLS from the given nginx, download it once per
// cipher suite, and prove the kernel encrypted it (nginx's debug log + /proc/net/tls_stat), natively
// when the host kernel has the `tls` ULP, in a QEMU guest otherwise. The same run proves PCRE2
// JIT, zlib-ng gzip and each component's own proof from its recipe (jemalloc). Stages call runSmoke(); the CLI is commands/smoke.ts.
//
// Flow: inspect binary (not nginx: NOT_NGINX, nothing is run) → certificate + nginx.conf + probe
// script into <logDir>/io → run the probe (sh natively, or the VM's chroot) → read observations
// (what listened on the test ports, with the libssl it mapped) → judge (verdict.ts, pure).
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { brotliCompressSync, constants as zlibConstants, deflateSync, gzipSync } from 'node:zlib';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { tempDir } from '../tmpdirs.ts';
import { ExitCode, ForgeError, MissingToolError, UsageError } from '../errors.ts';
import { run, type RunContext } from '../exec.ts';
import { distfilesDir, logsDir } from '../paths.ts';
import { inspectBinary, withMappedLibssl, type BinaryInfo } from './binary.ts';
import { makeCertificate } from './certs.ts';
import { renderConfig, tlsServerKind, workPaths } from './config.ts';
import { readObservations, runsBinary, type ModuleExpectation, type Observations } from './observations.ts';
import { moduleIo, PROBE_FILES, renderProbe } from './probe.ts';
import { parseSuites } from './suites.ts';
import { catalogComponentProofs, settleRequired } from './components.ts';
import type { ComponentProof, SmokeModule, SmokeOptions, SmokeResult } from './types.ts';
import { judge, notNginxJudgement } from './verdict.ts';
import { prepareHttp3, type Http3Plan } from './http3.ts';
import { GUEST_FILES } from './vm/guest.ts';
import { DEFAULT_VM_TIMEOUT_SEC, runInVm } from './vm/index.ts';
import { which } from '../which.ts';
import { hostTriple, isCross, targetOf } from '../target.ts';

export type { SmokeOptions, SmokeResult, Verdict, CipherResult, Proof, VmMode, SmokeModule, ComponentProof } from './types.ts';
export { MATRIX, DEFAULT_SUITE, parseSuites } from './suites.ts';
export { judge } from './verdict.ts';

export const DEFAULT_SIZE = 4 * 1024 * 1024;
const MIN_SIZE = 1024;
const MAX_SIZE = 1024 * 1024 * 1024;
/** The guest's scratch tmpfs (75% of 2 GiB) holds the file and one downloaded copy. */
const MAX_VM_SIZE = 512 * 1024 * 1024;
/** Bytes per second a TCG guest moves through TLS, conservatively (measured ~7 MB/s unloaded). */
const VM_BYTES_PER_SEC = 2_000_000;
const NATIVE_TIMEOUT_MS = 10 * 60 * 1000;
/** Added to the default VM time limit for each run that makes the HTTP/3 request (the probe gives the client 120 s; measured 67 s under TCG at load 25). */
const VM_HTTP3_SEC = 120;

/** The host kernel's kTLS readiness: the tls ULP is registered (module loaded or built in). */
export function hostKernel(): { release: string; ulp: string[]; tlsReady: boolean; tlsModule: boolean; modulesDir: string } {
  const release = os.release();
  let ulp: string[] = [];
  try {
    ulp = readFileSync('/proc/sys/net/ipv4/tcp_available_ulp', 'utf8').split(/\s+/).filter(Boolean);
  } catch {
    // not Linux, or no /proc
  }
  const modulesDir = path.join('/lib/modules', release);
  let tlsModule = existsSync('/sys/module/tls');
  if (!tlsModule) {
    const dir = path.join(modulesDir, 'kernel/net/tls');
    try {
      tlsModule = readdirSync(dir).some((f) => /^tls\.ko/.test(f));
    } catch {
      tlsModule = false;
    }
  }
  return { release, ulp, tlsReady: ulp.includes('tls'), tlsModule, modulesDir };
}

/**
 * Workers must not run as root (root would also autoload tls.ko itself): nobody's user and group,
 * when the master runs as root — always in the VM (the guest runs the probe as root), natively
 * only when we are root.
 */
export function workerUser(asRoot: boolean, etc = '/etc'): { name: string; group: string } | undefined {
  if (!asRoot) return undefined;
  try {
    const pw = readFileSync(path.join(etc, 'passwd'), 'utf8').split('\n').find((l) => l.startsWith('nobody:'));
    const gid = pw?.split(':')[3];
    const gr = readFileSync(path.join(etc, 'group'), 'utf8')
      .split('\n')
      .find((l) => l.split(':')[2] === gid);
    return { name: 'nobody', group: gr?.split(':')[0] ?? 'nogroup' };
  } catch {
    return { name: 'nobody', group: 'nogroup' };
  }
}

async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      servers.push(s);
      await new Promise<void>((res, rej) => s.once('error', rej).listen(0, '127.0.0.1', () => res()));
      ports.push((s.address() as net.AddressInfo).port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((res) => s.close(() => res()))));
  }
}

/** A guest directory to mount the scratch tmpfs on: exists in the guest's root (the host's), and hides nothing the run needs. */
export function guestScratch(nginx: string[], root = '/'): string {
  const real = nginx.map((n) => path.resolve(n));
  for (const d of ['/run', '/mnt', '/srv', '/media', '/opt', '/var/tmp', '/tmp']) {
    if (existsSync(path.join(root, d)) && !real.some((r) => r.startsWith(`${d}/`))) return d;
  }
  throw new ForgeError(`no directory on the host root can hold the VM's scratch tmpfs without hiding ${nginx.join(', ')}`, { exitCode: ExitCode.smoke });
}

function onPath(tool: string): boolean {
  return which(tool, { PATH: [process.env.PATH ?? '', '/usr/bin', '/bin', '/usr/sbin', '/sbin'].join(':') }) !== undefined;
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
}

function tailLines(t: string, n = 8): string {
  return t.split('\n').map((l) => l.trimEnd()).filter(Boolean).slice(-n).map((l) => `    ${l}`).join('\n');
}

/** One nginx run inside a batch: per-run settings; VM/kernel/log settings come from the batch. */
export type SmokeRun = { nginx: string } & Pick<SmokeOptions, 'ciphers' | 'size' | 'extras' | 'testHooks' | 'nginxModules' | 'componentProofs'>;

export async function runSmoke(nginx: string, opts: SmokeOptions = {}): Promise<SmokeResult> {
  const [r] = await runSmokeBatch(
    [{ nginx, ciphers: opts.ciphers, size: opts.size, extras: opts.extras, testHooks: opts.testHooks, nginxModules: opts.nginxModules, componentProofs: opts.componentProofs }],
    opts,
  );
  return r!;
}

interface Prepared {
  /** index in the batch */
  index: number;
  run: SmokeRun;
  dir: string;
  io: string;
  /** io as the probe sees it (a guest path in the VM) */
  ioSeen: string;
  /** io relative to the VM share */
  rel: string;
  work: string;
  nativeWork?: string;
  binary: Awaited<ReturnType<typeof inspectBinary>>;
  suites: ReturnType<typeof parseSuites>;
  ktlsOption: boolean;
  debugLog: boolean;
  components: (ComponentProof & { required: boolean })[];
  http3: Http3Plan;
}

/**
 * Several smoke runs with one decision on native/VM and, in the VM, ONE boot for all of them
 * (the guest runs the probes one after another). runSmoke() is a batch of one.
 */
export async function runSmokeBatch(runs: SmokeRun[], opts: SmokeOptions = {}): Promise<SmokeResult[]> {
  const t0 = Date.now();
  const log = opts.onLog ?? (() => {});
  if (runs.length === 0) return [];
  const vmMode = opts.vm ?? 'auto';
  if (vmMode === 'never' && (opts.kernel || opts.modules)) throw new UsageError('--kernel/--modules need a VM; they cannot be combined with --vm never');
  if (opts.modules && !opts.kernel) throw new UsageError('--modules needs --kernel');
  for (const r of runs) {
    const size = r.size ?? DEFAULT_SIZE;
    if (!Number.isInteger(size) || size < MIN_SIZE || size > MAX_SIZE) {
      throw new UsageError(`--size ${r.size}: must be a whole number of bytes from ${MIN_SIZE} to ${MAX_SIZE}`);
    }
  }

  const target = opts.target ?? targetOf(undefined);
  const foreign = isCross(target);
  if (foreign && vmMode === 'never') throw new UsageError(`--vm never: a binary for ${target.triple} cannot be tested on this ${hostTriple() ?? process.arch} host's kernel`, `it is tested in a ${target.cpu} VM: drop --vm never`);
  if (foreign && opts.kernel) throw new UsageError(`--kernel: the smoke test of a ${target.triple} binary boots the pinned ${target.cpu} kernel`, 'drop --kernel/--modules');
  if (foreign && !opts.guestRoot) throw new ForgeError(`the smoke test of a ${target.triple} binary needs a guest root of that architecture`, { exitCode: ExitCode.smoke });
  // the probe's tools (natively and, through the shared host root, in the VM)
  for (const [tool, why] of [
    ['curl', 'the smoke test client'],
    ['openssl', 'the smoke test certificate'],
    ['sha256sum', 'hashing the served and downloaded bytes'],
    ['base64', 'the gzip test file'],
    ['readelf', 'reading the binary: is it nginx (binutils)'],
    ['nm', 'reading the binary: kTLS code in its TLS library (binutils)'],
  ] as const) {
    if (!onPath(tool)) throw new MissingToolError(tool, why);
  }

  const root = path.resolve(opts.logDir ?? path.join(logsDir(), `smoke-${stamp()}-${process.pid}`));
  mkdirSync(root, { recursive: true });
  const ctx: RunContext = { component: 'smoke', stage: 'smoke', log: path.join(root, 'smoke.log'), signal: opts.signal };
  const host = hostKernel();
  const mode: 'native' | 'vm' = foreign || vmMode === 'always' || opts.kernel ? 'vm' : vmMode === 'never' ? 'native' : host.tlsReady ? 'native' : 'vm';
  if (mode === 'native' && runs.some((r) => r.testHooks?.blockCrypto)) throw new UsageError('testHooks.blockCrypto works only in the VM');
  // a VM of another machine chroots into a root of its own architecture; the binaries go into the share
  const guestRoot = foreign ? await opts.guestRoot!() : undefined;
  if (guestRoot) {
    for (const [tool, why] of [['curl', 'the smoke test client'], ['sha256sum', 'hashing the served and downloaded bytes'], ['base64', 'the gzip test file']] as const) {
      if (!['usr/bin', 'bin'].some((d) => existsSync(path.join(guestRoot, d, tool)))) throw new MissingToolError(`${tool} in the ${target.debArch} guest root ${guestRoot}`, why, 'the guest root is made with debootstrap --include=curl,busybox-static: remove its cache entry to make it again');
    }
  }
  const scratch = mode === 'vm' ? guestScratch(guestRoot ? [] : runs.flatMap((r) => [r.nginx, ...(r.nginxModules ?? []).flatMap((m) => m.load)]), guestRoot) : '';
  if (mode === 'vm') {
    const big = runs.find((r) => (r.size ?? DEFAULT_SIZE) > MAX_VM_SIZE);
    if (big) throw new UsageError(`--size ${big.size}: at most ${MAX_VM_SIZE} bytes in the VM (its scratch is a tmpfs in 2 GiB of guest RAM)`);
  }
  // default VM time limit: a fixed part for boot and setup, plus the downloads at TCG speed
  const vmBytes = runs.reduce((n, r) => n + (r.size ?? DEFAULT_SIZE) * parseSuites(r.ciphers).length, 0);
  const vmTimeoutSec = opts.vmTimeoutSec ?? DEFAULT_VM_TIMEOUT_SEC + 60 * (runs.length - 1) + Math.ceil(vmBytes / VM_BYTES_PER_SEC);

  const prepared: Prepared[] = [];
  /** the built-in recipes' component proofs, for runs that name none */
  let catalog: ComponentProof[] | undefined;
  /** runs of a binary that is not nginx: judged before anything is started */
  const early = new Map<number, SmokeResult>();
  try {
    for (const [i, run] of runs.entries()) {
      const dir = runs.length === 1 ? root : path.join(root, `run-${i}`);
      const io = path.join(dir, 'io');
      rmSync(io, { recursive: true, force: true });
      mkdirSync(io, { recursive: true });
      const rel = path.relative(root, io);
      const binary = await inspectBinary(path.resolve(run.nginx), ctx, target);
      const suites = parseSuites(run.ciphers);
      if (binary.notNginx.length) {
        const result = notNginxResult(binary, mode, dir, t0);
        log(`${runs.length > 1 ? `run ${i}: ` : ''}verdict NOT_NGINX: ${binary.notNginx.join('; ')}`);
        early.set(i, result);
        continue;
      }
      const hooks = run.testHooks ?? {};
      log(
        `${runs.length > 1 ? `run ${i}: ` : ''}nginx ${binary.version ?? '?'} (OpenSSL ${binary.opensslBuilt ?? '?'}, kTLS in OpenSSL: ${binary.opensslKtls}, debug: ${binary.debug ? 'yes' : 'no'})` +
          (i === 0 ? `; host kernel ${host.release} ${host.tlsReady ? 'has' : 'lacks'} the tls ULP → ${mode}` : ''),
      );
      await makeCertificate(io, ctx);
      let work: string;
      let ports: number[];
      let nativeWork: string | undefined;
      if (mode === 'vm') {
        work = `${scratch}/nginx-forge/work/${i}`;
        ports = [8443, 8080, 8081];
      } else {
        // not under the log dir: workers (nobody) must traverse it; the probe makes it 0755
        nativeWork = tempDir('smoke');
        work = nativeWork;
        ports = await freePorts(3);
      }
      const ioSeen = mode === 'vm' ? `${scratch}/nginx-forge/share/${rel}` : io;
      const [tlsPort, httpPort, upstreamPort] = ports as [number, number, number];
      const components = (run.componentProofs ?? opts.componentProofs ?? (catalog ??= catalogComponentProofs())).map((c) => settleRequired(c, binary.configureArgs));
      // the QUIC client is Perl with CryptX: the host's, which a guest root of another architecture has not
      const http3: Http3Plan = guestRoot
        ? { tried: false, why: `no client: the ${target.debArch} guest root has no Perl with CryptX (nginx-tests' QUIC client)` }
        : await prepareHttp3(io, { configureArgs: binary.configureArgs, distdir: distfilesDir(opts.distdir), fetch: opts.http3Fetch, signal: opts.signal });
      log(`${runs.length > 1 ? `run ${i}: ` : ''}HTTP/3 request: ${http3.tried ? `yes, with ${http3.suite}'s QUIC client` : `not tried: ${http3.why}`}`);
      const p: Prepared = { index: i, run, dir, io, ioSeen, rel, work, nativeWork, binary, suites, ktlsOption: !hooks.noKtlsOption, debugLog: !hooks.noDebugLog, components, http3 };
      prepared.push(p);
      // in a foreign guest root the binaries are copies in the share (byte-identical: the identity proof holds)
      const seen = guestRoot ? intoShare(io, ioSeen) : (f: string) => path.resolve(f);
      const nginxSeen = seen(run.nginx);
      const mods = (run.nginxModules ?? []).map((m) => (guestRoot ? { ...m, load: m.load.map(seen) } : m));
      for (const m of mods) prepareModule(io, m);
      writeFileSync(
        path.join(io, 'nginx.conf'),
        renderConfig({ work, io: ioSeen, tlsPort, httpPort, upstreamPort, suites, user: workerUser(mode === 'vm' || process.getuid?.() === 0, path.join(guestRoot ?? '/', 'etc')), ktlsOption: p.ktlsOption, logLevel: p.debugLog ? 'debug' : 'info', modules: mods, quic: http3.tried }),
      );
      writeFileSync(
        path.join(io, 'probe.sh'),
        renderProbe({
          nginx: nginxSeen,
          work,
          io: ioSeen,
          size: run.size ?? DEFAULT_SIZE,
          tlsPort,
          httpPort,
          upstreamPort,
          suites,
          extras: run.extras !== false,
          tamperBody: hooks.tamperBody,
          modules: mods,
          components,
          http3: http3.tried,
          uaToken: randomBytes(8).toString('hex'),
        }),
        { mode: 0o755 },
      );
      if (hooks.blockCrypto) writeFileSync(path.join(io, GUEST_FILES.blockModprobe), 'test hook: no module loading during this run\n');
    }

    let vm: Awaited<ReturnType<typeof runInVm>> | undefined;
    if (mode === 'vm' && prepared.length) {
      // runs that keep the kernel from loading crypto modules go first, before anything loads them
      const order = [...prepared].sort((a, b) => Number(Boolean(b.run.testHooks?.blockCrypto)) - Number(Boolean(a.run.testHooks?.blockCrypto)));
      vm = await runInVm({
        share: root,
        runs: order.map((p) => p.rel),
        scratch,
        kernel: opts.kernel,
        modules: opts.modules,
        target,
        root: guestRoot,
        distdir: opts.distdir,
        // the HTTP/3 request's Perl client (QUIC crypto in Perl) is slow under TCG: its own time
        timeoutSec: vmTimeoutSec + (opts.vmTimeoutSec === undefined ? VM_HTTP3_SEC * prepared.filter((p) => p.http3.tried).length : 0),
        signal: opts.signal,
        onLog: log,
        ctx,
      });
      vm.modulesLoaded = prepared.map((p) => vm!.modulesLoaded[order.indexOf(p)] ?? []);
    } else {
      for (const p of prepared) {
        log(`running the probe natively (work dir ${p.work})`);
        try {
          await run({ ...ctx, stage: 'probe', timeoutMs: NATIVE_TIMEOUT_MS }, '/bin/sh', [path.join(p.io, 'probe.sh')]);
        } finally {
          stopLeftoverNginx(workPaths(p.work).pid);
        }
      }
    }

    const judged: SmokeResult[] = [];
    for (const p of prepared) {
      const obs = readObservations(p.io, p.components.map((c) => c.name));
      rmSync(path.join(p.io, PROBE_FILES.gzipDir), { recursive: true, force: true });
      if (!obs.nginxUp) {
        const named = modulesNamedIn(`${obs.nginxTOutput}\n${obs.nginxStartOutput}`, p.run.nginxModules ?? []);
        throw new ForgeError(
          `nginx did not start for the smoke test (${mode})${named.length ? `; nginx names ${named.join(', ')}` : ''}\n  nginx -t:\n${tailLines(obs.nginxTOutput)}\n  start:\n${tailLines(obs.nginxStartOutput)}\n  error log: ${path.join(p.io, PROBE_FILES.errorLog)}`,
          { exitCode: ExitCode.smoke, hint: `the generated config is ${path.join(p.io, 'nginx.conf')}; all logs are in ${p.dir}` },
        );
      }
      if (!obs.complete) {
        throw new ForgeError(`the smoke probe did not finish (${mode}); partial results in ${p.io}`, {
          exitCode: ExitCode.smoke,
          hint: `see ${ctx.log}${vm ? ` and ${vm.consoleLog}` : ''}`,
        });
      }
      // the TLS library the running nginx really mapped, when ldd named another (or none)
      if (!foreign) p.binary = await withMappedLibssl(p.binary, mappedLibssl(obs, p.binary));
      const j = judge({
        mode,
        obs,
        binary: p.binary,
        components: p.components,
        http3: p.http3,
        config: { ktlsOption: p.ktlsOption, debugLog: p.debugLog },
        suites: p.suites,
        kernel: mode === 'vm' ? { custom: vm?.kernel.custom } : { tlsModule: host.tlsModule, modulesDir: host.modulesDir },
        logDir: p.dir,
      });
      const result: SmokeResult = {
        ...j,
        mode,
        logs: { dir: p.dir },
        env: {
          kernel: obs.kernel || (mode === 'vm' ? (vm?.kernel.release ?? '') : host.release),
          kernelTls: obs.ulp.includes('tls'),
          nginx: path.resolve(p.run.nginx),
          nginxVersion: p.binary.version,
          openssl: p.binary.opensslRunning ?? p.binary.opensslBuilt,
          debug: p.binary.debug,
          opensslKtls: p.binary.opensslKtls,
          tlsServer: tlsServerKind(p.suites),
          durationMs: Date.now() - t0,
          vmBootMs: vm?.bootMs,
          vmMs: vm?.totalMs,
          probeMs: obs.probeMs,
          modulesLoaded: vm?.modulesLoaded[prepared.indexOf(p)],
        },
      };
      writeFileSync(path.join(p.dir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
      log(`${runs.length > 1 ? `run ${p.index}: ` : ''}verdict ${result.verdict} (${mode}, ${Math.round(result.env.durationMs / 100) / 10} s); logs: ${p.dir}`);
      judged[p.index] = result;
    }
    for (const [i, r] of early) judged[i] = r;
    return judged;
  } finally {
    for (const p of prepared) if (p.nativeWork) rmSync(p.nativeWork, { recursive: true, force: true });
  }
}

/** Copies a file into the run's io directory (bin/) and returns the path the guest sees it at. */
function intoShare(io: string, ioSeen: string): (file: string) => string {
  return (file) => {
    mkdirSync(path.join(io, 'bin'), { recursive: true });
    const name = path.basename(file);
    copyFileSync(path.resolve(file), path.join(io, 'bin', name));
    chmodSync(path.join(io, 'bin', name), 0o755);
    return `${ioSeen}/bin/${name}`;
  };
}

/** A binary that is not nginx: the NOT_NGINX result, with nothing run. */
function notNginxResult(binary: BinaryInfo, mode: 'native' | 'vm', dir: string, t0: number): SmokeResult {
  const result: SmokeResult = {
    ...notNginxJudgement(binary),
    mode,
    logs: { dir },
    env: {
      kernel: '',
      kernelTls: false,
      nginx: binary.path,
      nginxVersion: binary.version,
      openssl: binary.opensslRunning ?? binary.opensslBuilt,
      debug: binary.debug,
      opensslKtls: binary.opensslKtls,
      durationMs: Date.now() - t0,
    },
  };
  writeFileSync(path.join(dir, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

/** The libssl mapped by the processes listening on the test ports that run this binary. */
export function mappedLibssl(obs: Pick<Observations, 'listeners' | 'processes' | 'nginxId'>, binary: Pick<BinaryInfo, 'sha256'>): string | undefined {
  for (const l of obs.listeners) {
    const p = obs.processes[l.pid];
    if (!p || !runsBinary(obs, p, binary.sha256)) continue;
    const lib = p.mapped.find((f) => /\/libssl\.so[^/]*$/.test(f));
    if (lib) return lib;
  }
  return undefined;
}

/**
 * A module's proof files in io/mod-<name>/: compressible text, its pre-compressed copy (made
 * here with node:zlib, so the probe needs no compressor), and what the host expects.
 */
export function prepareModule(io: string, m: SmokeModule): void {
  const f = moduleIo(m.name);
  mkdirSync(path.join(io, f.src), { recursive: true });
  if (!m.encoding) return;
  // ~192 KiB of base64 text over random bytes: compressible, and different every run
  const text = Buffer.from(randomBytes(144 * 1024).toString('base64').replace(/(.{76})/g, '$1\n'));
  writeFileSync(path.join(io, f.src, f.file), text);
  const expect: ModuleExpectation = {
    name: m.name,
    displayName: m.displayName,
    link: m.link,
    load: m.load,
    directives: m.directives,
    token: m.encoding.token,
    originalSha256: sha256(text),
    originalSize: text.length,
  };
  if (m.encoding.static.length && m.encoding.staticSuffix) {
    const packed = ENCODERS[m.encoding.token](text);
    writeFileSync(path.join(io, f.src, `${f.file}${m.encoding.staticSuffix}`), packed);
    Object.assign(expect, { staticSha256: sha256(packed), staticSize: packed.length, staticSuffix: m.encoding.staticSuffix });
  }
  writeFileSync(path.join(io, f.expect), `${JSON.stringify(expect, null, 2)}\n`);
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const ENCODERS: Record<NonNullable<SmokeModule['encoding']>['token'], (b: Buffer) => Buffer> = {
  br: (b) => brotliCompressSync(b, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 11 } }),
  gzip: (b) => gzipSync(b, { level: 9 }),
  deflate: (b) => deflateSync(b, { level: 9 }),
};

/** Modules whose .so file or directive words appear in nginx's output (a failed load or an unknown directive). */
export function modulesNamedIn(output: string, mods: SmokeModule[]): string[] {
  return mods
    .filter((m) => m.load.some((so) => output.includes(so) || output.includes(path.basename(so))) || m.directives.some((d) => output.includes(`"${d.split(/\s/)[0]}"`)))
    .map((m) => `module ${m.displayName} (${m.name}, ${m.link})`);
}

/** A native probe that was interrupted can leave nginx running: stop it by its pid file. */
function stopLeftoverNginx(pidFile: string): void {
  try {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (pid > 1) process.kill(pid, 'SIGTERM');
  } catch {
    // not running (the probe stopped it and nginx removed its pid file)
  }
}
