// Pure parts of the kTLS smoke test, on fixtures: verdict logic (every verdict, per suite and
// overall), log/counter/header parsing, binary detection, config and script rendering, the
// initramfs pieces. Real nginx runs are in smoke-native.test.ts and smoke-vm.test.ts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSize } from '../src/commands/smoke.ts';
import { FileArtifact } from '../src/recipes/schema.ts';
import { interpretBinary, serverHeaders } from '../src/smoke/binary.ts';
import { parseElfHeader, readElf, type ElfImage } from '../src/smoke/elf.ts';
import { renderConfig, tlsServerKind } from '../src/smoke/config.ts';
import { ktlsHttpConf, shippedTlsHttp } from '../src/conf/nginx.ts';
import { encodingsFromHeaders, mappedFiles, negotiatedFrom, parseAccessLog, parseResults, parseTlsStat, serverHeaderFrom, txDelta } from '../src/smoke/observations.ts';
import { renderProbe } from '../src/smoke/probe.ts';
import { formatHuman, toJson } from '../src/smoke/report.ts';
import { MATRIX, parseSuites, primarySuite } from '../src/smoke/suites.ts';
import { judge } from '../src/smoke/verdict.ts';
import { cpioNewc } from '../src/smoke/vm/cpio.ts';
import { renderGuestEnv, renderInit } from '../src/smoke/vm/guest.ts';
import { dependsFromModinfo, isStaticElf, moduleName } from '../src/smoke/vm/initramfs.ts';
import { qemuArgs } from '../src/smoke/vm/index.ts';
import { KERNEL_RECIPE, loadKernelArtifact } from '../src/smoke/vm/kernel.ts';
import { FREEBSD_KTLS_LOG, input, JEMALLOC, KTLS_BINARY, observations, suiteObs, tls, USERSPACE_LOG } from './helpers/smokeFixtures.ts';

const userspaceEverywhere = () => MATRIX.map((s) => suiteObs(s, { ktls: false }));

