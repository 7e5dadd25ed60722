// Pure judgement: observations (what the probe saw) + what the binary and config are → verdicts.
//
// Per suite:
//   body differs or download failed         → CORRUPT (always a failure)
//   kernel has no `tls` ULP                  → KERNEL_NO_KTLS
//   offloaded (see below), debug log present → PASS
//   offloaded, binary without --with-debug   → PASS by the kernel counters and the body hashes
//                                              (a production binary: no log proof exists)
//   offloaded, debug binary, no debug lines  → NO_DEBUG_LOG (kernel counters alone, and said so)
//   not offloaded, and the binary cannot (OpenSSL without kTLS, or no `Options KTLS`),
//     or it cannot be told and no suite at all was offloaded → BINARY_NO_KTLS
//   not offloaded, binary kTLS-capable       → CIPHER_FALLBACK (this kernel did not take this suite)
// "Offloaded" needs every proof that is available to agree: with a debug log, nginx logged
// `BIO_get_ktls_send(): 1` and an `SSL_sendfile: N` with N > 0; with /proc/net/tls_stat,
// TlsTxSw (+TlsTxDevice) moved during this download.
//
// First of all, it must have been nginx (NOT_NGINX otherwise): the binary is an ELF whose -V lines
// are strings of its own (binary.ts), every process listening on the test ports runs exactly this
// file (sha256 of /proc/<pid>/exe, seen where nginx ran), each TLS response's Server header is
// one the binary holds ("Server: nginx/1.26.3\r\n"), and each download is in nginx's access log
// with its own User-Agent, status and byte count.
//
// Overall: NOT_NGINX before anything else; CORRUPT if any body (TLS or gzip) differs; KERNEL_NO_KTLS if the kernel has no ULP;
// otherwise the verdict of the primary suite (TLS 1.3 AES-128-GCM unless --ciphers leaves it
// out). So a suite that falls back while the primary one is offloaded shows CIPHER_FALLBACK in the
// table and the run still PASSes; the overall verdict is CIPHER_FALLBACK only when the kernel is
// ready and the binary is kTLS-capable but the primary suite was not offloaded — typically no suite
// at all was, because the kernel could not load its crypto (gcm, ctr, ghash) modules.
import { http3Proof, type Http3Plan } from './http3-proof.ts';
import type { ModuleObservation } from './observations.ts';
import type { BinaryInfo } from './binary.ts';
import { runsBinary, rxDelta, txDelta, type Observations, type SuiteObservation } from './observations.ts';
import { userAgent } from './probe.ts';
import { primarySuite, type Suite } from './suites.ts';
import type { CipherResult, ComponentProof, Proof, SmokeResult, Verdict } from './types.ts';

export interface JudgeInput {
  mode: 'native' | 'vm';
  obs: Observations;
  /** the component proofs the probe ran, each with its requirement settled */
  components?: (ComponentProof & { required: boolean })[];
  /** the HTTP/3 request: made (its results are in obs), or why not; undefined: not asked for */
  http3?: Http3Plan;
  binary: Pick<BinaryInfo, 'debug' | 'opensslKtls' | 'opensslKtlsEvidence' | 'claims' | 'sha256' | 'notNginx' | 'serverHeaders'>;
  config: { ktlsOption: boolean; debugLog: boolean };
  suites: Suite[];
  /** native: does the running kernel ship a tls module? vm: the kernel under test */
  kernel?: { tlsModule?: boolean; modulesDir?: string; custom?: boolean };
  logDir: string;
}

export type Judgement = Pick<SmokeResult, 'verdict' | 'reason' | 'next' | 'passed' | 'proofs' | 'ciphers'>;

const KTLS_SEND = /BIO_get_ktls_send(?:\(\))?: 1\b/;
const SSL_SENDFILE = /SSL_sendfile: (-?\d+)/g;
const GZIP_ALERT = 'gzip filter failed to use preallocated memory';
const JIT_PROBLEM = /pcre2?_jit_compile\(\) failed|does not support JIT|built without PCRE JIT support|pcre_study\(\) failed/;

