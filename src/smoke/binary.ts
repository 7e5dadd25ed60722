// What an nginx binary says about itself: `nginx -V`, and whether that is nginx at all: an ELF
// whose -V lines are string literals of its own (nginx prints compiled-in strings), the Server
// header it can send, and the kTLS code of the TLS library it really links (symbols, or OpenSSL's
// source file names among its data: never a substring anywhere in the file). Works on stripped
// binaries (strings without symbols).
import { accessSync, appendFileSync, constants, realpathSync, statSync } from 'node:fs';
import { execa } from 'execa';
import { run, type RunContext } from '../exec.ts';
import { ExitCode, ForgeError, UsageError } from '../errors.ts';
import { readElf, type ElfImage } from './elf.ts';
import { isCross, runnerFor, type Target } from '../target.ts';
import { configureValue, hasConfigureArg, parseNginxV, tlsMajorMinor, type NginxV } from '../nginxv.ts';

export interface BinaryInfo {
  path: string;
  /** sha256 of the file: the process listening on the test ports must run exactly this */
  sha256: string;
  version?: string;
  /** OpenSSL nginx was built with / runs with (differs for a dynamically linked libssl) */
  opensslBuilt?: string;
  opensslRunning?: string;
  configureArgs: string;
  /** built --with-debug: the kTLS lines are debug-level and exist only then */
  debug: boolean;
  /**
   * The TLS library nginx really uses has kTLS compiled in: its ktls_* functions, OpenSSL's kTLS
   * source file names among its strings, or (a shared libssl) an SSL_sendfile that calls
   * sendfile(); or --with-openssl-opt lacks enable-ktls, or nginx has the
   * "SSL_sendfile() not available" stub.
   */
  opensslKtls: 'yes' | 'no' | 'unknown';
  opensslKtlsEvidence: string;
  claims: { pcreJit: boolean; zlibNg: boolean };
  /** why this is not nginx (empty: an ELF whose `-V` lines are strings of its own) */
  notNginx: string[];
  /** the Server header values this binary can send (its "Server: …\r\n" literals) */
  serverHeaders: string[];
  /** the shared libssl it was judged with (undefined: OpenSSL linked in) */
  libssl?: string;
  /** what `-V` printed ('' when it was not run: not an ELF) */
  versionText: string;
}

/** OpenSSL's kTLS source files: their names (OPENSSL_FILE in ERR_raise) are strings of a libssl with kTLS. */
const KTLS_FILES = ['ktls_meth.c', 'ssl/ktls.c'];
/** OpenSSL's kTLS functions and its kTLS record method. */
const KTLS_SYMBOL = /^(ossl_)?ktls_/;

/** Does this ELF hold OpenSSL's kTLS code? The evidence, or undefined. */
export function ktlsCode(img: ElfImage, shared: boolean): string | undefined {
  const syms = img.symbols?.filter((n) => KTLS_SYMBOL.test(n)) ?? [];
  if (syms.length) return `${syms.length} kTLS symbol(s): ${syms.slice(0, 3).join(', ')}${syms.length > 3 ? ', …' : ''}`;
  const file = KTLS_FILES.find((f) => img.data.includes(`${f}\0`));
  if (file) return `OpenSSL's kTLS source ${file} named among its strings`;
  // nginx itself calls sendfile(); a libssl only does from SSL_sendfile with kTLS compiled in
  if (shared && img.imports.some((n) => n === 'sendfile' || n === 'sendfile64')) return 'its SSL_sendfile calls sendfile()';
  return undefined;
}

