// Observation fixtures for the pure smoke verdict logic: shaped like what the probe writes,
// with log lines as nginx 1.26 prints them.
import type { AccessLogLine, Observations, SuiteObservation, TlsStat } from '../../src/smoke/observations.ts';
import { userAgent } from '../../src/smoke/probe.ts';
import { MATRIX, type Suite } from '../../src/smoke/suites.ts';
import type { JudgeInput } from '../../src/smoke/verdict.ts';
import type { ComponentProof } from '../../src/smoke/types.ts';

export const DATA_SHA = 'a'.repeat(64);
export const DATA_SIZE = 4194304;
export const GZ = { small: 'b'.repeat(64), large: 'c'.repeat(64) };

export const KTLS_LOG = [
  '2026/11/23 16:53:51 [debug] 141#141: *2 SSL_do_handshake: 1',
  '2026/11/23 16:53:51 [debug] 141#141: *2 SSL: TLSv1.3, cipher: "TLS_AES_128_GCM_SHA256 TLSv1.3 Kx=any Au=any Enc=AESGCM(128) Mac=AEAD"',
  '2026/11/23 16:53:51 [debug] 141#141: *2 BIO_get_ktls_send(): 1',
  '2026/11/23 16:53:51 [debug] 141#141: *2 http request line: "GET /data.bin HTTP/1.1"',
  '2026/11/23 16:53:51 [debug] 141#141: *2 SSL_sendfile: 2097152',
  '2026/11/23 16:53:51 [debug] 141#141: *2 SSL_sendfile: 2097152',
].join('\n');

export const FREEBSD_KTLS_LOG = [
  '2026/11/23 16:53:51 [debug] 7#100: *2 BIO_get_ktls_send: 1',
  '2026/11/23 16:53:51 [debug] 7#100: *2 SSL_sendfile: 4194304',
].join('\n');

export const USERSPACE_LOG = [
  '2026/11/23 16:53:51 [debug] 141#141: *2 SSL_do_handshake: 1',
  '2026/11/23 16:53:51 [debug] 141#141: *2 http request line: "GET /data.bin HTTP/1.1"',
  '2026/11/23 16:53:51 [debug] 141#141: *2 SSL to write: 16384',
  '2026/11/23 16:53:51 [debug] 141#141: *2 SSL_write: 16384',
].join('\n');

export const tls = (txSw: number, rxSw = txSw): TlsStat => ({
  TlsCurrTxSw: 0,
  TlsCurrRxSw: 0,
  TlsTxSw: txSw,
  TlsRxSw: rxSw,
  TlsTxDevice: 0,
  TlsRxDevice: 0,
  TlsDecryptError: 0,
});

export function suiteObs(suite: Suite, o: Partial<SuiteObservation> & { ktls?: boolean; counters?: boolean } = {}): SuiteObservation {
  const { ktls = true, counters = true, ...rest } = o;
  return {
    index: MATRIX.findIndex((m) => m.name === suite.name),
    protocol: suite.protocol,
    suite: suite.name,
    curlExit: 0,
    httpCode: '200',
    bodySha256: DATA_SHA,
    bodySize: DATA_SIZE,
    log: ktls ? KTLS_LOG : USERSPACE_LOG,
    tlsBefore: counters ? tls(0) : null,
    tlsAfter: counters ? tls(ktls ? 1 : 0) : null,
    negotiated: `${suite.protocol} / ${suite.name}`,
    seconds: 1.2,
    serverHeader: 'nginx/1.26.3',
    ...rest,
  };
}

export const UA_TOKEN = '0123456789abcdef';
export const NGINX_SHA = 'd'.repeat(64);
/** The test ports (TLS, HTTP, upstream) and nginx's master and worker holding them. */
export const PORTS = [8443, 8080, 8081];

/** An access log line in nginx's combined format for each download that got a response. */
export function accessLogOf(suites: SuiteObservation[]): AccessLogLine[] {
  return suites.filter((s) => s.curlExit === 0 && s.httpCode === '200').map((s) => ({ request: 'GET /data.bin HTTP/1.1', status: s.httpCode, bytes: s.bodySize, userAgent: userAgent(UA_TOKEN, s.index) }));
}

export function observations(o: Partial<Observations> = {}): Observations {
  const suites = o.suites ?? MATRIX.map((s) => suiteObs(s));
  return {
    results: {},
    kernel: '6.1.0-56-amd64',
    ulp: ['mptcp', 'tls'],
    tlsStatAvailable: true,
    dataSha256: DATA_SHA,
    dataSize: DATA_SIZE,
    suites,
    gzip: (['static', 'proxied'] as const).flatMap((kind) =>
      [1, 5, 9].flatMap((level) =>
        (['small', 'large'] as const).map((size) => ({ kind, level, size, httpCode: '200', encoding: 'gzip', decodedSha256: GZ[size] })),
      ),
    ),
    gzipExpected: GZ,
    nginxTExit: 0,
    nginxTOutput: 'nginx: the configuration file /x/nginx.conf syntax is ok\n',
    componentT: { jemalloc: 'nginx: the configuration file /x/nginx.conf syntax is ok\n___ Begin jemalloc statistics ___\n' },
    nginxStartExit: 0,
    nginxStartOutput: '',
    nginxUp: true,
    reBody: 're:forge',
    reNomatchCode: '404',
    errorLog: `${KTLS_LOG}\n`,
    nginxId: '65024:1234',
    testPorts: PORTS,
    listenersSeen: true,
    listeners: PORTS.flatMap((port) => [100, 101].map((pid) => ({ port, inode: String(port * 10 + pid), pid }))),
    processes: Object.fromEntries([100, 101].map((pid) => [pid, { pid, exe: '/dist/usr/sbin/nginx', devIno: '65024:1234', sha256: 'same', mapped: ['/dist/usr/sbin/nginx', '/usr/lib/x86_64-linux-gnu/libc.so.6'] }])),
    accessLog: accessLogOf(suites),
    uaToken: UA_TOKEN,
    complete: true,
    ...o,
  };
}

/** As recipes/components/jemalloc.json's verify.nginxT says. */
export const JEMALLOC: ComponentProof = { name: 'jemalloc', displayName: 'jemalloc', env: { MALLOC_CONF: 'stats_print:true' }, expect: 'Begin jemalloc statistics' };

export const KTLS_BINARY: JudgeInput['binary'] = {
  debug: true,
  opensslKtls: 'yes',
  opensslKtlsEvidence: "the binary contains OpenSSL's kTLS code (ktls_meth.c)",
  claims: { pcreJit: true, zlibNg: true },
  sha256: NGINX_SHA,
  notNginx: [],
  serverHeaders: ['nginx/1.26.3', 'nginx'],
};

export function input(o: Partial<JudgeInput> = {}): JudgeInput {
  return {
    mode: 'vm',
    obs: observations(),
    binary: KTLS_BINARY,
    components: [{ ...JEMALLOC, required: true }],
    config: { ktlsOption: true, debugLog: true },
    suites: MATRIX,
    logDir: '/logs/smoke-x',
    ...o,
  };
}
