// What an nginx binary says about itself: `nginx -V` and a few strings inside it. Works on
// stripped binaries (no symbols needed).
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { run, type RunContext } from '../exec.ts';
import { UsageError } from '../errors.ts';

export interface BinaryInfo {
  path: string;
  version?: string;
  /** OpenSSL nginx was built with / runs with (differs for a dynamically linked libssl) */
  opensslBuilt?: string;
  opensslRunning?: string;
  configureArgs: string;
  /** built --with-debug: the kTLS lines are debug-level and exist only then */
  debug: boolean;
  /**
   * nginx was compiled against an OpenSSL with kTLS: its SSL_sendfile() path exists
   * ("SSL_sendfile() reported that ...") instead of the stub ("SSL_sendfile() not available"),
   * or --with-openssl-opt has enable-ktls.
   */
  opensslKtls: 'yes' | 'no' | 'unknown';
  opensslKtlsEvidence: string;
  claims: { jemalloc: boolean; pcreJit: boolean; zlibNg: boolean };
}

/** Strings only an OpenSSL with kTLS compiled in carries (ERR_raise file names, a symbol). */
const KTLS_MARKERS = ['ktls_meth.c', 'ssl/ktls.c', 'ossl_ktls_record_method'];

/**
 * Pure: interpret `nginx -V` output and the bytes of the binary (and of a dynamically linked
 * libssl, when there is one).
 */
export function interpretBinary(
  nginxPath: string,
  versionText: string,
  bytes: Buffer,
  libssl?: { path: string; bytes: Buffer },
  /** ldd ran and listed no libssl: OpenSSL is linked into the binary */
  staticLinked = false,
): BinaryInfo {
  const configureArgs = /configure arguments:(.*)/.exec(versionText)?.[1]?.trim() ?? '';
  const opensslOpt = /--with-openssl-opt=(?:'([^']*)'|"([^"]*)"|(\S+))/.exec(configureArgs);
  const opensslOptText = opensslOpt ? (opensslOpt[1] ?? opensslOpt[2] ?? opensslOpt[3] ?? '') : undefined;
  const staticOpenssl = /--with-openssl=/.test(configureArgs);
  const marker = (b: Buffer) => KTLS_MARKERS.find((m) => b.includes(m));
  // ktls_meth.c (the marker that survives stripping) exists from OpenSSL 3.2 on; for older ones
  // the absence of markers proves nothing
  const ver = /running with OpenSSL (\d+)\.(\d+)/.exec(versionText) ?? /built with OpenSSL (\d+)\.(\d+)/.exec(versionText);
  const markersConclusive = ver ? Number(ver[1]) > 3 || (Number(ver[1]) === 3 && Number(ver[2]) >= 2) : false;
  const inBinary = marker(bytes);
  const inLib = libssl ? marker(libssl.bytes) : undefined;
  let opensslKtls: BinaryInfo['opensslKtls'] = 'unknown';
  let evidence = 'could not tell from the binary';
  if (inBinary) {
    opensslKtls = 'yes';
    evidence = `the binary contains OpenSSL's kTLS code (${inBinary})`;
  } else if (inLib) {
    opensslKtls = 'yes';
    evidence = `${libssl!.path} contains OpenSSL's kTLS code (${inLib})`;
  } else if (bytes.includes('SSL_sendfile() not available')) {
    opensslKtls = 'no';
    evidence = 'nginx was compiled with the "SSL_sendfile() not available" stub (OpenSSL without kTLS)';
  } else if (opensslOptText !== undefined && !/(^|\s)enable-ktls(\s|$)/.test(opensslOptText)) {
    opensslKtls = 'no';
    evidence = 'built --with-openssl and --with-openssl-opt lacks enable-ktls (OpenSSL 3 leaves kTLS out by default)';
  } else if (staticOpenssl && opensslOptText === undefined) {
    opensslKtls = 'no';
    evidence = 'built --with-openssl without --with-openssl-opt=enable-ktls (OpenSSL 3 leaves kTLS out by default)';
  } else if (libssl && markersConclusive) {
    opensslKtls = 'no';
    evidence = `${libssl.path} has no kTLS code`;
  } else if (staticLinked && markersConclusive) {
    opensslKtls = 'no';
    evidence = `the OpenSSL linked into the binary has no kTLS code (none of ${KTLS_MARKERS.join(', ')})`;
  }
  if (opensslKtls === 'yes' && opensslOptText !== undefined && !/(^|\s)enable-ktls(\s|$)/.test(opensslOptText)) {
    evidence += '; note: --with-openssl-opt lacks enable-ktls';
  }
  return {
    path: nginxPath,
    version: /nginx version: nginx\/(\S+)/.exec(versionText)?.[1],
    opensslBuilt: /built with OpenSSL (\S+)/.exec(versionText)?.[1],
    opensslRunning: /running with OpenSSL (\S+)/.exec(versionText)?.[1],
    configureArgs,
    debug: /(^|\s)--with-debug(\s|$)/.test(configureArgs),
    opensslKtls,
    opensslKtlsEvidence: evidence,
    claims: {
      jemalloc: /jemalloc/.test(configureArgs),
      pcreJit: /--with-pcre-jit/.test(configureArgs),
      zlibNg: bytes.includes('.zlib-ng'),
    },
  };
}

export async function inspectBinary(nginxPath: string, ctx: RunContext): Promise<BinaryInfo> {
  try {
    if (!statSync(nginxPath).isFile()) throw new Error('not a file');
    accessSync(nginxPath, constants.X_OK);
  } catch {
    throw new UsageError(`nginx binary ${nginxPath} does not exist or is not executable`, 'pass the path of an nginx binary, e.g. dist/<build>/usr/sbin/nginx');
  }
  // nginx -V writes to stderr; "$0" keeps the path safe from the shell
  const text = await run(ctx, '/bin/sh', ['-c', 'exec "$0" -V 2>&1', nginxPath]);
  // a dynamically linked libssl carries the kTLS code instead of the binary
  let libssl: { path: string; bytes: Buffer } | undefined;
  let staticLinked = false;
  try {
    const ldd = await run(ctx, '/bin/sh', ['-c', 'ldd "$0" 2>/dev/null || echo "ldd failed"', nginxPath]);
    const p = /libssl\.so[^\s]*\s+=>\s+(\S+)/.exec(ldd)?.[1];
    if (p) libssl = { path: p, bytes: readFileSync(p) };
    else staticLinked = /libc\.so/.test(ldd);
  } catch {
    // no ldd: judge from the binary alone
  }
  return interpretBinary(nginxPath, text, readFileSync(nginxPath), libssl, staticLinked);
}