/** Is this nginx? What -V printed must be strings compiled into the binary, as nginx's are. */
export function notNginx(img: ElfImage, v: NginxV): string[] {
  if (!img.elf) return [`it is not an ELF executable (it starts with ${JSON.stringify(img.head ?? '')})`];
  if (img.problem) return [img.problem];
  const out: string[] = [];
  const first = v.text.split('\n').find((l) => l.trim())?.trim() ?? '';
  for (const [line, what] of [
    [v.product?.startsWith('nginx/') ? v.versionLine : undefined, '"nginx version: nginx/…"'],
    [v.configureLineFull, '"configure arguments:"'],
  ] as const) {
    if (line === undefined) out.push(`\`-V\` printed no ${what} line (${first ? `it printed ${JSON.stringify(first.slice(0, 80))}` : 'it printed nothing'})`);
    else if (!img.data.includes(`${line}\n\0`)) out.push(`\`-V\` printed ${JSON.stringify(line.length > 80 ? `${line.slice(0, 77)}...` : line)}, but the binary holds no such string: the text does not come from nginx's code`);
  }
  return out;
}

/** "Server: nginx/1.26.3\r\n" and "Server: nginx\r\n" literals: the header values it can send. */
export function serverHeaders(img: ElfImage): string[] {
  const text = img.data.toString('latin1');
  return [...new Set([...text.matchAll(/Server: ([\x20-\x7e]+)\r\n\0/g)].map((m) => m[1]!))];
}

/**
 * Pure: interpret `nginx -V` output and the ELF image of the binary (and of the shared libssl
 * it loads, when there is one).
 */
export function interpretBinary(
  nginxPath: string,
  versionText: string,
  image: ElfImage,
  libssl?: ElfImage,
  /** ldd ran and listed no libssl: OpenSSL is linked into the binary */
  staticLinked = false,
): BinaryInfo {
  const v = parseNginxV(versionText);
  const configureArgs = v.configureLine;
  const opensslOptText = configureValue(v, '--with-openssl-opt');
  const staticOpenssl = hasConfigureArg(v, '--with-openssl');
  // ktls_meth.c (the marker that survives stripping) exists from OpenSSL 3.2 on; for older ones
  // the absence of markers proves nothing
  const ver = v.tls?.library === 'OpenSSL' ? tlsMajorMinor(v) : undefined;
  const markersConclusive = ver ? ver[0] > 3 || (ver[0] === 3 && ver[1] >= 2) : false;
  const inBinary = image.elf ? ktlsCode(image, false) : undefined;
  const inLib = libssl?.elf ? ktlsCode(libssl, true) : undefined;
  let opensslKtls: BinaryInfo['opensslKtls'] = 'unknown';
  let evidence = 'could not tell from the binary';
  if (inBinary) {
    opensslKtls = 'yes';
    evidence = `the OpenSSL linked into the binary has kTLS code (${inBinary})`;
  } else if (inLib) {
    opensslKtls = 'yes';
    evidence = `${libssl!.path} has kTLS code (${inLib})`;
  } else if (image.data.includes('SSL_sendfile() not available')) {
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
    evidence = `the OpenSSL linked into the binary has no kTLS code (no ktls_* symbol, none of ${KTLS_FILES.join(', ')} among its strings)`;
  }
  if (opensslKtls === 'yes' && opensslOptText !== undefined && !/(^|\s)enable-ktls(\s|$)/.test(opensslOptText)) {
    evidence += '; note: --with-openssl-opt lacks enable-ktls';
  }
  return {
    path: nginxPath,
    sha256: image.sha256,
    version: v.product?.startsWith('nginx/') ? v.version : undefined,
    opensslBuilt: v.tls?.library === 'OpenSSL' ? v.tls.built : undefined,
    opensslRunning: v.tls?.library === 'OpenSSL' ? v.tls.running : undefined,
    configureArgs,
    debug: hasConfigureArg(v, '--with-debug'),
    opensslKtls,
    opensslKtlsEvidence: evidence,
    claims: {
      pcreJit: hasConfigureArg(v, '--with-pcre-jit'),
      zlibNg: image.data.includes('.zlib-ng'),
    },
    notNginx: notNginx(image, v),
    serverHeaders: serverHeaders(image),
    libssl: libssl?.path,
    versionText,
  };
}