export interface SuiteFacts {
  ktlsSendLine: boolean;
  sendfileCalls: number;
  sendfileBytes: number;
  /** SSL_sendfile lines with n <= 0 (errors, EAGAIN) */
  sendfileOther: number;
  tx: number | null;
  rx: number | null;
  bodyOk: boolean;
  bodyProblem?: string;
}

export function suiteFacts(s: SuiteObservation, expected: { sha256: string; size: number }): SuiteFacts {
  let calls = 0;
  let bytes = 0;
  let other = 0;
  for (const m of s.log.matchAll(SSL_SENDFILE)) {
    const n = Number(m[1]);
    if (n > 0) {
      calls++;
      bytes += n;
    } else other++;
  }
  let bodyProblem: string | undefined;
  if (s.curlExit !== 0) bodyProblem = `download failed (curl exit ${s.curlExit}${s.curlError ? `: ${s.curlError}` : ''})`;
  else if (s.httpCode !== '200') bodyProblem = `HTTP status ${s.httpCode}`;
  else if (s.bodySize !== expected.size) bodyProblem = `body is ${s.bodySize} bytes, the file ${expected.size}`;
  else if (s.bodySha256 !== expected.sha256) bodyProblem = `body sha256 ${s.bodySha256} differs from the file's ${expected.sha256}`;
  return {
    ktlsSendLine: KTLS_SEND.test(s.log),
    sendfileCalls: calls,
    sendfileBytes: bytes,
    sendfileOther: other,
    tx: txDelta(s.tlsBefore, s.tlsAfter),
    rx: rxDelta(s.tlsBefore, s.tlsAfter),
    bodyOk: bodyProblem === undefined,
    bodyProblem,
  };
}

function factsText(f: SuiteFacts, debugLog: boolean): string {
  const parts: string[] = [];
  parts.push(f.tx === null ? 'no tls_stat' : `TlsTxSw +${f.tx}${f.rx ? `, TlsRxSw +${f.rx}` : ''}`);
  if (debugLog) {
    parts.push(f.ktlsSendLine ? 'BIO_get_ktls_send(): 1' : 'no BIO_get_ktls_send');
    parts.push(f.sendfileCalls ? `SSL_sendfile ×${f.sendfileCalls} (${f.sendfileBytes} B)` : 'no SSL_sendfile > 0');
  } else parts.push('no debug log');
  parts.push(f.bodyOk ? 'body ok' : `BODY BAD: ${f.bodyProblem}`);
  return parts.join(', ');
}

const fmtSuite = (s: { protocol: string; suite: string }) => `${s.protocol} ${s.suite}`;
const short = (sha: string) => `${sha.slice(0, 16)}…`;

/**
 * Was it nginx, this binary, that served? Problems (empty: yes) and what was seen. Only downloads
 * that got a response are held to the Server header and the access log (a failed one is CORRUPT).
 */