describe('judge: overall verdicts', () => {
  it('PASS: default suite offloaded (log lines + TlsTxSw), every body verified', () => {
    const j = judge(input());
    expect(j.verdict).toBe('PASS');
    expect(j.passed).toBe(true);
    expect(j.next).toBeUndefined();
    expect(j.ciphers.map((c) => c.verdict)).toEqual(['PASS', 'PASS', 'PASS', 'PASS', 'PASS']);
    expect(j.ciphers[0]).toMatchObject({ ktls: true, tlsTxDelta: 1, ktlsSendLine: true, sslSendfileCalls: 2, sslSendfileBytes: 4194304, bodyOk: true });
    expect(j.proofs.ktls_log!.ok && j.proofs.ktls_counters!.ok && j.proofs.body!.ok).toBe(true);
  });

  it("accepts FreeBSD's `BIO_get_ktls_send: 1` line", () => {
    const obs = observations({ suites: MATRIX.map((s) => suiteObs(s, { log: FREEBSD_KTLS_LOG, counters: false })), tlsStatAvailable: false });
    const j = judge(input({ obs }));
    expect(j.ciphers[0]!.ktls).toBe(true);
    expect(j.verdict).toBe('PASS');
    // no tls_stat: the counter proof is missing, so the run is not "passed" on Linux terms
    expect(j.proofs.ktls_counters!.ok).toBe(false);
    expect(j.passed).toBe(false);
  });

  it('SSL_sendfile: 0 or -1 lines do not count', () => {
    const log = ['*2 BIO_get_ktls_send(): 1', '*2 SSL_sendfile: -1', '*2 SSL_sendfile: 0'].join('\n');
    const j = judge(input({ obs: observations({ suites: MATRIX.map((s) => suiteObs(s, { log })) }) }));
    expect(j.ciphers[0]!.sslSendfileCalls).toBe(0);
    expect(j.ciphers[0]!.ktls).toBe(false);
    expect(j.verdict).not.toBe('PASS');
  });

  it('KERNEL_NO_KTLS natively: no tls ULP; says how to load it when tls.ko exists', () => {
    const obs = observations({ ulp: ['mptcp'], tlsStatAvailable: false, kernel: '6.18.44', suites: MATRIX.map((s) => suiteObs(s, { ktls: false, counters: false })) });
    const withModule = judge(input({ mode: 'native', obs, kernel: { tlsModule: true } }));
    expect(withModule.verdict).toBe('KERNEL_NO_KTLS');
    expect(withModule.next).toMatch(/modprobe tls/);
    expect(withModule.ciphers.every((c) => c.verdict === 'KERNEL_NO_KTLS')).toBe(true);
    const without = judge(input({ mode: 'native', obs, kernel: { tlsModule: false, modulesDir: '/lib/modules/6.18.44' } }));
    expect(without.next).toMatch(/--vm always/);
    expect(without.next).toMatch(/CONFIG_TLS/);
    expect(without.reason).toMatch(/tcp_available_ulp: mptcp/);
  });

  it('KERNEL_NO_KTLS in a VM with a user kernel: points at CONFIG_TLS', () => {
    const obs = observations({ ulp: [], tlsStatAvailable: false, suites: MATRIX.map((s) => suiteObs(s, { ktls: false, counters: false })) });
    const j = judge(input({ obs, kernel: { custom: true } }));
    expect(j.verdict).toBe('KERNEL_NO_KTLS');
    expect(j.next).toMatch(/CONFIG_TLS/);
  });

  it('BINARY_NO_KTLS: kernel ready, OpenSSL without kTLS; bodies still verified', () => {
    const j = judge(
      input({
        obs: observations({ suites: userspaceEverywhere(), errorLog: USERSPACE_LOG }),
        binary: { ...KTLS_BINARY, opensslKtls: 'no', opensslKtlsEvidence: 'no kTLS code' },
      }),
    );
    expect(j.verdict).toBe('BINARY_NO_KTLS');
    expect(j.reason).toMatch(/OpenSSL has no kTLS/);
    expect(j.next).toMatch(/enable-ktls/);
    expect(j.proofs.body!.ok).toBe(true);
    expect(j.ciphers.every((c) => c.verdict === 'BINARY_NO_KTLS' && c.bodyOk)).toBe(true);
  });

  it('BINARY_NO_KTLS: config without `ssl_conf_command Options KTLS`', () => {
    const j = judge(input({ obs: observations({ suites: userspaceEverywhere() }), config: { ktlsOption: false, debugLog: true } }));
    expect(j.verdict).toBe('BINARY_NO_KTLS');
    expect(j.next).toMatch(/ssl_conf_command Options KTLS/);
  });

  it('BINARY_NO_KTLS when the binary cannot be judged and nothing was offloaded', () => {
    const j = judge(input({ obs: observations({ suites: userspaceEverywhere() }), binary: { ...KTLS_BINARY, opensslKtls: 'unknown' } }));
    expect(j.verdict).toBe('BINARY_NO_KTLS');
  });

  it('CIPHER_FALLBACK overall: kernel ready, binary capable, no suite offloaded (crypto modules)', () => {
    const j = judge(input({ obs: observations({ suites: userspaceEverywhere() }) }));
    expect(j.verdict).toBe('CIPHER_FALLBACK');
    expect(j.reason).toMatch(/no suite was offloaded/);
    expect(j.next).toMatch(/modprobe gcm ctr/);
    expect(j.ciphers.every((c) => c.verdict === 'CIPHER_FALLBACK')).toBe(true);
  });

  it('CIPHER_FALLBACK per suite only: ChaCha20 not offloaded, default suite is → PASS', () => {
    const suites = MATRIX.map((s) => suiteObs(s, { ktls: !s.name.includes('CHACHA') }));
    const j = judge(input({ obs: observations({ suites }) }));
    expect(j.verdict).toBe('PASS');
    expect(j.ciphers.find((c) => c.suite === 'TLS_CHACHA20_POLY1305_SHA256')!.verdict).toBe('CIPHER_FALLBACK');
    expect(j.reason).toMatch(/4\/5 suites offloaded/);
  });

  it('CIPHER_FALLBACK overall when the default suite alone is not offloaded', () => {
    const suites = MATRIX.map((s) => suiteObs(s, { ktls: s.name !== 'TLS_AES_128_GCM_SHA256' }));
    const j = judge(input({ obs: observations({ suites }) }));
    expect(j.verdict).toBe('CIPHER_FALLBACK');
    expect(j.reason).toMatch(/offloaded: TLS_AES_256_GCM_SHA384/);
  });

  it('CORRUPT: a body differs (always a failure, whatever kTLS did)', () => {
    const suites = MATRIX.map((s, i) => suiteObs(s, i === 2 ? { bodySha256: 'd'.repeat(64) } : {}));
    const j = judge(input({ obs: observations({ suites }) }));
    expect(j.verdict).toBe('CORRUPT');
    expect(j.passed).toBe(false);
    expect(j.reason).toMatch(/TLS_CHACHA20_POLY1305_SHA256/);
    expect(j.ciphers[2]!.verdict).toBe('CORRUPT');
    expect(j.proofs.body!.ok).toBe(false);
  });

  it('CORRUPT beats KERNEL_NO_KTLS; a failed download is CORRUPT too', () => {
    const suites = MATRIX.map((s, i) => suiteObs(s, { ktls: false, counters: false, ...(i === 0 ? { curlExit: 35, curlError: 'curl: (35) handshake failure' } : {}) }));
    const j = judge(input({ obs: observations({ suites, ulp: [] }) }));
    expect(j.verdict).toBe('CORRUPT');
    expect(j.ciphers[0]!.detail).toMatch(/curl exit 35/);
  });

  it('CORRUPT: a gzip response that does not decode to the file', () => {
    const obs = observations();
    obs.gzip![3] = { ...obs.gzip![3]!, decodedSha256: 'e'.repeat(64) };
    const j = judge(input({ obs }));
    expect(j.verdict).toBe('CORRUPT');
    expect(j.proofs.gzip!.ok).toBe(false);
  });

  it('PASS: a production binary (no --with-debug), counters moved and every body verified', () => {
    const suites = MATRIX.map((s) => suiteObs(s, { log: '' }));
    const j = judge(input({ obs: observations({ suites, errorLog: '2026/11/23 [notice] 1#1: start worker processes\n' }), binary: { ...KTLS_BINARY, debug: false } }));
    expect(j.verdict).toBe('PASS');
    expect(j.reason).toMatch(/without --with-debug, proved by the kernel counters and the body hashes/);
    expect(j.proofs.ktls_log).toMatchObject({ ok: false, required: false });
    expect(j.proofs.ktls_counters).toMatchObject({ ok: true, required: true });
    expect(j.proofs.body!.ok).toBe(true);
    expect(j.ciphers[0]).toMatchObject({ verdict: 'PASS', ktls: true });
    expect(j.passed).toBe(true);
  });

  it('a production binary is no PASS without the kernel counters: the body hash alone proves no kTLS', () => {
    const suites = MATRIX.map((s) => suiteObs(s, { log: '', counters: false }));
    const j = judge(input({ obs: observations({ suites, errorLog: '', tlsStatAvailable: false }), binary: { ...KTLS_BINARY, debug: false } }));
    expect(j.verdict).not.toBe('PASS');
    expect(j.passed).toBe(false);
  });

  it('a production binary whose counters did not move is no PASS', () => {
    const suites = MATRIX.map((s) => suiteObs(s, { log: '', tlsAfter: tls(0) }));
    const j = judge(input({ obs: observations({ suites, errorLog: '' }), binary: { ...KTLS_BINARY, debug: false } }));
    expect(j.verdict).toBe('CIPHER_FALLBACK');
    expect(j.passed).toBe(false);
  });

  it('NO_DEBUG_LOG: a debug binary run without debug lines, counters moved — judged by counters alone, and said so', () => {
    const suites = MATRIX.map((s) => suiteObs(s, { log: '' }));
    const j = judge(input({ obs: observations({ suites, errorLog: '2026/11/23 [notice] 1#1: start worker processes\n' }) }));
    expect(j.verdict).toBe('NO_DEBUG_LOG');
    expect(j.reason).toMatch(/kernel counters alone/);
    expect(j.reason).toMatch(/debug logging was off/);
    expect(j.proofs.ktls_log).toMatchObject({ ok: false, required: false });
    expect(j.proofs.ktls_counters!.ok).toBe(true);
    expect(j.passed).toBe(false);
  });

  it('no debug log and counters still: not NO_DEBUG_LOG but the fallback verdicts', () => {
    const suites = MATRIX.map((s) => suiteObs(s, { log: '', ktls: false }));
    const j = judge(input({ obs: observations({ suites, errorLog: '' }), binary: { ...KTLS_BINARY, debug: false, opensslKtls: 'no' } }));
    expect(j.verdict).toBe('BINARY_NO_KTLS');
  });

  it('a debug binary whose log has no [debug] lines is treated as no debug log', () => {
    const j = judge(input({ obs: observations({ errorLog: '[notice] started\n' }) }));
    expect(j.verdict).toBe('NO_DEBUG_LOG');
  });

  it('proofs disagree (log yes, counters no): not offloaded, and the detail says so', () => {
    const suites = MATRIX.map((s) => suiteObs(s, { tlsAfter: tls(0) }));
    const j = judge(input({ obs: observations({ suites }) }));
    expect(j.ciphers[0]!.ktls).toBe(false);
    expect(j.ciphers[0]!.detail).toMatch(/proofs disagree/);
  });

  it('PASS with a failed required proof (jemalloc required, its statistics not printed) is not passed', () => {
    const j = judge(input({ obs: observations({ componentT: { jemalloc: 'syntax is ok' } }) }));
    expect(j.verdict).toBe('PASS');
    expect(j.passed).toBe(false);
    expect(j.reason).toMatch(/jemalloc \(MALLOC_CONF=stats_print:true nginx -t did not print "Begin jemalloc statistics": jemalloc is not in use/);
  });

  it("component proofs are the recipes' verify.nginxT, as given: another component, another text", () => {
    const zstd = { name: 'zstd-lib', displayName: 'zstd', env: { ZSTD_TRACE: '1' }, expect: 'zstd ready', required: true };
    const j = judge(input({ components: [zstd], obs: observations({ componentT: { 'zstd-lib': 'zstd ready\n' } }) }));
    expect(j.proofs.zstd_lib).toEqual({ ok: true, detail: 'ZSTD_TRACE=1 nginx -t printed "zstd ready"', required: true });
    // no component given: no jemalloc proof made up by the judge
    expect(j.proofs.jemalloc).toBeUndefined();
    expect(judge(input({ components: [] })).proofs.jemalloc).toBeUndefined();
  });

  it('jemalloc and PCRE JIT only required when the binary claims them', () => {
    const j = judge(
      input({
        components: [{ ...JEMALLOC, required: false }],
        obs: observations({ componentT: { jemalloc: 'syntax is ok' }, errorLog: `${observations().errorLog}[warn] PCRE2 library does not support JIT\n` }),
        binary: { ...KTLS_BINARY, claims: { pcreJit: false, zlibNg: false } },
      }),
    );
    expect(j.proofs.jemalloc).toMatchObject({ ok: false, required: false });
    expect(j.proofs.pcre_jit).toMatchObject({ ok: false, required: false });
    expect(j.proofs.pcre_jit!.detail).toMatch(/does not support JIT/);
    expect(j.passed).toBe(true);
  });

  it('gzip alert "failed to use preallocated memory" fails the gzip proof', () => {
    const j = judge(input({ obs: observations({ errorLog: `${observations().errorLog}[alert] 9#9: *40 gzip filter failed to use preallocated memory: 65536 of 16384\n` }) }));
    expect(j.proofs.gzip!.ok).toBe(false);
    expect(j.passed).toBe(false);
  });

  it('extras off: no gzip/pcre proofs', () => {
    const j = judge(input({ obs: observations({ gzip: null }) }));
    expect(j.proofs.gzip).toBeUndefined();
    expect(j.proofs.pcre_jit).toBeUndefined();
    expect(j.passed).toBe(true);
  });

  it('--ciphers without the default suite: the first one decides', () => {
    const suites = [MATRIX[3]!, MATRIX[2]!];
    expect(primarySuite(suites).name).toBe('ECDHE-ECDSA-AES128-GCM-SHA256');
    const j = judge(input({ suites, obs: observations({ suites: suites.map((s) => suiteObs(s)) }) }));
    expect(j.verdict).toBe('PASS');
    expect(j.ciphers).toHaveLength(2);
  });
});

describe('judge: was it this nginx that served (NOT_NGINX)', () => {
  it('nginx (master and worker) on every test port, its Server header, each download in its access log → identity ok', () => {
    const j = judge(input());
    expect(j.verdict).toBe('PASS');
    expect(j.proofs.identity).toMatchObject({ ok: true, required: true });
    expect(j.proofs.identity!.detail).toMatch(/pid 100, 101 listening on 127.0.0.1:8443, 8080, 8081 run this binary.*5 TLS response\(s\) with "Server: nginx\/1.26.3", each in the access log/);
  });

  it('another program listening on the TLS port (openssl s_server) → NOT_NGINX, whatever the downloads proved', () => {
    const base = observations();
    const obs = observations({
      listeners: [...base.listeners.filter((l) => l.port !== 8443), { port: 8443, inode: '9', pid: 300 }],
      processes: { ...base.processes, 300: { pid: 300, exe: '/usr/bin/openssl', devIno: '65024:77', sha256: '4'.repeat(64), mapped: [] } },
    });
    const j = judge(input({ obs }));
    expect(j.verdict).toBe('NOT_NGINX');
    expect(j.passed).toBe(false);
    expect(j.reason).toMatch(/the process listening on 127.0.0.1:8443 \(TLS\) \(pid 300\) runs \/usr\/bin\/openssl \(sha256 4444444444444444…\), not this binary/);
    expect(j.next).toMatch(/smoke-test the nginx binary itself/);
  });

  it('the same bytes elsewhere count as this binary (a copy: same sha256); an unreadable exe does not', () => {
    const copy = observations({ processes: { 100: { pid: 100, exe: '/tmp/copy/nginx', devIno: '1:2', sha256: 'd'.repeat(64), mapped: [] }, 101: { pid: 101, exe: '/tmp/copy/nginx', devIno: '1:2', sha256: 'd'.repeat(64), mapped: [] } } });
    expect(judge(input({ obs: copy })).proofs.identity!.ok).toBe(true);
    const hidden = observations({ processes: { 100: { pid: 100, exe: '', devIno: '-', sha256: '-', mapped: [] } } });
    const j = judge(input({ obs: hidden }));
    expect(j.verdict).toBe('NOT_NGINX');
    expect(j.reason).toMatch(/\(pid 100\) runs \(exe unreadable\) \(unreadable\)/);
    expect(j.reason).toMatch(/\(pid 101\) runs a file the probe could not read/);
  });

  it('nobody on a test port, or no listener record at all → NOT_NGINX', () => {
    const base = observations();
    const j = judge(input({ obs: observations({ listeners: base.listeners.filter((l) => l.port !== 8081) }) }));
    expect(j.verdict).toBe('NOT_NGINX');
    expect(j.reason).toMatch(/no process the probe could see listens on 127.0.0.1:8081 \(upstream\)/);
    expect(judge(input({ obs: observations({ listenersSeen: false }) })).reason).toMatch(/did not record which processes listen/);
  });

  it('a Server header the binary cannot send, or none → NOT_NGINX', () => {
    const none = judge(input({ obs: observations({ suites: MATRIX.map((s) => suiteObs(s, { serverHeader: undefined })) }) }));
    expect(none.verdict).toBe('NOT_NGINX');
    expect(none.reason).toMatch(/every TLS response: no Server header \(nginx always sends one\)/);
    const other = judge(input({ obs: observations({ suites: MATRIX.map((s, i) => suiteObs(s, i === 1 ? { serverHeader: 'Apache' } : {})) }) }));
    expect(other.reason).toMatch(/TLS_AES_256_GCM_SHA384: "Server: Apache", which the binary cannot send \(it holds "Server: nginx\/1.26.3", "Server: nginx"\)/);
  });

  it("downloads not in nginx's access log (with their User-Agent, status and size) → NOT_NGINX", () => {
    const empty = judge(input({ obs: observations({ accessLog: [] }) }));
    expect(empty.verdict).toBe('NOT_NGINX');
    expect(empty.reason).toMatch(/no TLS download\(s\) \(.*\) in nginx's access log .*\(0 line\(s\) logged\)/);
    const log = observations().accessLog;
    const short = judge(input({ obs: observations({ accessLog: [{ ...log[0]!, bytes: 10 }, ...log.slice(1)] }) }));
    expect(short.reason).toMatch(/1 of 5 TLS download\(s\) \(TLS_AES_128_GCM_SHA256\)/);
  });

  it('NOT_NGINX comes before CORRUPT and KERNEL_NO_KTLS', () => {
    const obs = observations({ ulp: [], suites: MATRIX.map((s) => suiteObs(s, { bodySha256: 'e'.repeat(64) })), listeners: [] });
    expect(judge(input({ obs })).verdict).toBe('NOT_NGINX');
  });
});

describe('parsing: who served', () => {
  it('access log (combined format), Server header, mapped files', () => {
    const log = '127.0.0.1 - - [07/Dec/2026:05:52:01 +0000] "GET /data.bin HTTP/1.1" 200 4194304 "-" "nginx-forge-smoke/abc/0"\n127.0.0.1 - - [07/Dec/2026:05:52:02 +0000] "GET /x HTTP/1.1" 404 - "-" "curl/8 \\"q\\""\nnot a line\n';
    expect(parseAccessLog(log)).toEqual([
      { request: 'GET /data.bin HTTP/1.1', status: '200', bytes: 4194304, userAgent: 'nginx-forge-smoke/abc/0' },
      { request: 'GET /x HTTP/1.1', status: '404', bytes: 0, userAgent: 'curl/8 \\"q\\"' },
    ]);
    expect(serverHeaderFrom('< HTTP/1.1 200 OK\r\n< Server: nginx/1.26.3\r\n< Date: x\r\n')).toBe('nginx/1.26.3');
    expect(serverHeaderFrom('< HTTP/1.0 200 ok\r\n< Content-type: text/plain\r\n')).toBeUndefined();
    expect(mappedFiles('7f00-7f01 r--p 00000000 fe:00 123  /usr/lib/x86_64-linux-gnu/libssl.so.3\n7f02-7f03 rw-p 00000000 00:00 0 \n7f04-7f05 r-xp 0 fe:00 9 /tmp/nginx (deleted)\n')).toEqual([
      '/usr/lib/x86_64-linux-gnu/libssl.so.3',
      '/tmp/nginx',
    ]);
  });
});

describe('parsing', () => {
  it('tls_stat', () => {
    const s = parseTlsStat('TlsCurrTxSw                     \t0\nTlsTxSw                         \t3\nTlsRxSw   1\n');
    expect(s).toEqual({ TlsCurrTxSw: 0, TlsTxSw: 3, TlsRxSw: 1 });
    expect(parseTlsStat('')).toBeNull();
    expect(txDelta(tls(1), tls(2))).toBe(1);
    expect(txDelta(null, tls(1))).toBe(1);
    expect(txDelta(tls(1), null)).toBeNull();
  });

  it('curl -v negotiated suite', () => {
    expect(negotiatedFrom('* ALPN: server accepted http/1.1\n* SSL connection using TLSv1.3 / TLS_AES_128_GCM_SHA256\r\n')).toBe('TLSv1.3 / TLS_AES_128_GCM_SHA256');
  });

  it('content-encodings from curl -D over several transfers', () => {
    const h = 'HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Encoding: gzip\r\n\r\nHTTP/1.1 200 OK\r\nServer: nginx\r\n\r\nHTTP/1.1 404 Not Found\r\ncontent-encoding: gzip\r\n\r\n';
    expect(encodingsFromHeaders(h)).toEqual(['gzip', '-', 'gzip']);
  });

  it('results.txt', () => {
    expect(parseResults('a=1\nre_body=re:forge\nulp=mptcp tls\n')).toEqual({ a: '1', re_body: 're:forge', ulp: 'mptcp tls' });
  });

  it('--ciphers and --size', () => {
    expect(parseSuites()).toEqual(MATRIX);
    expect(parseSuites(['TLS_AES_256_GCM_SHA384,ECDHE-ECDSA-AES128-GCM-SHA256', 'TLS_AES_256_GCM_SHA384'])).toEqual([
      { protocol: 'TLSv1.3', name: 'TLS_AES_256_GCM_SHA384' },
      { protocol: 'TLSv1.2', name: 'ECDHE-ECDSA-AES128-GCM-SHA256' },
    ]);
    expect(() => parseSuites('ECDHE-RSA-AES128-GCM-SHA256')).toThrow(/ECDSA/);
    expect(() => parseSuites('TLS_AES;rm')).toThrow(/not a cipher suite/);
    expect(parseSize('4M')).toBe(4194304);
    expect(parseSize('512KiB')).toBe(524288);
    expect(parseSize('1000')).toBe(1000);
    expect(() => parseSize('lots')).toThrow(/not a size/);
  });
});

describe('binary detection', () => {
  const V = (args: string, ossl = '3.5.7') => `nginx version: nginx/1.26.3\nbuilt with OpenSSL ${ossl} 9 Jun 2026\nconfigure arguments: ${args}\n`;
  /** An ELF image whose data sections hold these NUL-terminated strings (and its own -V lines). */
  const elf = (strings: string[], o: Partial<ElfImage> = {}, versionText?: string): ElfImage => {
    const own = versionText ? versionText.split('\n').filter((l) => /^(nginx version|configure arguments)/.test(l)).map((l) => `${l}\n`) : [];
    return { path: '/n', sha256: 'e'.repeat(64), elf: true, data: Buffer.from([...own, ...strings].map((x) => `${x}\0`).join('')), imports: [], ...o };
  };
  it('kTLS code in the binary → yes; debug and claims from configure arguments', () => {
    const v = V("--with-debug --with-openssl-opt='enable-ktls no-docs' --with-pcre-jit --with-ld-opt='-ljemalloc'");
    const b = interpretBinary('/n', v, elf(['../ssl/record/methods/ktls_meth.c', '1.3.1.zlib-ng'], {}, v));
    expect(b).toMatchObject({ debug: true, opensslKtls: 'yes', version: '1.26.3', opensslBuilt: '3.5.7', claims: { pcreJit: true, zlibNg: true }, notNginx: [] });
  });
  it('kTLS markers count only as strings or symbols of the TLS library: not as substrings, not in a non-ELF', () => {
    const v = V('--with-debug', '3.5.7');
    // a marker inside a longer string (a comment, a message) is no kTLS code
    expect(interpretBinary('/n', v, elf(['# ktls_meth.c and ssl/ktls.c are here'], {}, v), undefined, true).opensslKtls).toBe('no');
    // a non-stripped static OpenSSL: its ktls_* functions
    const sym = interpretBinary('/n', v, elf([], { symbols: ['main', 'ktls_sendfile', 'ossl_ktls_record_method'] }, v), undefined, true);
    expect(sym.opensslKtls).toBe('yes');
    expect(sym.opensslKtlsEvidence).toMatch(/kTLS symbol\(s\): ktls_sendfile/);
    // a script carrying every marker in its text: not an ELF, so none of it counts
    const script: ElfImage = { path: '/fake', sha256: 'f'.repeat(64), elf: false, head: '#!/bin/sh', data: Buffer.alloc(0), imports: [] };
    const s = interpretBinary('/fake', v, script);
    expect(s.opensslKtls).toBe('unknown');
    expect(s.claims.zlibNg).toBe(false);
    expect(s.notNginx).toEqual(['it is not an ELF executable (it starts with "#!/bin/sh")']);
  });
  it('--with-openssl-opt without enable-ktls → no', () => {
    const v = V("--with-openssl=../o --with-openssl-opt='no-docs'");
    const b = interpretBinary('/n', v, elf(['nothing'], {}, v));
    expect(b.opensslKtls).toBe('no');
    expect(b.debug).toBe(false);
  });
  it('statically linked OpenSSL >= 3.2 without kTLS code → no; OpenSSL 3.0 → unknown', () => {
    expect(interpretBinary('/n', V('--with-debug'), elf(['x']), undefined, true).opensslKtls).toBe('no');
    expect(interpretBinary('/n', V('--with-debug', '3.0.19'), elf(['x']), undefined, true).opensslKtls).toBe('unknown');
  });
  it('dynamic libssl: kTLS strings among its data, or an SSL_sendfile that imports sendfile → yes', () => {
    expect(interpretBinary('/n', V(''), elf(['x']), elf(['ssl/record/methods/ktls_meth.c'], { path: '/lib/libssl.so.3' })).opensslKtls).toBe('yes');
    const viaSendfile = interpretBinary('/n', V(''), elf(['x']), elf([], { path: '/lib/libssl.so.3', imports: ['memcpy', 'sendfile'] }));
    expect(viaSendfile.opensslKtls).toBe('yes');
    expect(viaSendfile.opensslKtlsEvidence).toMatch(/SSL_sendfile calls sendfile/);
    expect(interpretBinary('/n', V(''), elf(['x']), elf([], { path: '/lib/libssl.so.3', imports: ['memcpy'] })).opensslKtls).toBe('no');
  });
  it('OpenSSL 1.1 stub → no', () => {
    expect(interpretBinary('/n', V('', '1.1.1w'), elf(['SSL_sendfile() not available'])).opensslKtls).toBe('no');
  });
  it("-V lines that are not strings of the binary: not nginx's -V", () => {
    const v = V('--with-http_ssl_module');
    expect(interpretBinary('/n', v, elf([], {}, v)).notNginx).toEqual([]);
    const other = interpretBinary('/n', v, elf(['nginx version: nginx/1.22.1\n', 'configure arguments: --with-http_ssl_module\n']));
    expect(other.notNginx).toEqual([expect.stringMatching(/printed "nginx version: nginx\/1.26.3", but the binary holds no such string/)]);
    expect(interpretBinary('/n', 'usage: foo\n', elf([])).notNginx).toEqual([
      expect.stringMatching(/printed no "nginx version: nginx\/…" line \(it printed "usage: foo"\)/),
      expect.stringMatching(/printed no "configure arguments:" line/),
    ]);
    expect(interpretBinary('/n', v, elf([], { problem: 'it is a relocatable object file (ET_REL, a .o), not an executable' })).notNginx).toEqual(['it is a relocatable object file (ET_REL, a .o), not an executable']);
  });
  it('Server header literals: the values the binary can send', () => {
    const img = elf(['Server: nginx\r\n', 'Server: nginx/1.26.3\r\n', 'X-Server: no']);
    expect(serverHeaders(img)).toEqual(['nginx', 'nginx/1.26.3']);
  });
});

describe('ELF header', () => {
  const header = (o: { cls?: number; data?: number; type?: number; machine?: number; len?: number }) => {
    const b = Buffer.alloc(64);
    Buffer.from([0x7f, 0x45, 0x4c, 0x46]).copy(b);
    b[4] = o.cls ?? 2;
    b[5] = o.data ?? 1;
    b[6] = 1;
    b.writeUInt16LE(o.type ?? 3, 16);
    b.writeUInt16LE(o.machine ?? 62, 18);
    return b.subarray(0, o.len ?? 64);
  };
  it('an executable or PIE for this machine is fine; a script, a .o, a core, another machine or a cut header is not', () => {
    expect(parseElfHeader(Buffer.from('#!/bin/sh\necho nginx version\n'), 'x64')).toBeUndefined();
    expect(parseElfHeader(header({}), 'x64')).toEqual({ header: { bits: 64, endian: 'little', type: 3, machine: 62 } });
    expect(parseElfHeader(header({ type: 2 }), 'x64')?.problem).toBeUndefined();
    expect(parseElfHeader(header({ type: 1 }), 'x64')?.problem).toMatch(/relocatable object file \(ET_REL/);
    expect(parseElfHeader(header({ type: 4 }), 'x64')?.problem).toMatch(/core dump/);
    expect(parseElfHeader(header({ machine: 183 }), 'x64')?.problem).toMatch(/another machine \(e_machine 183; this one is x86-64, 62\)/);
    expect(parseElfHeader(header({ len: 10 }), 'x64')?.problem).toMatch(/cut short/);
    expect(parseElfHeader(header({ cls: 7 }), 'x64')?.problem).toMatch(/unknown class/);
  });
  it('the header of the running node binary parses as an executable of this machine', async () => {
    const img = await readElf(process.execPath);
    expect(img.elf).toBe(true);
    expect(img.problem).toBeUndefined();
    expect([2, 3]).toContain(img.header?.type);
  });
});

describe('rendering', () => {
  const suites = MATRIX;
  it('nginx.conf sets every path explicitly and enables kTLS on HTTP/1.1', () => {
    const c = renderConfig({ work: '/w', io: '/io', tlsPort: 8443, httpPort: 8080, upstreamPort: 8081, suites, user: { name: 'nobody', group: 'nogroup' } });
    for (const d of [
      'pid /w/nginx.pid;',
      'error_log /w/logs/error.log debug;',
      'access_log /w/logs/access.log;',
      'client_body_temp_path /w/tmp/client_body;',
      'proxy_temp_path /w/tmp/proxy;',
      'fastcgi_temp_path /w/tmp/fastcgi;',
      'uwsgi_temp_path /w/tmp/uwsgi;',
      'scgi_temp_path /w/tmp/scgi;',
      'sendfile on;',
      'ssl_conf_command Options KTLS;',
      'pcre_jit on;',
      'location ~ ^/re/(?<x>[a-z]+)$',
      'listen 127.0.0.1:8443 ssl;',
      'user nobody nogroup;',
      'proxy_pass http://127.0.0.1:8081/raw/;',
    ]) {
      expect(c).toContain(d);
    }
    expect(c).not.toMatch(/http2|listen[^;]*quic/);
    expect(c).not.toMatch(/\/etc\/nginx|\/var\/log|\/var\/lib\/nginx|\/run\/nginx/);
    const off = renderConfig({ work: '/w', io: '/io', tlsPort: 1, httpPort: 2, upstreamPort: 3, suites, ktlsOption: false, logLevel: 'info' });
    expect(off).not.toContain('Options KTLS');
    expect(off).toContain('error_log /w/logs/error.log info;');
  });

  it("the TLS server is the packages' shipped one: conf.d/ktls.conf at http level, the example server, suites chosen by the client", () => {
    const c = renderConfig({ work: '/w', io: '/io', tlsPort: 8443, httpPort: 8080, upstreamPort: 8081, suites });
    expect(tlsServerKind(suites)).toBe('shipped');
    const shipped = shippedTlsHttp({ ktls: true, listen: '127.0.0.1:8443', certificate: '/io/cert.pem', certificateKey: '/io/key.pem', root: '/w/html' });
    // verbatim, only indented into http {}
    const indented = shipped.trimEnd().split('\n').map((l) => (l ? `    ${l}` : l)).join('\n');
    expect(c).toContain(indented);
    expect(c).toContain(ktlsHttpConf().split('\n').filter((l) => !l.startsWith('#')).map((l) => (l ? `    ${l}` : l)).join('\n').trim());
    // no server-level ssl_conf_command (it would cancel the http-level Options KTLS), one sendfile
    expect(c).not.toContain('Ciphersuites');
    expect(c.match(/^\s*ssl_conf_command /gm)).toHaveLength(1);
    expect(c.match(/^\s*sendfile on;$/gm)).toHaveLength(1);
    // a suite the shipped snippet does not offer: the server is pinned to it instead
    const ccm = parseSuites(['TLS_AES_128_CCM_SHA256']);
    expect(tlsServerKind(ccm)).toBe('custom');
    expect(renderConfig({ work: '/w', io: '/io', tlsPort: 1, httpPort: 2, upstreamPort: 3, suites: ccm })).toContain('ssl_conf_command Ciphersuites TLS_AES_128_CCM_SHA256;');
    expect(tlsServerKind(parseSuites(['ECDHE-ECDSA-AES128-SHA']))).toBe('custom');
  });

  it('the probe and the VM init are valid sh', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'smoke-sh-'));
    try {
      const files = {
        'probe.sh': renderProbe({ nginx: "/o'dd/nginx", work: '/w', io: '/io', size: 4096, tlsPort: 1, httpPort: 2, upstreamPort: 3, suites, extras: true, tamperBody: true, uaToken: 'abc' }),
        'probe-min.sh': renderProbe({ nginx: '/n', work: '/w', io: '/io', size: 4096, tlsPort: 1, httpPort: 2, upstreamPort: 3, suites: [suites[0]!], extras: false, uaToken: 'abc' }),
        init: renderInit(),
        'guest.env': renderGuestEnv({ scratch: '/run', runs: ['io', 'run-1/io'] }),
      };
      for (const [f, text] of Object.entries(files)) {
        writeFileSync(path.join(dir, f), text);
        const r = spawnSync('sh', ['-n', path.join(dir, f)], { encoding: 'utf8' });
        expect(r.status, `${f}: ${r.stderr}`).toBe(0);
      }
      expect(files['probe.sh']).toContain("NGINX='/o'\\''dd/nginx'");
      expect(files['probe.sh']).toContain('--tls13-ciphers');
      expect(files['probe-min.sh']).not.toContain('Accept-Encoding');
      expect(() => renderGuestEnv({ scratch: '/run', runs: ['a b'] })).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('human table and JSON', () => {
    const j = judge(input());
    const r = { ...j, mode: 'vm' as const, logs: { dir: '/l' }, env: { kernel: '6.1.0-56-amd64', kernelTls: true, nginx: '/n', debug: true, opensslKtls: 'yes' as const, durationMs: 30000, vmBootMs: 10000 } };
    const h = formatHuman(r);
    expect(h).toMatch(/kTLS smoke test: PASS/);
    expect(h).toMatch(/TLS_CHACHA20_POLY1305_SHA256\s+yes\s+\+1\s+seen\s+2x 4194304 B\s+ok\s+PASS/);
    expect(Object.keys(toJson(r))).toEqual(expect.arrayContaining(['verdict', 'reason', 'next', 'mode', 'proofs', 'ciphers']));
  });
});

describe('VM pieces', () => {
  it('the pinned kernel recipe is a valid FileArtifact from the security archive', () => {
    const a = loadKernelArtifact();
    expect(FileArtifact.safeParse(JSON.parse(readFileSync(KERNEL_RECIPE, 'utf8'))).success).toBe(true);
    expect(a).toMatchObject({
      file: 'linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb',
      sha256: 'a86e2049672f52354c4536a089203b6c82639420424d31c91cf31a181fd4d8f1',
      size: 70550672,
      distro: { pool: 'updates/main/l/linux-signed-amd64', archive: 'security' },
    });
  });

  it('QEMU: TCG, never KVM; host root read-only with multidevs=remap', () => {
    const a = qemuArgs({ vmlinuz: '/k', initrd: '/i', io: '/tmp/a,b' }).join(' ');
    expect(a).toContain('-accel tcg,thread=multi');
    expect(a).not.toMatch(/kvm/);
    expect(a).toContain('path=/,security_model=none,readonly=on,multidevs=remap');
    expect(a).toContain('path=/tmp/a,,b,');
    expect(a).toContain('-no-reboot');
  });

  it('cpio newc: the host cpio lists what we wrote', () => {
    const buf = cpioNewc([
      { type: 'dir', name: 'bin' },
      { type: 'file', name: 'bin/hello', data: Buffer.from('hi\n'), mode: 0o755 },
      { type: 'symlink', name: 'bin/sh', target: 'hello' },
      { type: 'char', name: 'dev/console', major: 5, minor: 1 },
    ]);
    expect(buf.length % 4).toBe(0);
    const r = spawnSync('cpio', ['-it', '--quiet'], { input: buf, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['bin', 'bin/hello', 'bin/sh', 'dev/console']);
  });

  it('module names and .modinfo depends', () => {
    expect(moduleName('kernel/drivers/virtio/virtio-pci.ko.xz')).toBe('virtio_pci');
    const ko = Buffer.concat([Buffer.from('\x7fELF....'), Buffer.from('license=GPL\0depends=9pnet,netfs\0intree=Y\0')]);
    expect(dependsFromModinfo(ko)).toEqual(['9pnet', 'netfs']);
    expect(dependsFromModinfo(Buffer.from('\0depends=\0'))).toEqual([]);
  });

  it('static ELF detection', () => {
    expect(isStaticElf(readFileSync('/bin/sh'))).toBe(false);
    expect(isStaticElf(Buffer.from('#!/bin/sh\n'))).toBe(false);
  });
});