/**
 * `target`: the machine the binary is for (default this one). A binary of another machine is
 * read the same way and its `-V` run under qemu-user; OpenSSL's being linked in is then read
 * from its dynamic section (ldd cannot run it).
 */
export async function inspectBinary(nginxPath: string, ctx: RunContext, target?: Target): Promise<BinaryInfo> {
  const cross = target !== undefined && isCross(target);
  try {
    if (!statSync(nginxPath).isFile()) throw new Error('not a file');
    accessSync(nginxPath, constants.X_OK);
  } catch {
    throw new UsageError(`nginx binary ${nginxPath} does not exist or is not executable`, 'pass the path of an nginx binary, e.g. dist/<build>/usr/sbin/nginx');
  }
  const image = await readElf(nginxPath, target?.nodeArch);
  // not an ELF (or one that cannot run here): not nginx, and nothing of it is run
  if (!image.elf || image.problem) return interpretBinary(nginxPath, '', image);
  // nginx -V writes to stderr and exits 0; anything else is not nginx's -V
  const runner = target ? runnerFor(target, nginxPath) : { cmd: nginxPath, args: [] };
  const v = await execa(runner.cmd, [...runner.args, '-V'], { reject: false, all: true, timeout: 30_000, cancelSignal: ctx.signal, stdin: 'ignore' });
  if (ctx.signal?.aborted) throw new ForgeError('smoke test interrupted', { exitCode: ExitCode.interrupted });
  const text = String(v.all ?? '');
  appendFileSync(ctx.log, `\n$ ${nginxPath} -V\n${text}\n(exit ${v.exitCode ?? v.signal ?? (v.timedOut ? 'timed out' : '?')})\n`);
  if (v.exitCode !== 0) {
    const info = interpretBinary(nginxPath, '', image);
    const first = text.split('\n').find((l) => l.trim())?.trim();
    const how = v.timedOut ? 'did not finish within 30 s' : v.exitCode === undefined ? `was killed (${v.signal ?? 'could not be run'})` : `exited ${v.exitCode}`;
    return { ...info, versionText: text, notNginx: [`\`-V\` ${how}${first ? ` (${JSON.stringify(first.slice(0, 80))})` : ''}; nginx -V prints its version and exits 0`] };
  }
  // a dynamically linked libssl carries the kTLS code instead of the binary
  let libssl: ElfImage | undefined;
  let staticLinked = false;
  if (cross) {
    // the target's libssl is not on this host: judged from the binary, as a linked-in OpenSSL
    const d = await run(ctx, 'readelf', ['-d', '-W', nginxPath]).catch(() => '');
    staticLinked = /Shared library: \[libc\.so/.test(d) && !/Shared library: \[libssl/.test(d);
    return interpretBinary(nginxPath, text, image, undefined, staticLinked);
  }
  try {
    const ldd = await run(ctx, '/bin/sh', ['-c', 'ldd "$0" 2>/dev/null || echo "ldd failed"', nginxPath]);
    const p = /libssl\.so[^\s]*\s+=>\s+(\S+)/.exec(ldd)?.[1];
    if (p) libssl = await readElf(p);
    else staticLinked = /libc\.so/.test(ldd);
  } catch {
    // no ldd: judge from the binary alone
  }
  return interpretBinary(nginxPath, text, image, libssl, staticLinked);
}

const real = (p: string) => {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
};

/**
 * The binary judged again with the libssl the running nginx really mapped (/proc/<pid>/maps of
 * the listener), when that is another than the one ldd named, or ldd named none.
 */
export async function withMappedLibssl(b: BinaryInfo, mapped: string | undefined): Promise<BinaryInfo> {
  if (!mapped || (b.libssl && real(mapped) === real(b.libssl))) return b;
  const again = interpretBinary(b.path, b.versionText, await readElf(b.path), await readElf(mapped));
  return { ...again, opensslKtlsEvidence: `${again.opensslKtlsEvidence} (the libssl the running nginx mapped${b.libssl ? `, not ${b.libssl} that ldd named` : ''})` };
}