export function identity(input: Pick<JudgeInput, 'obs' | 'binary'>): { problems: string[]; seen: string } {
  const { obs, binary } = input;
  if (binary.notNginx.length) return { problems: [...binary.notNginx], seen: '' };
  const problems: string[] = [];
  if (!obs.listenersSeen || obs.testPorts.length === 0) {
    problems.push('the probe did not record which processes listen on the test ports');
  } else {
    // what else listens, by the file it runs: "pid 7, 8 run /usr/sbin/nginx (sha256 …)"
    const wrong = new Map<string, { pids: Set<number>; ports: Set<string> }>();
    // the probe lists them as TLS, HTTP, upstream
    const named = (port: number) => `127.0.0.1:${port}${['', ' (TLS)', ' (HTTP)', ' (upstream)'][obs.testPorts.indexOf(port) + 1] ?? ''}`;
    for (const port of obs.testPorts) {
      const ls = obs.listeners.filter((l) => l.port === port);
      if (!ls.length) problems.push(`no process the probe could see listens on ${named(port)}`);
      for (const l of ls) {
        const p = obs.processes[l.pid];
        if (runsBinary(obs, p, binary.sha256)) continue;
        const what = p ? `${p.exe || '(exe unreadable)'} (${p.sha256 === '-' ? 'unreadable' : `sha256 ${short(p.sha256)}`})` : 'a file the probe could not read';
        const w = wrong.get(what) ?? { pids: new Set(), ports: new Set() };
        w.pids.add(l.pid);
        w.ports.add(named(port));
        wrong.set(what, w);
      }
    }
    for (const [what, w] of wrong) {
      const many = w.pids.size > 1;
      problems.push(`the process${many ? 'es' : ''} listening on ${[...w.ports].join(', ')} (pid ${[...w.pids].join(', ')}) run${many ? '' : 's'} ${what}, not this binary (sha256 ${short(binary.sha256)})`);
    }
  }
  const served = obs.suites.filter((s) => s.curlExit === 0 && s.httpCode === '200');
  // Server headers the binary cannot send, by value (undefined: none at all)
  const headers = new Set<string>();
  const badHeaders = new Map<string | undefined, string[]>();
  for (const s of served) {
    if (s.serverHeader !== undefined && binary.serverHeaders.includes(s.serverHeader)) headers.add(s.serverHeader);
    else badHeaders.set(s.serverHeader, [...(badHeaders.get(s.serverHeader) ?? []), s.suite]);
  }
  for (const [h, suites] of badHeaders) {
    const who = `${suites.length === served.length ? 'every TLS response' : suites.join(', ')}`;
    problems.push(
      h === undefined
        ? `${who}: no Server header (nginx always sends one)`
        : `${who}: "Server: ${h}", which the binary cannot send (${binary.serverHeaders.length ? `it holds ${binary.serverHeaders.map((x) => `"Server: ${x}"`).join(', ')}` : 'it holds no Server header string'})`,
    );
  }
  const missing = served.filter((s) => {
    const ua = userAgent(obs.uaToken, s.index);
    return !obs.accessLog.some((l) => l.userAgent === ua && l.request === 'GET /data.bin HTTP/1.1' && l.status === s.httpCode && l.bytes === s.bodySize);
  });
  if (missing.length) {
    problems.push(`${missing.length === served.length ? 'no' : `${missing.length} of ${served.length}`} TLS download(s) (${missing.map((s) => s.suite).join(', ')}) in nginx's access log with their User-Agent, status and size (${obs.accessLog.length} line(s) logged)`);
  }
  const pids = [...new Set(obs.listeners.map((l) => l.pid))];
  return {
    problems,
    seen: `pid ${pids.join(', ')} listening on 127.0.0.1:${obs.testPorts.join(', ')} run${pids.length === 1 ? 's' : ''} this binary (sha256 ${short(binary.sha256)}); ${served.length} TLS response(s) with ${[...headers].map((h) => `"Server: ${h}"`).join(', ') || 'no Server header'}, each in the access log`,
  };
}

const NOT_NGINX_NEXT = 'smoke-test the nginx binary itself (e.g. the "binary" of `nginx-forge build --json`): a script, a wrapper or another server is not nginx, and proves nothing about it';

/** The judgement when the binary is not nginx before anything is run (not an ELF, -V not its own). */
export function notNginxJudgement(binary: Pick<BinaryInfo, 'path' | 'notNginx'>): Judgement {
  return {
    verdict: 'NOT_NGINX',
    reason: `${binary.path} is not nginx: ${binary.notNginx.join('; ')}; nothing was started`,
    next: NOT_NGINX_NEXT,
    passed: false,
    proofs: { identity: { ok: false, detail: binary.notNginx.join('; '), required: true } },
    ciphers: [],
  };
}

