// Public types of the kTLS smoke test (imported by the build's smoke stage; no listr2 here).

export type VmMode = 'auto' | 'always' | 'never';

/** A third-party module the smoke run loads and proves (from the plan's module components). */
export interface SmokeModule {
  /** component name, e.g. "ngx-brotli" */
  name: string;
  /** how people write it, e.g. "ngx_brotli" */
  displayName: string;
  link: 'static' | 'dynamic';
  /** absolute paths of its .so files, loaded with load_module (a dynamic module) */
  load: string[];
  /** directives that use it; their first words name it in nginx's error messages */
  directives: string[];
  /** the Content-Encoding it adds: proved on a dynamic and a pre-compressed response */
  encoding?: { token: 'br' | 'gzip' | 'deflate'; dynamic: string[]; static: string[]; staticSuffix?: string };
}

/**
 * A component's own proof, from its recipe's `verify.nginxT` (recipes/components/<name>.json): nginx -t
 * run with `env` must print `expect` (jemalloc: MALLOC_CONF=stats_print:true → "Begin jemalloc
 * statistics"). Its proof key is the component name with `-` as `_`.
 */
export interface ComponentProof {
  /** component name, e.g. "jemalloc" */
  name: string;
  displayName: string;
  env: Record<string, string>;
  expect: string;
  /** undefined: required when the binary's configure arguments name the component */
  required?: boolean;
}

export interface SmokeOptions {
  /** auto (default): a VM when the host kernel has no `tls` ULP; always; never. */
  vm?: VmMode;
  /** VM kernel image (bzImage) instead of the pinned Debian kernel; needs `modules`. */
  kernel?: string;
  /** lib/modules/<version> directory belonging to `kernel`. */
  modules?: string;
  /** Cipher suites to test (TLS 1.3 names start with TLS_); default: the full matrix. */
  ciphers?: string[];
  /** Size of the served random file in bytes (default 4 MiB). */
  size?: number;
  /**
   * The machine the binaries are for (default: this host's). A binary of another machine (an
   * arm64 build on x86-64) is tested in a VM of that machine, which chroots into `guestRoot`.
   */
  target?: import('../target.ts').Target;
  /** For a target other than the host's: makes (or finds) a root of the target's architecture with the probe's tools (curl, coreutils, busybox-static); the caller's, so the smoke test stays apart from packaging. */
  guestRoot?: () => Promise<string>;
  /** distfiles store for the pinned kernel package (default: <state>/distfiles). */
  distdir?: string;
  /** Where logs and raw results are kept (default: <state>/logs/smoke-<time>). */
  logDir?: string;
  signal?: AbortSignal;
  onLog?: (line: string) => void;
  /** Hard limit for the VM in seconds (default 240, plus 60 per extra batch run and 1 s per 2 MB downloaded). */
  vmTimeoutSec?: number;
  /** Also prove PCRE2 JIT and zlib-ng gzip in the same run (default true; component proofs always run). */
  extras?: boolean;
  /** Third-party nginx modules to load (dynamic) and prove (their encodings). */
  nginxModules?: SmokeModule[];
  /**
   * How the HTTP/3 request's client (nginx-tests' Test::Nginx::HTTP3, from the pinned suite) is
   * fetched: default the distfiles store only (`distdir`, offline). The request is made when the
   * binary has --with-http_v3_module, Perl has CryptX and the suite is found; else the `http3`
   * proof says why not (reported only).
   */
  http3Fetch?: import('../fetch/index.ts').FetchOptions;
  /** Components to prove by their recipes' `verify.nginxT` (default: every component of the built-in recipes that has one). */
  componentProofs?: ComponentProof[];
  /**
   * @internal Test hooks. They change what is served or configured, and the run stays real:
   * `tamperBody` flips one byte of the served file after its hash was taken (→ CORRUPT);
   * `noKtlsOption` leaves `ssl_conf_command Options KTLS` out of nginx.conf (→ BINARY_NO_KTLS);
   * `noDebugLog` logs at `info` instead of `debug`, as a binary without --with-debug would (→ NO_DEBUG_LOG);
   * `blockCrypto` (VM only) keeps the guest kernel from loading modules during this run, so the
   * tls ULP is there but no cipher can be set up (→ CIPHER_FALLBACK), as with gcm.ko/ctr.ko missing.
   */
  testHooks?: { tamperBody?: boolean; noKtlsOption?: boolean; noDebugLog?: boolean; blockCrypto?: boolean };
}

export type Verdict = 'PASS' | 'NOT_NGINX' | 'KERNEL_NO_KTLS' | 'BINARY_NO_KTLS' | 'CIPHER_FALLBACK' | 'CORRUPT' | 'NO_DEBUG_LOG';

export interface Proof {
  ok: boolean;
  detail: string;
  /** false: reported only; a failure does not fail the smoke test (e.g. jemalloc on a binary that does not claim it). */
  required?: boolean;
}

export interface CipherResult {
  protocol: string;
  suite: string;
  ktls: boolean;
  verdict: Verdict;
  detail: string;
  /** TlsTxSw + TlsTxDevice delta across this download (null: /proc/net/tls_stat not available). */
  tlsTxDelta?: number | null;
  /** `BIO_get_ktls_send(): 1` seen for this download. */
  ktlsSendLine?: boolean;
  /** SSL_sendfile calls that returned > 0, and the bytes they sent. */
  sslSendfileCalls?: number;
  sslSendfileBytes?: number;
  bodyOk?: boolean;
  /** Protocol/cipher the client reports as negotiated. */
  negotiated?: string;
}

export interface SmokeResult {
  verdict: Verdict;
  reason: string;
  next?: string;
  mode: 'native' | 'vm';
  /** true only when verdict is PASS and every required proof holds (exit code 0). */
  passed: boolean;
  proofs: Record<string, Proof>;
  ciphers: CipherResult[];
  logs: { dir: string };
  /** Facts about the run: kernel, binary, timings. */
  env: {
    kernel: string;
    kernelTls: boolean;
    nginx: string;
    nginxVersion?: string;
    openssl?: string;
    debug: boolean;
    opensslKtls: 'yes' | 'no' | 'unknown';
    /** the TLS server served: the packages' shipped configuration, or one pinned to --ciphers */
    tlsServer?: 'shipped' | 'custom';
    durationMs: number;
    /** from QEMU start until the guest mounted its results share */
    vmBootMs?: number;
    /** the whole QEMU run (boot, every probe of the batch, power-off) */
    vmMs?: number;
    /** the probe script alone (nginx -t, start, downloads, gzip, stop) */
    probeMs?: number;
    /** Modules loaded in the VM after the run. */
    modulesLoaded?: string[];
  };
}