export function judge(input: JudgeInput): Judgement {
  const { obs, binary, config } = input;
  const kernelReady = obs.ulp.includes('tls');
  // a binary built --with-debug logging at debug level writes "[debug]" lines; trust what we see
  const debugLog = binary.debug && config.debugLog && /\[debug\]/.test(obs.errorLog);
  const expected = { sha256: obs.dataSha256, size: obs.dataSize };
  const counters = obs.tlsStatAvailable;

  const rows = input.suites.map((want) => {
    const o = obs.suites.find((s) => s.suite === want.name);
    if (!o) return { want, o, f: undefined as SuiteFacts | undefined, offloaded: false };
    const f = suiteFacts(o, expected);
    const logProof = f.ktlsSendLine && f.sendfileCalls > 0;
    const counterProof = f.tx !== null && f.tx > 0;
    const offloaded = debugLog ? logProof && (counters ? counterProof : true) : counters && counterProof;
    return { want, o, f, offloaded };
  });
  const anyOffloaded = rows.some((r) => r.offloaded);
  const binaryCannot = !config.ktlsOption || binary.opensslKtls === 'no';

  const ciphers: CipherResult[] = rows.map(({ want, o, f, offloaded }) => {
    const base = { protocol: want.protocol, suite: want.name, ktls: offloaded };
    if (!o || !f) return { ...base, verdict: 'CORRUPT' as Verdict, detail: 'no download was made for this suite (the probe stopped early)', bodyOk: false };
    let verdict: Verdict;
    let why = '';
    if (!f.bodyOk) verdict = 'CORRUPT';
    else if (!kernelReady) verdict = 'KERNEL_NO_KTLS';
    else if (offloaded) verdict = debugLog || !binary.debug ? 'PASS' : 'NO_DEBUG_LOG';
    else if (binaryCannot || (binary.opensslKtls === 'unknown' && !anyOffloaded)) verdict = 'BINARY_NO_KTLS';
    else {
      verdict = 'CIPHER_FALLBACK';
      if (debugLog && (f.ktlsSendLine || f.sendfileCalls) && counters && !f.tx) why = '; proofs disagree: nginx logged kTLS but TlsTxSw did not move';
      else if (debugLog && f.tx && !(f.ktlsSendLine && f.sendfileCalls)) why = '; proofs disagree: TlsTxSw moved but nginx logged no SSL_sendfile';
    }
    return {
      ...base,
      verdict,
      detail: factsText(f, debugLog) + why,
      tlsTxDelta: f.tx,
      ktlsSendLine: f.ktlsSendLine,
      sslSendfileCalls: f.sendfileCalls,
      sslSendfileBytes: f.sendfileBytes,
      bodyOk: f.bodyOk,
      negotiated: o.negotiated,
    };
  });

  // ---- proofs ----
  const proofs: Record<string, Proof> = {};
  const primary = primarySuite(input.suites);
  const pRow = rows.find((r) => r.want.name === primary.name)!;
  const pf = pRow.f;
  proofs.ktls_log = debugLog
    ? {
        ok: Boolean(pf && pf.ktlsSendLine && pf.sendfileCalls > 0),
        detail: pf
          ? `${fmtSuite({ protocol: primary.protocol, suite: primary.name })}: ${pf.ktlsSendLine ? 'BIO_get_ktls_send(): 1' : 'no BIO_get_ktls_send(): 1'}, ${pf.sendfileCalls} SSL_sendfile call(s) > 0 (${pf.sendfileBytes} bytes)`
          : 'no download',
        required: true,
      }
    : {
        ok: false,
        detail: binary.debug ? 'debug logging disabled for this run: nginx-side proof not available' : 'nginx built without --with-debug: no BIO_get_ktls_send/SSL_sendfile lines; judged by kernel counters alone',
        required: false,
      };
  proofs.ktls_counters = counters
    ? {
        ok: Boolean(pf && pf.tx !== null && pf.tx > 0),
        detail: pf ? `/proc/net/tls_stat during ${primary.name}: TlsTxSw +${pf.tx ?? 0}, TlsRxSw +${pf.rx ?? 0}` : 'no download',
        required: true,
      }
    : { ok: false, detail: kernelReady ? '/proc/net/tls_stat not available' : 'no tls module loaded: /proc/net/tls_stat does not exist', required: true };

  const badBodies = rows.filter((r) => r.f && !r.f.bodyOk);
  const missing = rows.filter((r) => !r.f);
  proofs.body = {
    ok: badBodies.length === 0 && missing.length === 0 && rows.length > 0,
    detail:
      badBodies.length || missing.length
        ? [...badBodies.map((r) => `${r.want.name}: ${r.f!.bodyProblem}`), ...missing.map((r) => `${r.want.name}: not downloaded`)].join('; ')
        : `${rows.length} TLS download(s) of ${obs.dataSize} bytes, sha256 ${obs.dataSha256.slice(0, 16)}… each`,
    required: true,
  };

  // gzip: every response decodes to the original bytes, and no preallocated-memory alert
  const gzipBad = (obs.gzip ?? []).filter((g) => g.httpCode !== '200' || g.problem || g.decodedSha256 !== obs.gzipExpected[g.size]);
  if (obs.gzip) {
    const alert = obs.errorLog.includes(GZIP_ALERT);
    const n = obs.gzip.length;
    proofs.gzip = {
      ok: gzipBad.length === 0 && !alert && n > 0,
      detail:
        (gzipBad.length
          ? gzipBad
              .map((g) => `${g.kind} level ${g.level} ${g.size}: ${g.httpCode !== '200' ? `HTTP ${g.httpCode}` : (g.problem ?? 'decoded bytes differ from the file')}`)
              .join('; ')
          : `${n} responses (static+proxied, 100 B+1 MiB, levels 1/5/9) decode to the original bytes`) +
        (alert ? `; error log has "${GZIP_ALERT}"` : '; no preallocated-memory alert') +
        (binary.claims.zlibNg ? ' (zlib-ng linked)' : ' (zlib, not zlib-ng)'),
      required: true,
    };

    const jitLines = `${obs.nginxTOutput}\n${obs.errorLog}`.split('\n').filter((l) => JIT_PROBLEM.test(l));
    const reOk = obs.reBody === 're:forge' && obs.reNomatchCode === '404';
    proofs.pcre_jit = {
      ok: reOk && jitLines.length === 0,
      detail:
        (reOk
          ? 'regex location ~ ^/re/(?<x>[a-z]+)$ matched (re:forge) and rejected /re/Forge9 (404)'
          : `regex location failed: body ${JSON.stringify(obs.reBody)}, non-match status ${obs.reNomatchCode}`) +
        (jitLines.length ? `; ${jitLines[0]!.replace(/^.*?\[\w+\] /, '').trim()}` : '; pcre_jit on, no JIT error logged'),
      required: binary.claims.pcreJit,
    };
  }

  // each component by its recipe's verify.nginxT (jemalloc: its statistics at exit)
  for (const c of input.components ?? []) Object.assign(proofs, componentProof(c, obs.componentT[c.name] ?? ''));
  // third-party modules: each response decodes to the original bytes, the static one is the
  // pre-compressed file as is; a failure names the module
  for (const m of obs.modules ?? []) Object.assign(proofs, moduleProof(m));
  // the one HTTP/3 request (optional: reported only when no client was there, never a silent pass)
  proofs.http3 = http3Proof(input.http3, obs.results, obs.accessLog, obs.uaToken);
  const id = identity(input);
  proofs.identity = { ok: id.problems.length === 0, detail: id.problems.length ? id.problems.join('; ') : id.seen, required: true };
  proofs.nginx_t = {
    ok: obs.nginxTExit === 0,
    detail: obs.nginxTExit === 0 ? 'configuration test passed' : `nginx -t exit ${obs.nginxTExit}: ${lastLines(obs.nginxTOutput)}`,
    required: true,
  };

  // ---- overall ----
  const result = overall(input, { kernelReady, debugLog, ciphers, primary, anyOffloaded, gzipBad: gzipBad.length > 0, notNginx: id.problems });
  const failedRequired = Object.entries(proofs).filter(([, p]) => p.required && !p.ok);
  const passed = result.verdict === 'PASS' && failedRequired.length === 0;
  if (result.verdict === 'PASS' && !passed) {
    result.reason += `; but required proof(s) failed: ${failedRequired.map(([k, p]) => `${k} (${p.detail})`).join('; ')}`;
    result.next = 'the binary serves kTLS but does not match what it claims (see the failed proofs); rebuild it';
  }
  return { ...result, passed, proofs, ciphers };
}

function lastLines(t: string, n = 3): string {
  return t.split('\n').map((l) => l.trim()).filter(Boolean).slice(-n).join(' | ');
}

function overall(
  input: JudgeInput,
  s: { kernelReady: boolean; debugLog: boolean; ciphers: CipherResult[]; primary: Suite; anyOffloaded: boolean; gzipBad: boolean; notNginx: string[] },
): { verdict: Verdict; reason: string; next?: string } {
  const { obs, binary, config, mode } = input;
  const logs = input.logDir;
  if (s.notNginx.length) {
    return { verdict: 'NOT_NGINX', reason: `what served the smoke test is not this nginx binary: ${s.notNginx.join('; ')}`, next: NOT_NGINX_NEXT };
  }
  const corrupt = s.ciphers.filter((c) => c.verdict === 'CORRUPT');
  if (corrupt.length || s.gzipBad) {
    const what = [
      ...corrupt.map((c) => `${fmtSuite(c)}: ${c.detail.replace(/^.*BODY BAD: /, '')}`),
      ...(s.gzipBad ? ['a gzip response did not decode to the original bytes'] : []),
    ];
    return {
      verdict: 'CORRUPT',
      reason: `bytes served differ from the file: ${what.join('; ')}`,
      next: `do not ship this binary; keep the logs (${logs}) and report it`,
    };
  }
  const where = mode === 'vm' ? `the VM's kernel ${obs.kernel}` : `the running kernel ${obs.kernel}`;
  if (!s.kernelReady) {
    const ulp = obs.ulp.length ? obs.ulp.join(' ') : '(none)';
    let next: string;
    if (mode === 'vm') {
      next = input.kernel?.custom
        ? 'the --kernel/--modules given have no usable tls module: use a kernel built with CONFIG_TLS=m or =y, or drop --kernel to use the pinned Debian kernel'
        : 'the VM kernel could not load tls.ko; see the console log and modprobe output in the logs';
    } else if (input.kernel?.tlsModule) {
      next = 'load kernel TLS as root: `modprobe tls` (then re-run), or test in a VM: --vm always';
    } else {
      next = `this kernel has no tls module${input.kernel?.modulesDir ? ` under ${input.kernel.modulesDir}` : ''} (built without CONFIG_TLS): run the test in a VM with the pinned Debian kernel: --vm always (or --vm auto)`;
    }
    return {
      verdict: 'KERNEL_NO_KTLS',
      reason: `${where} has no "tls" TCP ULP (tcp_available_ulp: ${ulp}); every download was served by userspace TLS and verified`,
      next,
    };
  }
  const p = s.ciphers.find((c) => c.suite === s.primary.name)!;
  const offloadedList = s.ciphers.filter((c) => c.ktls).map((c) => c.suite);
  switch (p.verdict) {
    case 'PASS':
      return {
        verdict: 'PASS',
        reason: `${fmtSuite(p)} was sent by kernel TLS (${p.detail})${s.debugLog ? '' : ': nginx built without --with-debug, proved by the kernel counters and the body hashes'}; ${offloadedList.length}/${s.ciphers.length} suites offloaded; every body verified`,
      };
    case 'NO_DEBUG_LOG':
      return {
        verdict: 'NO_DEBUG_LOG',
        reason: `kernel counters prove kTLS for ${fmtSuite(p)} (${p.detail}), but nginx (built --with-debug) wrote no debug lines: debug logging was off for this run, so BIO_get_ktls_send/SSL_sendfile could not be confirmed from nginx's side: judged by kernel counters alone`,
        next: 'run with debug logging for the nginx-side proof (the smoke test does unless told not to); the kernel-counter proof stands',
      };
    case 'BINARY_NO_KTLS': {
      let why: string;
      let next: string;
      if (!config.ktlsOption) {
        why = 'the configuration does not enable it (no `ssl_conf_command Options KTLS;`)';
        next = 'add `ssl_conf_command Options KTLS;` (with `sendfile on;`, HTTP/1.1) to the TLS server';
      } else if (binary.opensslKtls === 'no') {
        why = `nginx's OpenSSL has no kTLS (${binary.opensslKtlsEvidence})`;
        next = 'build OpenSSL with kTLS: --with-openssl-opt="enable-ktls ..." (the ktls profile does this)';
      } else {
        why = `OpenSSL never switched the connection to kTLS (${binary.opensslKtlsEvidence})`;
        next = 'check that nginx is linked against an OpenSSL 3 built with enable-ktls and that `ssl_conf_command Options KTLS;` is in effect';
      }
      return {
        verdict: 'BINARY_NO_KTLS',
        reason: `${where} has the tls ULP, but ${why}: ${fmtSuite(p)} was served by userspace TLS (${p.detail})`,
        next,
      };
    }
    case 'CIPHER_FALLBACK': {
      const none = offloadedList.length === 0;
      return {
        verdict: 'CIPHER_FALLBACK',
        reason: none
          ? `${where} has the tls ULP and the binary can do kTLS, but no suite was offloaded: OpenSSL fell back to userspace TLS for every cipher (${p.detail})`
          : `${fmtSuite(p)} was not offloaded by ${where} (${p.detail}); offloaded: ${offloadedList.join(', ')}`,
        next: none
          ? 'the kernel could not set up the ciphers: make its crypto modules loadable (AES-GCM: gcm, ctr, ghash-generic or aesni-intel; ChaCha20: chacha20poly1305), e.g. `modprobe gcm ctr ghash-generic`, and check dmesg'
          : `this kernel does not offload ${p.suite}: load its crypto module or use a newer kernel (TLS 1.3 AES-256 needs 5.1+, ChaCha20 5.11+)`,
      };
    }
    default:
      return { verdict: p.verdict, reason: p.detail };
  }
}

/** The proof key of a component (`zlib-ng` → `zlib_ng`), as the build's smoke stage finds its recipe again. */
export const componentProofKey = (name: string) => name.replaceAll('-', '_');

/** A component's proof from its recipe's verify.nginxT: nginx -t with `env` printed `expect`. */
export function componentProof(c: ComponentProof & { required: boolean }, output: string): Record<string, Proof> {
  const env = Object.entries(c.env).map(([k, v]) => `${k}=${v}`).join(' ');
  const seen = output.includes(c.expect);
  return {
    [componentProofKey(c.name)]: {
      ok: seen,
      detail: seen ? `${env} nginx -t printed "${c.expect}"` : `${env} nginx -t did not print "${c.expect}": ${c.displayName} is not in use in this binary`,
      required: c.required,
    },
  };
}

/** The proof of one module's encoding (key `module:<component>`), named after the module. */
export function moduleProof(m: ModuleObservation): Record<string, Proof> {
  const e = m.expect;
  const who = `module ${e.displayName} (${e.name}, ${e.link}${e.load.length ? `, load_module ${e.load.map((f) => f.split('/').pop()).join(', ')}` : ''})`;
  const bad: string[] = [];
  const good: string[] = [];
  const d = m.dyn;
  if (!d) bad.push('no on-the-fly response');
  else if (d.httpCode !== '200' || d.problem || d.decodedSha256 !== e.originalSha256) {
    bad.push(`on the fly: HTTP ${d.httpCode}, ${d.problem ?? (d.decodedSha256 !== e.originalSha256 ? `decodes to other bytes (${d.decodedSha256.slice(0, 16)}…, expected ${e.originalSha256.slice(0, 16)}…)` : '')}`);
  } else good.push(`Content-Encoding: ${e.token}, ${e.originalSize} B → ${d.bodySize} B on the fly, decodes to the original bytes`);
  if (e.staticSha256) {
    const s = m.static;
    if (!s) bad.push(`no response for the pre-compressed ${e.staticSuffix ?? ''} file`);
    else if (s.httpCode !== '200' || s.problem || s.bodySha256 !== e.staticSha256 || s.decodedSha256 !== e.originalSha256) {
      bad.push(`pre-compressed: HTTP ${s.httpCode}, ${s.problem ?? (s.bodySha256 !== e.staticSha256 ? `not the ${e.staticSuffix ?? ''} file's bytes (compressed on the fly?)` : 'decodes to other bytes')}`);
    } else good.push(`the pre-compressed ${e.staticSuffix ?? ''} file served as is (${s.bodySize} B)`);
  }
  return {
    [`module:${e.name}`]: {
      ok: bad.length === 0,
      detail: bad.length ? `${who}: ${bad.join('; ')}` : `${who}: ${good.join('; ')}`,
      required: true,
    },
  };
}
